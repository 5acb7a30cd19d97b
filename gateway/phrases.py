"""The sentences the services generate, said in the reader's language with readable figures.

The services explain themselves in English sentences with figures in them ("4200.00 > 3960.00
yuan/person/month: exit condition met", "Sanction imposed: rent_surcharge for sublet", "Transition
rent: +10 % a month ..."). They are a contract of sorts: each comes from one f-string in one service.
A pattern (`gateway.sentences`, and the rules' explanations here) reads one of them back into its
parts and says it again, in Chinese or English, with amounts as ¥12,345.00, dates in the reader's
language and codes as words. A sentence no pattern knows is shown as the service wrote it (nothing is
hidden); sentences joined by "; " are said part by part.

Operators' own words (findings, reasons, notes) are never touched: only the services' templates match.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.sentences import (
    AMOUNT,
    DATE,
    PATTERNS,
    _pick,
)

if TYPE_CHECKING:
    from gateway.readable import Reader

TRAIL_SUMMARIES = {
    "Review case opened after the automated first review": ("自动初审后立案复核", None),
    "Reviewer recorded findings and proposed an outcome": ("审核员提出复核意见", None),
    "Supervisor approved the proposal (four-eyes)": ("主管批准复核意见（双人复核）", None),
    "Supervisor sent the proposal back": ("主管退回复核意见", None),
    "Third-party assessment requested": ("委托第三方评估", None),
    "Third-party assessment received": ("收到第三方评估报告", None),
    "Appeal lodged": ("提出申诉", None),
    "Review case reopened": ("复核案件重新打开", None),
    "Manual re-review case opened; cross-region check requested": ("立案人工复核，并发起跨市核查", None),
    "Rent adjustment cancelled from its start": ("租金调整自始取消", None),
    "Rent adjustments suspended by an open appeal": ("因申诉暂停租金调整", None),
    "Voluntary exit applied for": ("申请自愿退出", None),
    "Flagged for purchase help": ("列入购房帮扶", None),
    "Appeal lodged against a sanction": ("对处罚提出申诉", None),
    "Household known to resettlement (registered by eligibility)": ("安置服务已收到住户登记", None),
    "Waitlisted: no unit free in the pool": ("轮候：房源池暂无空置房源", None),
    "Offer accepted: the unit is held": ("已接受配租：房源为其保留", None),
    "Offer declined: the unit is free again": ("已放弃配租：房源重新空置", None),
    "Offer expired without an answer: the unit is free again": ("逾期未答复：房源重新空置", None),
    "Moved in (or purchase completed)": ("已入住（或已完成购房）", None),
    "Placement case withdrawn": ("安置案件已撤销", None),
    "Purchase guidance recorded": ("已记录购房引导", None),
    "Market-rental guidance recorded": ("已记录市场租赁引导", None),
    "referral withdrawn": ("撤销培训转介", None),
    "left the course": ("退出课程", None),
    "employment fact kept for an operator to attribute": ("就业记录待人工匹配", None),
    "employment fact attributed to a trainee": ("就业记录已匹配到学员", None),
    "employment fact dismissed": ("就业记录已排除", None),
    "A door credential was moved to another member": ("门禁凭证已转给另一名成员", None),
    "Occupancy warning assigned to an inspector": ("入住预警已分派巡查员", None),
    "Occupancy warning dismissed": ("入住预警已排除", None),
    "Confirmed violation rectified": ("确认的违规已整改", None),
    "still monitored until the flat is handed back": ("交还住房前继续监管", None),
    "the household handed the flat back": ("住户已交还住房", None),
    "each month's amount rounded half up to 0.01 yuan from the exact value": (
        "每月金额按精确值四舍五入到 0.01 元",
        "each month's amount is rounded half up to ¥0.01 from the exact value",
    ),
    "members unknown (household not registered here): age not assessed": ("成员信息未知：未评估年龄", None),
    "members unknown: disability not assessed": ("成员信息未知：未评估残疾情况", None),
    "special hardship: transitional housing first": ("特殊困难家庭：优先安排过渡性住房", None),
    "neither special hardship nor buying: market-rental guidance": (
        "非特殊困难且无购房意愿：提供市场租赁引导",
        None,
    ),
    "no parameter in force": ("无现行标准", None),
}
"""Fixed sentences: (Chinese, English rewording or None to keep the service's)."""


# -- rule explanations (services/eligibility/rules.py) ---------------------------------------------


def _figure(text: str, unit: str, r: Reader) -> str:
    """Every amount in `text` in the rule's unit; 'members' in words."""
    # a figure has a decimal point (a count of members has none)
    shown = re.sub(
        r"\d+\.\d+|\*\*\*", lambda m: r.amount(m.group(0), unit.split("/")[0] if unit else None), text
    )
    if r.lang == "zh":
        shown = re.sub(r" / (\d+) members?", r" / \1 人", shown)
    return shown


def _notes(text: str | None, r: Reader) -> str:
    """The income rule's notes on which figure it used."""
    if not text:
        return ""
    out = []
    for note in text.split("; "):
        note = note.strip()
        if not note:
            continue
        m = re.fullmatch(
            rf"the household's per-capita figure of ({DATE}) is used \(member incomes describe "
            rf"(?:the same date: a tie|({DATE}) at the latest)\)",
            note,
        )
        if m:
            out.append(
                _pick(
                    r,
                    f"采用 {r.day(m[1])} 的家庭人均收入数据（成员收入"
                    + ("为同一日期" if m[2] is None else f"最晚为 {r.day(m[2])}")
                    + "）",
                    f"the household's per-capita figure of {r.day(m[1])} is used (member incomes describe "
                    + ("the same date" if m[2] is None else f"{r.day(m[2])} at the latest")
                    + ")",
                )
            )
            continue
        m = re.fullmatch(
            rf"member incomes are used \(the latest describes ({DATE})\), not the household's "
            rf"per-capita figure of ({DATE})",
            note,
        )
        if m:
            out.append(
                _pick(
                    r,
                    f"采用成员收入（最晚为 {r.day(m[1])}），未采用 {r.day(m[2])} 的家庭人均收入数据",
                    f"member incomes are used (the latest describes {r.day(m[1])}), not the household's "
                    f"per-capita figure of {r.day(m[2])}",
                )
            )
            continue
        out.append(note)
    sep = "；" if r.lang == "zh" else "; "
    return sep + sep.join(out) if out else ""


def _what(text: str, r: Reader) -> str:
    """What a rule looked for, as rules.py names it."""
    known = {
        "per-capita monthly income": ("人均月收入", "per-capita monthly income"),
        "financial assets": ("金融资产", "financial assets"),
        "financial assets of a member": ("一名成员的金融资产", "financial assets of a member"),
        "monthly income": ("月收入", "monthly income"),
    }
    if text in known:
        return _pick(r, *known[text])
    m = re.fullmatch(r"area of property (.+)", text)
    if m:
        return _pick(r, f"房产 {m[1]} 的面积", f"area of property {m[1]}")
    return text


def _cities(text: str, r: Reader) -> str:
    """'CN-GZ (Guangzhou), CN-DG (Dongguan)' or 'CN-DG, CN-GZ' as city names."""
    codes = re.findall(r"CN-[A-Z]{2}", text)
    return ("、" if r.lang == "zh" else ", ").join(r.word(c) for c in codes) if codes else text


def rule(found: Mapping[str, Any], r: Reader) -> str:
    """A rule's comparison in words."""
    text = str(found.get("comparison") or "")
    unit = str(found.get("unit") or "")
    m = re.fullmatch(
        rf"(?P<shown>.+?) (?P<op><=|>) (?P<thr>{AMOUNT}) (?P<unit>\S+): "
        r"(?P<verdict>exit condition met|within the limit)(?P<notes>; .*)?",
        text,
    )
    if m:
        unit = m["unit"]
        op = "≤" if m["op"] == "<=" else ">"
        verdict = (
            _pick(r, "达到退出条件", "exit condition met")
            if m["verdict"] == "exit condition met"
            else _pick(r, "未超过标准", "within the limit")
        )
        sep = "：" if r.lang == "zh" else ": "
        return f"{_figure(m['shown'], unit, r)} {op} {r.amount(m['thr'], unit)}{sep}{verdict}" + _notes(
            m["notes"], r
        )
    m = re.fullmatch(r"(?:(?P<shown>.+); )?no (?P<rule>\w+) value in force", text)
    if m:
        said = _pick(r, f"{r.word(m['rule'])}无现行标准", f"no value of {r.word(m['rule']).lower()} in force")
        return (
            (f"{_figure(m['shown'], unit, r)}；" if m["shown"] and r.lang == "zh" else "")
            + (f"{_figure(m['shown'], unit, r)}; " if m["shown"] and r.lang == "en" else "")
            + said
        )
    m = re.fullmatch(rf"no (?P<what>.+) reported on or before (?P<d>{DATE})", text)
    if m:
        return _pick(
            r,
            f"截至 {r.day(m['d'])} 未报送{_what(m['what'], r)}",
            f"no {_what(m['what'], r)} reported on or before {r.day(m['d'])}",
        )
    m = re.fullmatch(
        rf"no monthly income reported on or before (?P<d>{DATE}) for (?P<n>\d+) of (?P<c>\d+) members "
        r"\((?P<who>.+)\): the per-capita income needs every member's income(?P<notes>; .*)?",
        text,
    )
    if m:
        return _pick(
            r,
            f"截至 {r.day(m['d'])}，{m['c']} 名成员中有 {m['n']} 名未报送月收入："
            "计算人均收入需要每名成员的收入",
            f"no monthly income reported on or before {r.day(m['d'])} for {m['n']} of {m['c']} members: "
            "the per-capita income needs every member's income",
        ) + _notes(m["notes"], r)
    m = re.fullmatch(
        r"conflicting monthly income of (?P<n>\d+) of (?P<c>\d+) members: (?P<v>.+?)"
        r"(?P<notes>; member incomes .*)?",
        text,
    )
    if m:
        return _pick(
            r,
            f"{m['c']} 名成员中有 {m['n']} 名的月收入数据冲突：{_conflicts(m['v'], unit, r)}",
            f"conflicting monthly income of {m['n']} of {m['c']} members: {_conflicts(m['v'], unit, r)}",
        ) + _notes(m["notes"], r)
    m = re.fullmatch(r"conflicting (?P<what>.+?): (?P<v>.+)", text)
    if m:
        return _pick(
            r,
            f"{_what(m['what'], r)}数据冲突：{_conflicts(m['v'], unit, r)}",
            f"conflicting {_what(m['what'], r)}: {_conflicts(m['v'], unit, r)}",
        )
    m = re.fullmatch(rf"(?P<what>.+?) describes (?P<d1>{DATE}), older than (?P<d2>{DATE}): stale", text)
    if m:
        return _pick(
            r,
            f"{_what(m['what'], r)}数据所属日期为 {r.day(m['d1'])}，早于 {r.day(m['d2'])}：数据过期",
            f"{_what(m['what'], r)} describes {r.day(m['d1'])}, older than {r.day(m['d2'])}: too old",
        )
    m = re.fullmatch(
        rf"(?P<shown>.+); the oldest member income describes (?P<d1>{DATE}), older than (?P<d2>{DATE}): "
        r"stale(?P<notes>; .*)?",
        text,
    )
    if m:
        return _pick(
            r,
            f"{_figure(m['shown'], unit, r)}；最早的成员收入所属日期为 {r.day(m['d1'])}，"
            f"早于 {r.day(m['d2'])}：数据过期",
            f"{_figure(m['shown'], unit, r)}; the oldest member income describes {r.day(m['d1'])}, older "
            f"than {r.day(m['d2'])}: too old",
        ) + _notes(m["notes"], r)
    m = re.fullmatch(r"match in (?P<found>.+)", text)
    if m:
        named = []
        for part in m["found"].split("; "):
            pm = re.fullmatch(r"(?P<city>CN-[A-Z]{2})(?: \([^)]*\))?: (?P<what>.+)", part)
            if not pm:
                named.append(part)
                continue
            words = {
                "holds subsidised housing": "holds_subsidised_housing",
                "receives a housing subsidy": "receives_housing_subsidy",
                "owns property over the threshold": "owns_property_over_threshold",
            }
            what = [r.word(words.get(w, w)) for w in pm["what"].split(" and ")]
            if pm["what"] == "holds housing support or property there":
                what = [_pick(r, "在当地享有住房保障或拥有房产", "holds housing support or property there")]
            named.append(
                r.word(pm["city"])
                + ("：" if r.lang == "zh" else ": ")
                + ("、" if r.lang == "zh" else " and ").join(what)
            )
        return _pick(r, "外市有记录：", "match in ") + ("；" if r.lang == "zh" else "; ").join(named)
    m = re.fullmatch(r"not verified in (?P<cities>.+): a person must look", text)
    if m:
        return _pick(
            r,
            f"{_cities(m['cities'], r)}无法核实：须人工核查",
            f"could not be verified in {_cities(m['cities'], r)}: a person must look",
        )
    m = re.fullmatch(r"no match in (?P<cities>.+)", text)
    if m:
        return _pick(r, f"{_cities(m['cities'], r)}均无记录", f"no match in {_cities(m['cities'], r)}")
    return say(text, r) if text else ""


def _conflicts(values: str, unit: str, r: Reader) -> str:
    """'4200.00 (civil_affairs MZ-1), 4300.00 (human_resources HR-2)' with amounts and departments."""

    def one(m: re.Match[str]) -> str:
        return (
            f"{r.amount(m['v'], unit.split('/')[0] if unit else None)}（{r.word(m['dep'])} {m['ref']}）"
            if r.lang == "zh"
            else (f"{r.amount(m['v'], unit.split('/')[0] if unit else None)} ({r.word(m['dep'])} {m['ref']})")
        )

    return re.sub(rf"(?P<v>{AMOUNT}) \((?P<dep>[a-z_]+) (?P<ref>[^)]+)\)", one, values)


def say(text: str, r: Reader) -> str:
    """`text` said in the reader's language when a pattern knows it; else as the service wrote it."""
    fixed = TRAIL_SUMMARIES.get(text)
    if fixed is not None:
        zh, en = fixed
        return _pick(r, zh, en or text)
    for pattern, handler in PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            return handler(m, r)
    if "; " in text:
        parts = text.split("; ")
        said = [say(part, r) for part in parts]
        if said != parts:
            return ("；" if r.lang == "zh" else "; ").join(said)
    return text


EVENT_WORDS: dict[str, str] = {
    "Household.Registered": "住户登记",
    "Household.Updated": "住户信息更新",
    "Household.MembersChanged": "家庭成员变更",
    "Household.FactRecorded": "收到部门数据",
    "Household.FactNoted": "记录部门数据",
    "Household.Evaluated": "自动初审",
    "Household.CaseOpened": "立案复核",
    "Household.CaseClosed": "复核结案",
    "Household.CaseReopened": "复核案件重新打开",
    "Household.OccupancyNoted": "入住预警记录",
    "Household.CrossRegionAnswered": "收到跨市核查答复",
    "Household.CrossRegionRequested": "发起跨市核查",
    "Household.DecisionRecorded": "记录复核或申诉结果",
    "Household.AbsenceExcused": "成员外出已核准",
    "Household.Exited": "交还住房，结束监管",
    "Household.ExitCompleted": "完成退出",
    "Household.ExitDecided": "已决定退出",
    "Household.ExitOverturned": "申诉改判退出决定",
    "ReviewCase.FindingRecorded": "审核员提出复核意见",
    "ReviewCase.Approved": "主管批准",
    "ReviewCase.SentBack": "主管退回",
    "ReviewCase.AssessmentRequested": "委托第三方评估",
    "ReviewCase.AssessmentReceived": "收到评估报告",
    "ReviewCase.AppealLodged": "提出申诉",
    "Tenancy.Registered": "登记租约",
    "Tenancy.ExitDecisionRecorded": "收到退出决定",
    "Tenancy.ViolationRecorded": "收到确认的违规",
    "Tenancy.TransitionStarted": "开始过渡期",
    "Tenancy.TransitionClosed": "过渡期结束",
    "Tenancy.Adjusted": "租金调整",
    "Tenancy.AdjustmentEnded": "租金调整结束",
    "Tenancy.AdjustmentCancelled": "租金调整取消",
    "Tenancy.HoldPlaced": "暂停租金调整",
    "Tenancy.HoldReleased": "恢复租金调整",
    "Tenancy.VoluntaryExitApplied": "申请自愿退出",
    "Tenancy.PurchaseHelpFlagged": "列入购房帮扶",
    "Tenancy.ExitCompleted": "交还住房",
    "Subsidy.Awarded": "发放自愿退出补贴",
    "Sanction.Imposed": "作出处罚",
    "Sanction.Changed": "处罚状态变更",
    "Appeal.Lodged": "提出申诉",
    "Appeal.Resolved": "申诉决定",
    "Notice.Issued": "发出通知",
    "Notice.Delivered": "通知已送达",
    "PlacementCase.Classified": "安置分类",
    "PlacementCase.Reclassified": "重新安置分类",
    "PlacementCase.GuidanceGiven": "提供引导",
    "PlacementCase.LoanDiscountGranted": "给予贷款利率优惠",
    "PlacementCase.Waitlisted": "进入轮候",
    "PlacementCase.Offered": "配租房源",
    "PlacementCase.Accepted": "接受配租",
    "PlacementCase.Declined": "放弃配租",
    "PlacementCase.Expired": "配租逾期",
    "PlacementCase.MovedIn": "入住",
    "PlacementCase.Closed": "安置结案",
    "PlacementCase.Withdrawn": "安置撤销",
    "Referral.Made": "转介培训",
    "Referral.Reopened": "再次转介培训",
    "Referral.Withdrawn": "撤销转介",
    "Referral.Enrolled": "报名课程",
    "Referral.WaitListed": "课程候补",
    "Referral.Left": "退出课程",
    "Referral.Finished": "课程结束",
    "Referral.EmploymentRecorded": "记录就业",
    "Referral.StableWorkConfirmed": "确认稳定就业",
    "EmploymentEvidence.Received": "收到就业记录",
    "EmploymentEvidence.Attributed": "就业记录已匹配",
    "EmploymentEvidence.Dismissed": "就业记录已排除",
    "Credential.Enrolled": "登记门禁凭证",
    "Credential.Reassigned": "门禁凭证转移",
    "OccupancyWarning.Raised": "发出入住预警",
    "OccupancyWarning.Assigned": "预警分派巡查员",
    "OccupancyWarning.Confirmed": "现场确认违规",
    "OccupancyWarning.Dismissed": "预警排除",
    "OccupancyWarning.Rectified": "违规已整改",
    "OccupancyWarning.Withdrawn": "预警撤回",
    "Pending.ExitKept": "登记前收到的退出",
    "Pending.FactKept": "登记前收到的数据",
}
"""What kind of step a timeline entry is (its `type`), for a summary no pattern reads: in Chinese the
kind of step is said rather than the English sentence."""


def event(summary: str, kind: str, r: Reader) -> str:
    """A timeline entry's summary: by its pattern; else, in Chinese, the kind of step it is."""
    said = say(summary, r)
    if r.lang == "zh" and said == summary and re.search(r"[A-Za-z]{3}", summary):
        return EVENT_WORDS.get(kind, said)
    return said
