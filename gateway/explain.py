"""What a refusal means to the operator who met it: what happened, and who may act instead.

A console form that the gateway or a service refuses ends on the error page. A bare "403 Forbidden"
leaves the operator stuck; the page says which rule refused (the four-eyes rule, the role's
permissions, the estates assigned, the form's security token, the case's state) and who can do the
step (another supervisor, a role that holds the permission, an operator of that estate and the
administrator who assigns estates), in the reader's language.
"""

# ruff: noqa: RUF001 - Chinese text takes full-width punctuation (commas, colons, brackets)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from gateway.roles import DEPARTMENT_KINDS, ROLE_SCOPES, Principal, Role
from gateway.wording import word
from services.kit.http import Problem

OPERATOR_ROLES = ("reviewer", "supervisor", "inspector", "auditor", "admin")

SCOPE_WORDS: dict[str, tuple[str, str]] = {
    "households:read": ("查看住户", "read households"),
    "households:write": ("登记住户", "register households"),
    "credentials:write": ("登记门禁凭证", "enrol door credentials"),
    "personal:read": ("查看个人收入与资产", "see personal incomes and assets"),
    "cases:read": ("查看复核案件", "read review cases"),
    "cases:review": ("提出复核意见", "record findings on a case"),
    "cases:approve": ("批准或退回复核意见", "approve or send back a proposal"),
    "parameters:read": ("查看政策参数", "read policy parameters"),
    "parameters:write": ("新增生效参数", "add dated parameter values"),
    "warnings:read": ("查看预警", "read warnings"),
    "warnings:write": ("处理预警", "act on warnings"),
    "sanctions:read": ("查看处罚与租金台账", "read sanctions and rent ledgers"),
    "sanctions:write": ("作出、解除或撤销处罚", "impose, lift or withdraw sanctions"),
    "exits:write": ("办理退出", "record a household's exit"),
    "appeals:lodge": ("登记申诉", "lodge an appeal"),
    "appeals:decide": ("作出申诉决定", "decide an appeal"),
    "placements:read": ("查看安置", "read resettlement"),
    "placements:write": ("办理安置", "act on resettlement cases"),
    "training:read": ("查看培训", "read training"),
    "training:write": ("办理培训", "act on training"),
    "federation:read": ("查看跨市核查日志", "read the federation log"),
    "cross-region:order": ("发起跨市核查", "order cross-region checks"),
    "figures:read": ("查看统计看板", "read the dashboard"),
    "facts:write": ("报送部门数据", "push department facts"),
    "requests:answer": ("答复发给本部门的核查请求", "answer the record requests addressed to a department"),
    "accounts:estates": ("分配小区", "assign estates to accounts"),
}

TITLES: dict[str, str] = {
    "Four-eyes principle": "双人复核原则",
    "Forbidden": "无权操作",
    "Role not allowed": "角色不允许此操作",
    "CSRF token missing or wrong": "表单安全令牌缺失或已过期",
    "Cross-site request refused": "拒绝来自其他网站的请求",
    "Not found": "未找到",
    "Invalid request": "表单内容有误",
    "Step not allowed in this state": "当前状态下不能执行此步骤",
    "Not allowed in this state": "当前状态下不能执行此步骤",
    "Refused": "被拒绝",
    "Conflict": "操作冲突",
    "Service unavailable": "服务暂不可用",
    "Service timeout": "服务响应超时",
    "Service error": "服务出错",
    "Service refused the gateway's identity": "服务拒绝了网关身份",
    "No basis for the sanction": "处罚缺少依据",
    "Outside the appeal window": "已超过申诉期限",
    "No rule in force": "无现行规则",
    "Not addressed to you": "该请求不是发给您部门的",
}


@dataclass(frozen=True)
class Explanation:
    """The error page's lines: the refusal's name, what happened, who may act; `told` when these say
    all the service's detail said (the page then leaves the detail out)."""

    title: str
    what: str
    who: str
    told: bool = True


