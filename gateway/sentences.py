"""One pattern per sentence a service writes (its timeline summaries and reasons, its explanations of
rent, classification and warnings), and the small helpers they share with `phrases`.

Each entry reads one of a service's f-strings back into its parts (figures, dates, codes) and says it
again in Chinese or English; `phrases.say` tries them in order (the first that matches the whole
sentence wins). Where a sentence is written: the comment above each group names the service module.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.readable import Reader

Handler = Callable[[re.Match[str], "Reader"], str]

DATE = r"\d{4}-\d{2}-\d{2}"
MONTH = r"\d{4}-\d{2}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
AMOUNT = r"(?:\d+(?:\.\d+)?|\*\*\*)"

VIOLATIONS = {
    "subletting the flat": "sublet",
    "lending the flat to others": "lend",
    "leaving the flat empty": "vacant",
    "concealing income": "concealed_income",
    "concealing property or financial assets": "concealed_assets",
    "staying in the flat after the exit date": "overstaying",
}
"""penalties' VIOLATION_WORDS, read back into their codes."""

CLASSES = {
    "special hardship: transitional housing first": "special_hardship",
    "able to buy: purchase guidance, affordable-for-sale priority, loan-rate discount": "purchase",
    "market-rental guidance": "market_rental",
}
"""resettlement's CLASS_WORDS, read back into their codes."""

NOTICE_TITLES = {
    "Your transition period": "您的过渡期安排",
    "Your household must leave the flat": "您家须退出所住房屋",
    "Your transition period is withdrawn": "您的过渡期安排已撤销",
    "Your application to leave voluntarily": "您的自愿退出申请",
    "Your voluntary-exit subsidy": "您的自愿退出补贴",
    "Rent surcharge": "加收租金",
    "Entry in the credit list": "纳入信用记录",
    "Repossession order": "收回住房决定",
    "Sanction lifted": "处罚已解除",
    "Sanction withdrawn": "处罚已撤销",
    "Notice of repossession": "收回住房通知",
    "Your tenancy has ended": "您的租赁已终止",
    "Your appeal was received": "已收到您的申诉",
    "Decision on your appeal": "申诉决定",
    "Rent increases suspended during your appeal": "申诉期间暂停租金上调",
    "Your appeal was decided: rent increases apply again": "申诉已决定：恢复租金上调",
}


def _pick(r: Reader, zh: str, en: str) -> str:
    return en if r.lang == "en" else zh


def _words(r: Reader, codes: str) -> str:
    """A comma-separated list of codes as words."""
    return ("、" if r.lang == "zh" else ", ").join(r.word(c.strip()) for c in codes.split(",") if c.strip())


def _sid(value: str) -> str:
    return value[:8]


def _members(n: str, r: Reader) -> str:
    return f"{n} 人" if r.lang == "zh" else f"{n} member{'' if n == '1' else 's'}"


