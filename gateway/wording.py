"""Words for the codes the services answer with, in Chinese and English.

The services speak in codes (`exit_triggered`, `rent_surcharge`, `households_by_outcome`): stable for
machines, unreadable for an operator. The console never shows one raw: every state, outcome, rule,
kind, role, department, city and figure name goes through `word`. A code that has no entry here is
shown humanised (`some_code` → "Some code") so that nothing is hidden, and the console tests fail on
it, which is how a new code gets its words.

`i18n.LABELS` holds the console's own labels (menus, headings, buttons); this module holds the
services' vocabulary. Both are looked up by `word` (labels first), so a column named `estate` and the
label `estate` read the same.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

import logging

from gateway.i18n import LABELS

log = logging.getLogger(__name__)

WORDS: dict[str, tuple[str, str]] = {
    # -- automated decisions and review cases (eligibility) ------------------------------------------
    "qualifies": ("符合保障条件", "Still qualifies"),
    "exit_triggered": ("触发退出条件", "Exit condition met"),
    "needs_manual": ("需人工复核", "Needs a person's review"),
    "exit_required": ("应当退出", "Exit required"),
    "transition": ("过渡期退出", "Exit with a transition period"),
    "retain": ("继续保障", "Keeps the housing"),
    "voluntary": ("自愿退出", "Voluntary exit"),
    "exit": ("退出", "Exit"),
    "third_party_assessment": ("第三方评估", "Third-party assessment"),
    "open": ("待复核", "Open"),
    "proposed": ("待审批", "Proposed, awaiting approval"),
    "assessment": ("第三方评估中", "With the assessor"),
    "appealed": ("申诉中", "Under appeal"),
    "decided": ("已决定", "Decided"),
    "opened": ("立案", "Case opened"),
    "finding": ("提出复核意见", "Findings and proposal"),
    "approved": ("批准", "Approved"),
    "sent_back": ("退回", "Sent back"),
    "assessment_requested": ("委托第三方评估", "Assessment requested"),
    "assessment_received": ("收到评估报告", "Assessment received"),
    "appeal_lodged": ("提出申诉", "Appeal lodged"),
    "appeal_decided": ("申诉已决定", "Appeal decided"),
    "assessment_overdue": ("第三方评估逾期", "Assessment past its deadline"),
    "appeal_overdue": ("申诉超期未决定", "Appeal undecided past its day"),
    "pending": ("待提交", "Waiting for the report"),
    "reported": ("已提交", "Reported"),
    "appeal_decision_days": ("申诉决定期限", "Time to decide an appeal"),
    "record_overdue": ("部门核查请求逾期未答复", "Record request unanswered past its day"),
    "department_operator": ("被请求部门的经办人员", "An operator of the department asked"),
    "record_answer_days_civil_affairs": (
        "民政部门答复期限",
        "Time for civil affairs to answer a record request",
    ),
    "record_answer_days_finance": ("金融部门答复期限", "Time for finance to answer a record request"),
    "record_answer_days_human_resources": (
        "人社部门答复期限",
        "Time for human resources to answer a record request",
    ),
    "record_answer_days_public_security": (
        "公安部门答复期限",
        "Time for public security to answer a record request",
    ),
    "record_answer_days_real_estate": (
        "不动产登记部门答复期限",
        "Time for the real-estate registry to answer a record request",
    ),
    "record_answer_days_social_insurance": (
        "社保部门答复期限",
        "Time for social insurance to answer a record request",
    ),
    "record_answer_days_tax": ("税务部门答复期限", "Time for the tax bureau to answer a record request"),
    # rules and what a rule found
    "income_per_capita": ("人均月收入", "Per-capita monthly income"),
    "housing_area": ("家庭自有住房面积", "Family-owned housing area"),
    "financial_assets": ("金融资产", "Financial assets"),
    "staleness_days": ("数据有效期", "Data freshness tolerance"),
    "cross_region": ("跨市核查", "Cross-region check"),
    "cross_region_property_area": ("跨市核查的住房面积标准", "Property area told to peer cities"),
    "cross_region_recheck_days": ("跨市复查周期", "Cross-region recheck interval"),
    "clear": ("未超过标准", "Within the limit"),
    "rule.exit": ("达到退出条件", "Exit condition met"),
    "missing": ("缺少数据", "Data missing"),
    "stale": ("数据过期", "Data too old"),
    "conflict": ("数据冲突", "Conflicting data"),
    "no_parameter": ("无现行标准", "No value in force"),
    "unverified": ("无法核实", "Could not be verified"),
    "match": ("外市有记录", "Match in that city"),
    "no_match": ("外市无记录", "No match"),
    # units of the rules
    "yuan": ("元", "yuan"),
    "yuan/person/month": ("元/人/月", "yuan a person a month"),
    "m2": ("平方米", "m²"),
    "days": ("天", "days"),
    # -- who ------------------------------------------------------------------------------------------
    "reviewer": ("审核员", "Reviewer"),
    "supervisor": ("审批主管", "Supervisor"),
    "inspector": ("巡查员", "Inspector"),
    "auditor": ("审计员", "Auditor"),
    "admin": ("系统管理员", "Administrator"),
    "department": ("部门系统", "Department system"),
    "registry": ("住房登记系统", "Housing register"),
    "assessor": ("第三方评估机构", "Assessor"),
    "system": ("系统自动", "The platform"),
    "operator": ("经办人员", "An operator"),
    "civil_affairs": ("民政部门", "Civil affairs"),
    "real_estate": ("不动产登记部门", "Real-estate registry"),
    "finance": ("金融监管部门", "Finance"),
    "public_security": ("公安部门", "Public security"),
    "tax": ("税务部门", "Tax"),
    "social_insurance": ("社保部门", "Social insurance"),
    "human_resources": ("人力资源部门", "Human resources"),
    # services
    "eligibility": ("资格审核", "Eligibility"),
    "penalties": ("租金与处罚", "Rent and sanctions"),
    "resettlement": ("安置", "Resettlement"),
    "monitoring": ("动态监管", "Monitoring"),
    "federation": ("跨市协查", "Cross-region exchange"),
    "gateway": ("网关", "Gateway"),
    "ok": ("正常", "answered"),
    "ok (case trail)": ("正常（按案件记录）", "answered (from the case trail)"),
    "timeout": ("超时", "timed out"),
    # cities
    "CN-FS": ("佛山", "Foshan"),
    "CN-GZ": ("广州", "Guangzhou"),
    "CN-DG": ("东莞", "Dongguan"),
    "CN-ZS": ("中山", "Zhongshan"),
    "CN-ZQ": ("肇庆", "Zhaoqing"),
    # department facts
    "income": ("收入", "Income"),
    "property": ("房产", "Property"),
    "registration": ("户籍", "Household registration"),
    "employment": ("就业", "Employment"),
    # -- penalties ------------------------------------------------------------------------------------
    "active": ("执行中", "In force"),
    "issued": ("已作出", "Issued"),
    "notice_served": ("已送达通知", "Notice served"),
    "executed": ("已执行", "Executed"),
    "lifted": ("已解除", "Lifted"),
    "withdrawn": ("已撤销", "Withdrawn"),
    "suspended": ("暂停执行", "Suspended"),
    "resumed": ("恢复执行", "Resumed"),
    "charged": ("计收", "Charged"),
    "overdue": ("逾期未退", "Overdue"),
    "exited": ("已退出", "Left the flat"),
    "upheld": ("申诉成立", "Upheld"),
    "dismissed": ("已驳回", "Dismissed"),
    "surcharge": ("加收租金", "Rent surcharge"),
    "kind=transition": ("过渡期租金", "Transition rent"),
    "warning": ("预警", "Warning"),
    "cause": ("起因", "Cause"),
    "appeal": ("申诉", "Appeal"),
    "review": ("复核决定", "Review decision"),
    "compound": ("复利递增", "compounding"),
    "simple": ("按基准租金递增", "simple, on the base rent"),
    "keys_returned": ("已交还钥匙", "Keys returned"),
    "voluntary_application": ("自愿退出申请", "Voluntary application"),
    "exit_decision": ("退出决定", "Exit decision"),
    "held": ("已为住户保留", "Held for a household"),
    # -- monitoring -----------------------------------------------------------------------------------
    "vacancy": ("疑似闲置", "Suspected vacancy"),
    "sublet_or_lend": ("疑似转租转借", "Suspected sublet or lending"),
    "raised": ("待分派", "Raised"),
    "assigned": ("核查中", "Being checked"),
    "confirmed": ("已确认违规", "Confirmed"),
    "rectified": ("已整改", "Rectified"),
    "card": ("门禁卡", "card"),
    "face": ("人脸", "face"),
    # -- resettlement ---------------------------------------------------------------------------------
    "transitional": ("过渡性住房", "Transitional housing"),
    "affordable": ("共有产权（可售）住房", "Affordable-for-sale units"),
    "special_hardship": ("特殊困难家庭", "Special hardship"),
    "purchase": ("购房引导", "Purchase guidance"),
    "market_rental": ("市场租赁引导", "Market-rental guidance"),
    "free": ("空置可分配", "Free"),
    "offered": ("已发出配租通知", "Offered"),
    "occupied": ("已入住", "Occupied"),
    "sold": ("已售出", "Sold"),
    "out_of_service": ("暂停使用", "Out of service"),
    "classified": ("已分类", "Classified"),
    "guided": ("已提供引导", "Guidance given"),
    "waitlisted": ("轮候中", "On the waiting list"),
    "accepted": ("已接受", "Accepted"),
    "moved_in": ("已入住", "Moved in"),
    "closed": ("已结案", "Closed"),
    "declined": ("已放弃", "Declined"),
    "expired": ("已逾期", "Expired"),
    # -- training -------------------------------------------------------------------------------------
    "enrolled": ("已报名", "Enrolled"),
    "wait_listed": ("候补", "On the waiting list"),
    "completed": ("已结业", "Completed"),
    "not_completed": ("未结业", "Not completed"),
    "unmatched": ("待匹配", "Not matched yet"),
    "attributed": ("已匹配", "Attributed"),
    # -- federation log -------------------------------------------------------------------------------
    "Answered": ("答复外市查询", "Answered a peer's query"),
    "Rejected": ("拒绝外市请求", "Refused a peer's request"),
    "Opened": ("发起跨市核查", "Check opened"),
    "PeerConcluded": ("收到外市结论", "A peer city concluded"),
    "Asked": ("向外市发出查询", "Asked a peer city"),
    "Registered": ("登记住户", "Household registered"),
    "Updated": ("更新登记", "Register updated"),
    "Recorded": ("记录核查对象", "Subjects recorded"),
    "Concluded": ("核查完成", "Check concluded"),
    "CheckCompleted": ("核查完成", "Check completed"),
    "exit-review": ("退出复核", "Exit review"),
    "annual-review": ("年度复核", "Annual review"),
    "holds_subsidised_housing": ("在外市享有保障房", "Holds subsidised housing there"),
    "receives_housing_subsidy": ("在外市领取住房补贴", "Receives a housing subsidy there"),
    "owns_property_over_threshold": ("在外市拥有超标住房", "Owns property over the threshold there"),
    # -- the dashboard's figures (GET /figures of every service) --------------------------------------
    "households_by_outcome": ("住户自动初审结果", "Households by automated outcome"),
    "cases_by_status": ("复核案件状态", "Review cases by status"),
    "final_outcomes": ("复核最终结果", "Final outcomes of the reviews"),
    "exit_decisions": ("退出决定数", "Exit decisions"),
    "proposals": ("复核意见数", "Proposals"),
    "proposals_sent_back": ("退回的复核意见", "Proposals sent back"),
    "appeals_overturned": ("申诉改判", "Appeals overturned"),
    "transitions_active": ("过渡期中住户", "Households in a transition period"),
    "transitions_by_state": ("过渡期状态", "Transition periods by state"),
    "sanctions_by_kind": ("处罚类型", "Sanctions by kind"),
    "sanctions_open_by_kind": ("执行中的处罚", "Sanctions in force by kind"),
    "households_penalised": ("受处罚住户", "Households penalised"),
    "credit_list_entries_open": ("信用记录（执行中）", "Credit-list entries in force"),
    "repossessions_executed": ("已收回住房", "Repossessions executed"),
    "appeals_open": ("待决定申诉", "Appeals open"),
    "subsidies_awarded": ("发放自愿退出补贴", "Voluntary-exit subsidies awarded"),
    "subsidies_total_fen": ("补贴总额（分）", "Subsidies in total (fen)"),
    "notices_issued": ("发出通知", "Notices issued"),
    "notices_undelivered": ("未送达通知", "Notices not delivered"),
    "exits_completed": ("完成退出", "Exits completed"),
    "units_by_pool_and_state": ("房源状态", "Units by pool and state"),
    "units_free": ("空置房源", "Free units"),
    "cases_by_state": ("安置案件状态", "Resettlement cases by state"),
    "cases_by_class": ("安置分类", "Resettlement cases by class"),
    "purchase_guidance_records": ("购房引导记录", "Purchase guidance given"),
    "loan_discounts_granted": ("公积金贷款利率优惠", "Loan-rate discounts granted"),
    "sessions_held": ("已开课次", "Sessions held"),
    "sessions_held_by_course": ("各课程开课次数", "Sessions held by course"),
    "sessions_held_by_estate": ("各小区开课次数", "Sessions held by estate"),
    "referrals_by_state": ("培训转介状态", "Referrals by state"),
    "people_trained_by_course": ("各课程培训人数", "People trained by course"),
    "people_trained_by_estate": ("各小区培训人数", "People trained by estate"),
    "people_employed_by_estate": ("各小区就业人数", "People employed by estate"),
    "people_in_stable_work": ("稳定就业人数", "People in stable work"),
    "people_in_stable_work_by_course": ("各课程稳定就业人数", "People in stable work by course"),
    "people_in_stable_work_by_estate": ("各小区稳定就业人数", "People in stable work by estate"),
    "employment_evidence_unmatched": ("待匹配的就业记录", "Employment records not matched"),
    "warnings_by_state": ("预警状态", "Warnings by state"),
    "warnings_by_condition": ("预警类型", "Warnings by condition"),
    "warnings_by_state_and_condition": ("预警状态与类型", "Warnings by state and condition"),
    "open_warnings_by_condition": ("未结预警类型", "Open warnings by condition"),
    "violations_confirmed_by_kind": ("确认违规类型", "Confirmed violations by kind"),
    "flats_monitored": ("监管中住房", "Flats monitored"),
    "flats_unlet": ("空出住房", "Flats no household holds"),
    "households_exit_decided": ("已决定退出仍在住", "Exit decided, still in the flat"),
    "households_exited": ("已交还住房", "Flats handed back"),
    "credentials_enrolled": ("登记门禁凭证", "Door credentials enrolled"),
    "signals_ingested": ("门禁与水电信号", "Door and utility signals"),
    "signals_refused": ("拒收信号", "Signals refused"),
    "exchanges_by_kind": ("跨市交换类型", "Exchanges by kind"),
    "outbound_results": ("外市答复结果", "Peer answers"),
    "courses": ("课程", "Courses"),
    # -- column names of the services' answers --------------------------------------------------------
    "household_id": ("住户", "Household"),
    "case_id": ("案件", "Case"),
    "sanction_id": ("处罚编号", "Sanction"),
    "appeal_id": ("申诉编号", "Appeal"),
    "warning_id": ("预警编号", "Warning"),
    "referral_id": ("转介编号", "Referral"),
    "course_id": ("课程编号", "Course"),
    "member_id": ("成员编号", "Member"),
    "unit_id": ("房源编号", "Unit"),
    "transition_id": ("过渡期编号", "Transition"),
    "review_id": ("复核编号", "Review"),
    "basis_id": ("依据编号", "Basis"),
    "basis_kind": ("依据类型", "Basis"),
    "cause_id": ("起因编号", "Cause"),
    "evidence_id": ("记录编号", "Record"),
    "check_id": ("核查编号", "Check"),
    "id": ("编号", "Id"),
    "seq": ("序号", "No."),
    "building": ("楼栋", "Building"),
    "pool": ("房源池", "Pool"),
    "total": ("合计", "Total"),
    "states": ("各状态套数", "Units by state"),
    "name": ("名称", "Name"),
    "base_rent": ("基准租金", "Base rent"),
    "rent": ("租金", "Rent"),
    "month": ("月份", "Month"),
    "field:months": ("月数", "Months"),
    "field:months[]": ("月度账单", "Month by month"),
    "field:transition": ("过渡期安排", "Transition plan"),
    "field:exited": ("退出情况", "Exit"),
    "field:held": ("申诉期间暂缓", "Held during an appeal"),
    "field:rule": ("递增规则", "Rule"),
    "field:state": ("状态", "State"),
    "explanation": ("说明", "Explanation"),
    "rounding": ("计算说明", "Rounding"),
    "adjustments": ("租金调整", "Adjustments"),
    "total_due": ("应缴租金", "Rent due"),
    "amount": ("金额", "Amount"),
    "status": ("状态", "State"),
    "first_month": ("起始月份", "First month"),
    "last_month": ("结束月份", "Last month"),
    "rate": ("比例", "Rate"),
    "rule_name": ("规则", "Rule"),
    "cancelled": ("已取消", "Cancelled"),
    "held_since": ("暂缓自", "Held since"),
    "exited_on": ("退出日期", "Left on"),
    "route": ("退出方式", "Route"),
    "monthly_rise": ("每月递增", "Monthly rise"),
    "exit_due_on": ("应退出日期", "Exit due on"),
    "schedule": ("租金计划", "Schedule"),
    "how": ("方式", "How"),
    "in_force": ("是否执行中", "In force"),
    "suspended_by_appeal": ("因申诉暂停", "Suspended by appeal"),
    "imposed_on": ("作出日期", "Imposed on"),
    "imposed_by": ("作出人", "Imposed by"),
    "ends_on": ("结束日期", "Ends on"),
    "surcharge_rate": ("加收比例", "Surcharge"),
    "appeal_until": ("申诉期限", "Appeal until"),
    "deadline": ("期限", "Deadline"),
    "closed_on": ("结束日期", "Closed on"),
    "closing_reason": ("结束原因", "Why it ended"),
    "lodged_on": ("申诉日期", "Lodged on"),
    "lodged_by": ("申诉登记人", "Recorded by"),
    "resolved_on": ("决定日期", "Decided on"),
    "resolved_by": ("决定人", "Decided by"),
    "placement_class": ("安置分类", "Placement class"),
    "reasons": ("分类理由", "Why"),
    "decided_on": ("决定日期", "Decided on"),
    "classified_on": ("分类日期", "Classified on"),
    "waitlisted_on": ("轮候日期", "Waitlisted on"),
    "priority": ("轮候顺序依据", "Priority"),
    "offers_lost": ("放弃或逾期次数", "Offers declined or expired"),
    "guidance": ("已提供引导", "Guidance given"),
    "loan_discount_pp": ("贷款利率优惠（百分点）", "Loan-rate discount (percentage points)"),
    "position": ("轮候位次", "Position"),
    "source": ("来源", "Source"),
    "referred_on": ("转介日期", "Referred on"),
    "course_code": ("课程", "Course"),
    "employer": ("用人单位", "Employer"),
    "start_date": ("入职日期", "Started on"),
    "stable": ("稳定就业", "Stable work"),
    "stable_confirmed_on": ("确认稳定就业日期", "Stable work confirmed on"),
    "verified_by": ("核实来源", "Verified by"),
    "employment_evidence": ("就业记录", "Employment records"),
    "described_on": ("数据所属日期", "Describes"),
    "department_name": ("部门", "Department"),
    "reference": ("文号", "Reference"),
    "code": ("课程代码", "Code"),
    "title": ("名称", "Title"),
    "provider": ("承办机构", "Provider"),
    "capacity": ("名额", "Seats"),
    "seats_left": ("剩余名额", "Seats left"),
    "sessions_scheduled": ("计划课次", "Sessions planned"),
    "first_session": ("首次课", "First session"),
    "last_session": ("末次课", "Last session"),
    "city": ("城市", "City"),
    "claimed_city": ("自称城市", "Claimed city"),
    "result": ("结果", "Result"),
    "query_ids": ("查询编号", "Query ids"),
    "purpose": ("用途", "Purpose"),
    "matches": ("核查结果", "Findings"),
    "category": ("类别", "Category"),
    "at": ("时间", "When"),
    "condition": ("预警类型", "Condition"),
    "raised_on": ("预警日期", "Raised on"),
    "risk_score": ("风险分值", "Risk score"),
    "inspector_id": ("巡查员", "Inspector"),
    "disabled": ("残疾", "Disabled"),
    "birth_date": ("出生日期", "Birth date"),
    "id_number_masked": ("证件号码", "ID number"),
    "low_income": ("低收入家庭", "Low income"),
    "wants_to_buy": ("有购房意愿", "Wishes to buy"),
    "kind": ("类型", "Kind"),
    "on": ("日期", "On"),
    "true": ("是", "yes"),
    "false": ("否", "no"),
}

# Codes that read the same in both languages by nature: nothing to translate (estate and course names
# are proper names and are never looked up).


_unworded: set[str] = set()


def humanised(code: str) -> str:
    """A code without its words: readable, and recognisable as untranslated. The first time a code
    is met without words it is logged (and kept for `unworded`), so that it gets its words."""
    if code not in _unworded:
        _unworded.add(code)
        log.warning("the console has no words for the code %r", code)
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def unworded() -> set[str]:
    """The codes shown without words since the process started (or since `forget_unworded`)."""
    return set(_unworded)


def forget_unworded() -> None:
    """Start counting again (a test that renders every page checks what that rendering met)."""
    _unworded.clear()


def known(code: str) -> bool:
    """Whether `code` has words (a service's code or one of the console's labels)."""
    return code in WORDS or code in LABELS


def word(code: object, lang: str) -> str:
    """The words for a service's code in `lang` (`zh` or `en`): the service vocabulary's, else the
    console's label of that name, else the code humanised."""
    key = str(code)
    found = WORDS.get(key) or LABELS.get(key)
    if found is None:
        return humanised(key)
    zh, en = found
    return en if lang == "en" else zh


def label(key: str, lang: str) -> str:
    """A label of the console's own (menus, headings, buttons), else the words of a code."""
    found = LABELS.get(key) or WORDS.get(key)
    if found is None:
        return humanised(key)
    zh, en = found
    return en if lang == "en" else zh


def field(key: str, lang: str, *, many: bool = False) -> str:
    """The name of a field of a service's answer (`many`: its value is a list, which some fields name
    differently: `months` is a count in a plan, the month-by-month statement in a ledger)."""
    found = (
        (WORDS.get(f"field:{key}[]") if many else None)
        or WORDS.get(f"field:{key}")
        or WORDS.get(key)
        or LABELS.get(key)
    )
    if found is None:
        return humanised(key)
    zh, en = found
    return en if lang == "en" else zh