def _pick(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def proposer(case: Any) -> str | None:
    """Who proposed a review case's outcome, whom the four-eyes rule keeps from approving it: the
    proposal's reviewer, else the trail's latest finding."""
    if not isinstance(case, dict):
        return None
    proposal = case.get("proposal")
    if isinstance(proposal, dict) and proposal.get("reviewer"):
        return str(proposal["reviewer"])
    findings = [s for s in case.get("trail") or [] if isinstance(s, dict) and s.get("action") == "finding"]
    return str(findings[-1].get("actor")) if findings else None


def holders(scope: str) -> list[str]:
    """The operator roles that hold `scope` (assigning estates is the administrator's)."""
    if scope == "accounts:estates":
        return ["admin"]
    if scope == "requests:answer":
        return ["department_operator"]
    return [r for r in OPERATOR_ROLES if scope in ROLE_SCOPES.get(cast(Role, r), frozenset())]


def _roles(names: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(word(r, lang) for r in names) or _pick(lang, "无", "nobody")


def _scope(scope: str, lang: str) -> str:
    zh, en = SCOPE_WORDS.get(scope, (scope, scope))
    return _pick(lang, zh, en)


def explain(problem: Problem, p: Principal | None, lang: str) -> Explanation:
    """The refusal in the reader's words: what happened and who may act."""
    title = _pick(lang, TITLES.get(problem.title, problem.title), problem.title)
    detail = problem.detail or ""
    extra: dict[str, Any] = problem.extra or {}
    role = word(p.role, lang) if p is not None else ""
    if problem.title == "Four-eyes principle":
        if "appeal" in detail or "sanction" in detail:
            return Explanation(
                title,
                _pick(
                    lang,
                    "四眼原则：对处罚的申诉，由作出该处罚以外的人员决定。",
                    "The four-eyes rule: an appeal against a sanction is decided by someone other than "
                    "who imposed the sanction.",
                ),
                _pick(
                    lang, "另一位审批主管或系统管理员。", "Another supervisor or an administrator decides it."
                ),
            )
        return Explanation(
            title,
            _pick(
                lang,
                "四眼原则：复核意见由提出该意见的审核员以外的人员批准。您提出了这份意见，不能同时批准或退回它。",
                "The four-eyes rule: a proposal is approved by someone other than the reviewer who made it. "
                "You made this proposal, so you cannot also approve it or send it back.",
            ),
            _pick(lang, "另一位审批主管批准或退回。", "Another supervisor approves it or sends it back."),
        )
    if problem.status == 403 and "scope" in extra:
        scope = str(extra["scope"])
        return Explanation(
            title,
            _pick(
                lang,
                (f"您的角色（{role}）" if role else "") + f"没有“{_scope(scope, lang)}”的权限（{scope}）。",
                (f"Your role ({role}) may" if role else "This role may")
                + f" not {_scope(scope, lang)} ({scope}).",
            ),
            f"{_roles(holders(scope), lang)}。" if lang == "zh" else f"{_roles(holders(scope), lang)}.",
        )
    if problem.title == "Not addressed to you" or (
        problem.status == 403 and "only the department asked" in detail
    ):
        last = detail.split()[-1:]  # "this request is addressed to finance"
        asked = last[0] if last and last[0] in DEPARTMENT_KINDS else None
        return Explanation(
            title,
            _pick(
                lang,
                "核查请求只能由被请求的部门答复。" + (f"该请求发给{word(asked, lang)}。" if asked else ""),
                "A record request is answered by the department asked only."
                + (f" This one is addressed to {word(asked, lang)}." if asked else ""),
            ),
            _pick(
                lang,
                f"{word(asked, lang) if asked else '被请求部门'}的经办人员。",
                f"An operator of {word(asked, lang) if asked else 'the department asked'}.",
            ),
        )
    if problem.status == 403 and "estate" in detail:
        mine = ", ".join(sorted(p.estates)) if p is not None and p.estates is not None else ""
        return Explanation(
            title,
            _pick(
                lang,
                f"这属于您负责范围（{mine}）以外的小区。" if mine else "这属于您负责范围以外的小区。",
                f"This belongs to an estate outside the ones you are assigned ({mine})."
                if mine
                else "This belongs to an estate outside the ones you are assigned.",
            ),
            _pick(
                lang,
                "负责该小区的人员；系统管理员为账号分配小区。",
                "An operator assigned to that estate; an administrator assigns estates to accounts.",
            ),
        )
    if problem.title == "Role not allowed" or (problem.status == 403 and "only a supervisor" in detail):
        return Explanation(
            title,
            _pick(lang, f"{role}不能执行此步骤。", f"A {role.lower()} cannot take this step."),
            f"{word('supervisor', lang)}。" if lang == "zh" else f"{word('supervisor', lang)}.",
        )
    if problem.title in ("CSRF token missing or wrong", "Cross-site request refused"):
        return Explanation(
            title,
            _pick(
                lang,
                "表单的安全令牌缺失或已过期（例如重新登录后，或在另一个窗口中提交）。",
                "The form's security token was missing or out of date (after logging in again, or from "
                "another tab or site).",
            ),
            _pick(lang, "您：刷新页面后重新提交。", "You: reload the page and send the form again."),
        )
    if problem.status == 404:
        return Explanation(
            title,
            _pick(
                lang,
                "没有找到要查看或办理的对象（链接有误，或已被删除）。",
                "What you asked for does not exist here.",
            ),
            _pick(lang, "您：从列表重新进入。", "You: open it again from its list."),
            told=False,
        )
    if problem.status == 409:
        return Explanation(
            title,
            _pick(
                lang,
                "该步骤与对象的当前状态不符（可能已有他人先行办理）。",
                "The step does not fit the current state (someone may have acted first).",
            ),
            _pick(
                lang, "您：刷新页面查看当前状态后再办理。", "You: reload the page to see its state, then act."
            ),
            told=False,
        )
    if problem.status == 422:
        return Explanation(
            title,
            _pick(lang, "表单中有内容不被接受。", "Some of the form's fields were not accepted."),
            _pick(lang, "您：更正后重新提交。", "You: correct them and send the form again."),
            told=False,
        )
    if problem.status in (502, 503, 504):
        service = word(str(extra.get("service", "")), lang) if extra.get("service") else ""
        return Explanation(
            title,
            _pick(lang, f"{service}服务暂时没有响应。", f"The {service} service did not answer.")
            if service
            else _pick(lang, "一个后台服务暂时没有响应。", "A service did not answer."),
            _pick(
                lang,
                "您：稍后重试；如持续出现，平台运维人员处理。",
                "You: try again in a minute; if it persists, the platform's operations team.",
            ),
            told=False,
        )
    return Explanation(title, detail, "", told=False)


class Unavailable(str):
    """A part of a page that its service refused or could not give: the problem's status, title and
    detail as text (what logs and tests read), with the problem kept for the page to word."""

    problem: Problem

    def __new__(cls, problem: Problem) -> Unavailable:
        text = f"{problem.status} {problem.title}" + (f": {problem.detail}" if problem.detail else "")
        made = super().__new__(cls, text)
        made.problem = problem
        return made


def unavailable(error: object, lang: str) -> str:
    """A part's failure in the reader's words: status, the refusal's name, the service."""
    if not isinstance(error, Unavailable):
        return str(error)
    problem = error.problem
    title = _pick(lang, TITLES.get(problem.title, problem.title), problem.title)
    service = (problem.extra or {}).get("service")
    said = f"{problem.status} {title}" + (f" · {word(str(service), lang)}" if service else "")
    why = explain(problem, None, lang)
    return (
        f"{said}：{why.what}"
        if lang == "zh" and why.what and why.told
        else (f"{said}: {why.what}" if why.what and why.told else said)
    )