def _kind_code(text: str) -> str:
    """'Financial assets' (a fact kind as a timeline writes it) → financial_assets."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _yes(r: Reader, text: str) -> str:
    return r.yes_no(text == "yes")


def _condition(text: str, r: Reader) -> str:
    """monitoring's CONDITIONS word ('Vacancy', 'Sublet-or-lend') as the console's."""
    return r.word("vacancy" if text == "Vacancy" else "sublet_or_lend")


# -- the patterns ---------------------------------------


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


PATTERNS: list[tuple[re.Pattern[str], Handler]] = [
    # eligibility (services/eligibility/timeline.py, intake.py)
    (
        _p(
            r"Household registered at (?P<estate>.+), building (?P<b>.+), unit (?P<u>.+) "
            r"\((?P<n>\d+) members\)"
        ),
        lambda m, r: _pick(
            r,
            f"住户登记：{m['estate']} {m['b']} 栋 {m['u']} 室（{_members(m['n'], r)}）",
            f"Household registered at {m['estate']}, building {m['b']}, unit {m['u']} "
            f"({_members(m['n'], r)})",
        ),
    ),
    (
        _p(r"Household registered on a rent subsidy(?: in (?P<d>.+?))? \((?P<n>\d+) members\)"),
        lambda m, r: _pick(
            r,
            f"住户登记：领取租赁补贴{'（' + m['d'] + '）' if m['d'] else ''}，{_members(m['n'], r)}",
            f"Household registered on a rent subsidy{' in ' + m['d'] if m['d'] else ''} "
            f"({_members(m['n'], r)})",
        ),
    ),
    (
        _p(rf"(?P<a>{AMOUNT}) yuan a month from (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"每月 {r.money(m['a'])}，自 {r.day(m['d'])} 起",
            f"{r.money(m['a'])} a month from {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Members changed \((?P<n>\d+) now\)"),
        lambda m, r: _pick(
            r, f"家庭成员变更（现 {m['n']} 人）", f"Members changed ({_members(m['n'], r)} now)"
        ),
    ),
    (
        _p(r"(?P<kind>[A-Z][a-z ]+) fact recorded from (?P<dep>[a-z_]+)"),
        lambda m, r: _pick(
            r,
            f"收到{r.word(m['dep'])}报送的{r.word(_kind_code(m['kind']))}数据",
            f"{r.word(_kind_code(m['kind']))} fact recorded from {r.word(m['dep'])}",
        ),
    ),
    (
        _p(rf"record (?P<ref>\S+) describing (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"文号 {m['ref']}，数据所属日期 {r.day(m['d'])}",
            f"record {m['ref']} describing {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Automated review: (?P<o>\w+) \(was (?P<prev>\w+)\)"),
        lambda m, r: _pick(
            r,
            f"自动初审：{r.word(m['o'])}（此前：{r.word(m['prev'])}）",
            f"Automated review: {r.word(m['o'])} (was: {r.word(m['prev']).lower()})",
        ),
    ),
    (
        _p(r"exit conditions met: (?P<rules>.+)"),
        lambda m, r: _pick(
            r, f"达到退出条件：{_words(r, m['rules'])}", f"exit conditions met: {_words(r, m['rules'])}"
        ),
    ),
    (
        _p(r"automated review: exit condition met \((?P<rules>.+)\)"),
        lambda m, r: _pick(
            r,
            f"自动初审：达到退出条件（{_words(r, m['rules'])}）",
            f"automated review: exit condition met ({_words(r, m['rules'])})",
        ),
    ),
    (
        _p(r"Review case closed: (?P<o>\w+)"),
        lambda m, r: _pick(r, f"复核案件结案：{r.word(m['o'])}", f"Review case closed: {r.word(m['o'])}"),
    ),
    (
        _p(r"Occupancy warning (?P<step>\w+) \(monitoring\)"),
        lambda m, r: _pick(
            r,
            f"入住预警：{r.word(m['step'])}（动态监管）",
            f"Occupancy warning {r.word(m['step']).lower()} (monitoring)",
        ),
    ),
    (
        _p(r"Cross-region answer from (?P<city>CN-[A-Z]{2}): (?P<res>\w+)"),
        lambda m, r: _pick(
            r,
            f"{r.word(m['city'])}答复：{r.word(m['res'])}",
            f"Answer from {r.word(m['city'])}: {r.word(m['res'])}",
        ),
    ),
    (
        _p(r"Reviewer proposed (?P<o>\w+) \((?P<code>.*)\)"),
        lambda m, r: _pick(
            r,
            f"审核员提出：{r.word(m['o'])}（理由代码 {m['code']}）",
            f"Reviewer proposed: {r.word(m['o'])} (reason code {m['code']})",
        ),
    ),
    (
        _p(r"Supervisor approved: (?P<o>\w+)(?P<appeal> \(on appeal\))?"),
        lambda m, r: _pick(
            r,
            f"主管批准：{r.word(m['o'])}{'（申诉后）' if m['appeal'] else ''}",
            f"Supervisor approved: {r.word(m['o'])}{' (on appeal)' if m['appeal'] else ''}",
        ),
    ),
    (
        _p(rf"Third-party assessment requested from (?P<who>\S+), due (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"委托 {m['who']} 进行第三方评估，期限 {r.day(m['d'])}",
            f"Third-party assessment requested from {m['who']}, due {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Assessment report received, recommending (?P<o>\w+)"),
        lambda m, r: _pick(
            r,
            f"收到评估报告，建议：{r.word(m['o'])}",
            f"Assessment report received, recommending: {r.word(m['o'])}",
        ),
    ),
    # penalties (services/penalties/api.py `describe`, application.py)
    (
        _p(rf"Tenancy recorded: base rent (?P<a>{AMOUNT}) yuan"),
        lambda m, r: _pick(
            r, f"登记租约：基准租金 {r.money(m['a'])}", f"Tenancy recorded: base rent {r.money(m['a'])}"
        ),
    ),
    (
        _p(r"Exit decision received: route (?P<route>\w+)"),
        lambda m, r: _pick(
            r, f"收到退出决定：{r.word(m['route'])}", f"Exit decision received: {r.word(m['route'])}"
        ),
    ),
    (
        _p(r"Confirmed violation received: (?P<v>\w+)"),
        lambda m, r: _pick(
            r, f"收到确认的违规：{r.word(m['v'])}", f"Confirmed violation received: {r.word(m['v'])}"
        ),
    ),
    (
        _p(rf"(?P<route>Transition|Exit) plan started: (?P<n>\d+) months, exit due (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"开始{'过渡期' if m['route'] == 'Transition' else '限期退出'}计划："
            f"{m['n']} 个月，应于 {r.day(m['d'])} 前退出",
            f"{m['route']} plan started: {m['n']} months, exit due on {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Plan closed: (?P<how>\w+)"),
        lambda m, r: _pick(r, f"计划结束：{r.word(m['how'])}", f"Plan closed: {r.word(m['how'])}"),
    ),
    (
        _p(
            rf"Transition rent: \+(?P<p>[\d.]+ %) a month \((?P<rule>\w+) rule\) "
            rf"for (?P<n>\d+) months on the "
            rf"base rent of (?P<a>{AMOUNT}) yuan, under exit decision (?P<id>{UUID})\."
        ),
        lambda m, r: _pick(
            r,
            f"过渡期租金：在基准租金 {r.money(m['a'])} 上每月递增 {m['p']}"
            f"（{r.word(m['rule'])}），共 {m['n']} 个月，"
            f"依据退出决定 {_sid(m['id'])}",
            f"Transition rent: +{m['p']} a month ({r.word(m['rule'])}) for {m['n']} months "
            "on the base rent of "
            f"{r.money(m['a'])}, under exit decision {_sid(m['id'])}",
        ),
    ),
    (
        _p(
            rf"Rent surcharge of (?P<p>[\d.]+ %) of the base rent \((?P<a>{AMOUNT}) yuan a month\) from "
            rf"(?P<m>{MONTH}) for (?P<why>.+)\."
        ),
        lambda m, r: _pick(
            r,
            f"加收租金：基准租金的 {m['p']}（每月 {r.money(m['a'])}），自 {r.month(m['m'])} 起，"
            f"原因：{r.word(VIOLATIONS.get(m['why'], m['why']))}",
            f"Rent surcharge of {m['p']} of the base rent ({r.money(m['a'])} a month) from {r.month(m['m'])} "
            f"for {m['why']}",
        ),
    ),
    (
        _p(rf"Rent adjustment ends after (?P<m>{MONTH})"),
        lambda m, r: _pick(
            r, f"租金调整于 {r.month(m['m'])} 后结束", f"Rent adjustment ends after {r.month(m['m'])}"
        ),
    ),
    (
        _p(r"Appeal closed \((?P<o>\w+)\): suspension released"),
        lambda m, r: _pick(
            r,
            f"申诉已决定（{r.word(m['o'])}）：恢复计收",
            f"Appeal closed ({r.word(m['o'])}): suspension released",
        ),
    ),
    (
        _p(r"Flat handed back \((?P<how>\w+)\)"),
        lambda m, r: _pick(r, f"交还住房（{r.word(m['how'])}）", f"Flat handed back ({r.word(m['how'])})"),
    ),
    (
        _p(rf"Voluntary-exit subsidy awarded: (?P<a>{AMOUNT}) yuan"),
        lambda m, r: _pick(
            r, f"发放自愿退出补贴 {r.money(m['a'])}", f"Voluntary-exit subsidy awarded: {r.money(m['a'])}"
        ),
    ),
    (
        _p(r"Sanction imposed: (?P<k>\w+) for (?P<v>\w+)"),
        lambda m, r: _pick(
            r,
            f"作出处罚：{r.word(m['k'])}（{r.word(m['v'])}）",
            f"Sanction imposed: {r.word(m['k'])} for {r.word(m['v']).lower()}",
        ),
    ),
    (
        _p(r"Sanction (?P<s>[a-z_]+)"),
        lambda m, r: _pick(r, f"处罚{r.word(m['s'])}", f"Sanction {r.word(m['s']).lower()}"),
    ),
    (
        _p(r"Appeal (?P<o>upheld|dismissed)"),
        lambda m, r: _pick(r, f"申诉决定：{r.word(m['o'])}", f"Appeal {r.word(m['o']).lower()}"),
    ),
    (
        _p(r"Notice issued: (?P<t>.+)"),
        lambda m, r: _pick(r, f"发出通知：{NOTICE_TITLES.get(m['t'], m['t'])}", f"Notice issued: {m['t']}"),
    ),
    (
        _p(r"Notice delivered \((?P<ch>\w+)\)"),
        lambda m, r: _pick(r, f"通知已送达（{m['ch']}）", f"Notice delivered ({m['ch']})"),
    ),
    (
        _p(rf"(?P<why>[a-z ]+) \((?P<kind>warning|review|transition) (?P<id>{UUID})\)"),
        lambda m, r: _pick(
            r,
            f"{r.word(VIOLATIONS.get(m['why'], m['why']))}（依据：{r.word(m['kind'])} {_sid(m['id'])}）",
            f"{m['why'].capitalize()} ({r.word(m['kind']).lower()} {_sid(m['id'])})",
        ),
    ),
    (
        _p(rf"(?P<kind>warning|review|transition|cause|appeal) (?P<id>{UUID})(?P<lodged> lodged)?"),
        lambda m, r: _pick(
            r,
            r.word(m["kind"]) + f" {_sid(m['id'])}" + ("（已提出）" if m["lodged"] else ""),
            f"{r.word(m['kind'])} {_sid(m['id'])}{' lodged' if m['lodged'] else ''}",
        ),
    ),
    # resettlement (services/resettlement/translate.py, domain.py)
    (
        _p(rf"Subsidised flat handed back on (?P<d>{DATE}) \((?P<how>\w+)\)"),
        lambda m, r: _pick(
            r,
            f"{r.day(m['d'])} 交还保障房（{r.word(m['how'])}）",
            f"Subsidised flat handed back on {r.day(m['d'])} ({r.word(m['how'])})",
        ),
    ),
    (
        _p(r"Classified for placement: (?P<what>.+)"),
        lambda m, r: _pick(
            r,
            f"安置分类：{r.word(CLASSES.get(m['what'], m['what']))}",
            f"Classified for placement: {r.word(CLASSES.get(m['what'], m['what']))}",
        ),
    ),
    (
        _p(r"Housing provident fund loan-rate discount of (?P<pp>[\d.]+) percentage points granted"),
        lambda m, r: _pick(
            r,
            f"给予住房公积金贷款利率优惠 {m['pp']} 个百分点",
            f"Housing provident fund loan-rate discount of {m['pp']} percentage points granted",
        ),
    ),
    (
        _p(rf"Offered (?P<pool>\w+) unit (?P<unit>.+?), to accept by (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"配租{r.word(m['pool'])}房源 {m['unit']}，须于 {r.day(m['d'])} 前答复",
            f"Offered a unit of {r.word(m['pool']).lower()}: {m['unit']}, to accept by {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Placement case closed: (?P<o>\w+)"),
        lambda m, r: _pick(r, f"安置案件结案：{r.word(m['o'])}", f"Placement case closed: {r.word(m['o'])}"),
    ),
    (
        _p(r"low income \(exit decision\): (?P<a>yes|no)"),
        lambda m, r: _pick(
            r, f"低收入（退出决定）：{_yes(r, m['a'])}", f"low income (exit decision): {_yes(r, m['a'])}"
        ),
    ),
    (
        _p(rf"member aged (?P<age>\d+) or more on (?P<d>{DATE}): (?P<a>yes|no) \((?P<n>\d+) of (?P<c>\d+)\)"),
        lambda m, r: _pick(
            r,
            f"{r.day(m['d'])} 有 {m['age']} 岁及以上成员：{_yes(r, m['a'])}（{m['c']} 人中 {m['n']} 人）",
            f"member aged {m['age']} or more on {r.day(m['d'])}: {_yes(r, m['a'])} ({m['n']} of {m['c']})",
        ),
    ),
    (
        _p(r"member disabled: (?P<a>yes|no) \((?P<n>\d+) of (?P<c>\d+)\)"),
        lambda m, r: _pick(
            r,
            f"有残疾成员：{_yes(r, m['a'])}（{m['c']} 人中 {m['n']} 人）",
            f"member disabled: {_yes(r, m['a'])} ({m['n']} of {m['c']})",
        ),
    ),
    (
        _p(r"wishes to buy \(exit decision\): (?P<a>yes|no)"),
        lambda m, r: _pick(
            r,
            f"有购房意愿（退出决定）：{_yes(r, m['a'])}",
            f"wishes to buy (exit decision): {_yes(r, m['a'])}",
        ),
    ),
    (
        _p(
            r"able to buy: purchase guidance, priority on affordable-for-sale units, loan-rate discount of "
            r"(?P<pp>[\d.]+) percentage points"
        ),
        lambda m, r: _pick(
            r,
            f"有购房能力：提供购房引导，优先购买共有产权住房，贷款利率优惠 {m['pp']} 个百分点",
            f"able to buy: purchase guidance, priority on affordable-for-sale units, loan-rate discount of "
            f"{m['pp']} percentage points",
        ),
    ),
    (
        _p(rf"policy in force since (?P<d>{DATE}): (?P<ref>.+)"),
        lambda m, r: _pick(
            r,
            f"自 {r.day(m['d'])} 起施行的政策：{m['ref']}",
            f"policy in force since {r.day(m['d'])}: {m['ref']}",
        ),
    ),
    (
        _p(r"(?P<n>\d+) earlier offer\(s\) declined or expired"),
        lambda m, r: _pick(
            r, f"此前放弃或逾期 {m['n']} 次", f"{m['n']} earlier offer(s) declined or expired"
        ),
    ),
    (
        _p(r"(?P<no>no )?elderly or disabled member"),
        lambda m, r: _pick(r, "无老年或残疾成员" if m["no"] else "有老年或残疾成员", m[0]),
    ),
    (
        _p(r"(?P<no>not )?low income"),
        lambda m, r: _pick(r, "非低收入" if m["no"] else "低收入", m[0]),
    ),
    (
        _p(rf"decided (?P<d>{DATE})"),
        lambda m, r: _pick(r, f"{r.day(m['d'])} 决定", f"decided on {r.day(m['d'])}"),
    ),
    # training (services/training/api.py `describe`)
    (
        _p(r"exit decided \((?P<route>\w+)\): (?P<n>\d+) member\(s\) of working age referred to training"),
        lambda m, r: _pick(
            r,
            f"已决定退出（{r.word(m['route'])}）：{m['n']} 名劳动年龄成员转介培训",
            f"Exit decided ({r.word(m['route'])}): {m['n']} member(s) of working age referred to training",
        ),
    ),
    (
        _p(r"exit overturned on appeal: (?P<n>\d+) open referral\(s\) withdrawn"),
        lambda m, r: _pick(
            r,
            f"申诉改判退出决定：撤销 {m['n']} 个未完成的转介",
            f"Exit overturned on appeal: {m['n']} open referral(s) withdrawn",
        ),
    ),
    (
        _p(
            r"member referred to training(?P<again> again)? "
            r"(?P<how>automatically on the exit decision|by an operator)"
        ),
        lambda m, r: _pick(
            r,
            ("成员再次转介培训" if m["again"] else "成员转介培训")
            + ("（退出决定后自动转介）" if m["how"].startswith("auto") else "（经办人员转介）"),
            m[0][:1].upper() + m[0][1:],
        ),
    ),
    (
        _p(r"enrolled on a course(?P<p> \(from the waiting list\))?"),
        lambda m, r: _pick(r, "报名课程" + ("（由候补转入）" if m["p"] else ""), m[0][:1].upper() + m[0][1:]),
    ),
    (
        _p(r"course full: waiting list, position (?P<n>\d+)"),
        lambda m, r: _pick(
            r, f"课程已满：候补第 {m['n']} 位", f"Course full: waiting list, position {m['n']}"
        ),
    ),
    (
        _p(r"course (?P<o>completed|not completed): (?P<a>\d+) of (?P<h>\d+) sessions attended"),
        lambda m, r: _pick(
            r,
            f"课程{'结业' if m['o'] == 'completed' else '未结业'}：出勤 {m['a']}/{m['h']} 次",
            f"Course {m['o']}: {m['a']} of {m['h']} sessions attended",
        ),
    ),
    (
        _p(rf"employment from (?P<d>{DATE}) verified by (?P<v>\w+)"),
        lambda m, r: _pick(
            r,
            f"自 {r.day(m['d'])} 起就业，核实来源：{r.word(m['v'])}",
            f"Employment from {r.day(m['d'])}, verified by: {r.word(m['v']).lower()}",
        ),
    ),
    (
        _p(rf"stable work: employed (?P<n>\d+) months on (?P<d>{DATE})"),
        lambda m, r: _pick(
            r,
            f"稳定就业：截至 {r.day(m['d'])} 已就业 {m['n']} 个月",
            f"Stable work: employed {m['n']} months on {r.day(m['d'])}",
        ),
    ),
    (
        _p(rf"exit decision of review (?P<id>{UUID}) \((?P<route>\w+)\)"),
        lambda m, r: _pick(
            r,
            f"复核 {_sid(m['id'])} 的退出决定（{r.word(m['route'])}）",
            f"exit decision of review {_sid(m['id'])} ({r.word(m['route'])})",
        ),
    ),
    # monitoring (services/monitoring/timeline.py)
    (
        _p(
            rf"Monitoring began: the household holds (?P<u>\S+) with (?P<n>\d+) member\(s\) "
            rf"since (?P<d>{DATE})"
        ),
        lambda m, r: _pick(
            r,
            f"开始监管：住户自 {r.day(m['d'])} 起居住 {m['u']}，{m['n']} 名成员",
            f"Monitoring began: the household holds {m['u']} with {_members(m['n'], r)} "
            f"since {r.day(m['d'])}",
        ),
    ),
    (
        _p(r"Members changed: (?P<n>\d+) member\(s\) now expected at the flat"),
        lambda m, r: _pick(
            r,
            f"家庭成员变更：现应有 {m['n']} 人居住",
            f"Members changed: {_members(m['n'], r)} now expected at the flat",
        ),
    ),
    (
        _p(r"(?P<what>Vacancy|Sublet-or-lend) warning raised for (?P<u>\S+) \(risk (?P<risk>[\d.]+)\)"),
        lambda m, r: _pick(
            r,
            f"{_condition(m['what'], r)}预警：{m['u']}（风险 {m['risk']}）",
            f"{_condition(m['what'], r)}: warning raised for {m['u']} (risk {m['risk']})",
        ),
    ),
    (
        _p(r"Occupancy warning confirmed on site: (?P<f>\w+)"),
        lambda m, r: _pick(
            r,
            f"现场确认违规：{r.word(m['f'])}",
            f"Occupancy warning confirmed on site: {r.word(m['f']).lower()}",
        ),
    ),
    (
        _p(r"Occupancy warning withdrawn \(was (?P<s>\w+)\)"),
        lambda m, r: _pick(
            r,
            f"入住预警撤回（原状态：{r.word(m['s'])}）",
            f"Occupancy warning withdrawn (was: {r.word(m['s']).lower()})",
        ),
    ),
    (
        _p(rf"Flat handed back \((?P<how>\w+)\) on (?P<d>{DATE}): monitoring of it ended for the household"),
        lambda m, r: _pick(
            r,
            f"{r.day(m['d'])} 交还住房（{r.word(m['how'])}）：结束对该住户的监管",
            f"Flat handed back ({r.word(m['how'])}) on {r.day(m['d'])}: monitoring ended",
        ),
    ),
    (
        _p(r"A door (?P<k>\w+) credential was enrolled to a member"),
        lambda m, r: _pick(
            r,
            f"为成员登记{r.word(m['k'])}门禁凭证",
            f"A door {r.word(m['k'])} credential was enrolled to a member",
        ),
    ),
    (
        _p(
            rf"(?P<dep>[a-z_]+) (?P<k>[a-z_]+) record (?P<ref>\S+) of (?P<d>{DATE}) noted"
            r"(?:: actual residence (?P<city>\S+))?"
        ),
        lambda m, r: _pick(
            r,
            f"记录{r.word(m['dep'])}{r.word(m['k'])}数据 {m['ref']}（{r.day(m['d'])}）"
            + (f"：实际居住地 {r.word(m['city'])}" if m["city"] else ""),
            f"{r.word(m['dep'])} {r.word(m['k']).lower()} record {m['ref']} of {r.day(m['d'])} noted"
            + (f": actual residence {r.word(m['city'])}" if m["city"] else ""),
        ),
    ),
    (
        _p(
            rf"No registered member opened the door for (?P<n>\d+) day\(s\) up to (?P<d>{DATE}) \(threshold "
            rf"(?P<t>\d+); last member access (?P<last>{DATE}|never)"
            r"(?:; (?P<x>\d+) day\(s\) excused)?\)\. (?P<rest>.+)"
        ),
        lambda m, r: _pick(
            r,
            f"截至 {r.day(m['d'])}，已登记成员连续 {m['n']} 天未开门（标准 {m['t']} 天；最近一次成员开门："
            f"{'从未' if m['last'] == 'never' else r.day(m['last'])}"
            + (f"；已核准外出 {m['x']} 天" if m["x"] else "")
            + "）。"
            + {
                "Utilities show the flat in use, so no warning.": "水电显示住房在使用，不预警。",
                "No utility readings for the period.": "该期间无水电读数。",
            }.get(
                m["rest"], "水电用量接近零。" if m["rest"].startswith("Utilities near zero") else m["rest"]
            ),
            f"No registered member opened the door for {m['n']} day(s) up to {r.day(m['d'])} (threshold "
            f"{m['t']}; last member access {m['last'] if m['last'] == 'never' else r.day(m['last'])}"
            + (f"; {m['x']} day(s) excused" if m["x"] else "")
            + f"). {m['rest']}",
        ),
    ),
]
