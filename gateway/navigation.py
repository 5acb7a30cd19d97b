"""Where the console's links lead: the language switch and the way back from a form's answer, and
which menu items an operator sees.

A form's answer (the what-if result, an error page after a refused step) is the answer to a POST: it
has no address of its own, and a GET on a POST route is a 405. The language switch and the "back" link
of such a page lead to the page its form was sent from (`return_page`), which answers GET.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request

from gateway.assignments import may_assign
from gateway.roles import Principal


def may(p: Principal, scope: str) -> bool:
    """A menu item's or a page's right: a scope of the role, assigning estates (the admin role), or
    reading record requests (`record-requests`: the bureau's with cases:read, a department's own)."""
    if scope == "accounts:estates":
        return may_assign(p)
    if scope == "record-requests":
        return p.may("cases:read") or p.may("requests:answer")
    return p.may(scope)


# The page a POST's answer belongs to: a result or an error page of a form has no address of its own
# to come back to (GET on a POST route is a 405), so the language switch and the way back lead there.
RETURN_PAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/console/cases/([0-9a-fA-F-]{36})/[\w-]+$"), r"/console/cases/\1"),
    (re.compile(r"^/console/households/([0-9a-fA-F-]{36})/[\w-]+$"), r"/console/households/\1"),
    (re.compile(r"^/console/(?:sanctions|appeals)/.*$"), "/console/sanctions"),
    (re.compile(r"^/console/warnings/.*$"), "/console/warnings"),
    (re.compile(r"^/console/resettlement-cases/.*$"), "/console/pools"),
    (re.compile(r"^/console/(?:referrals|courses)/.*$"), "/console/training"),
    (re.compile(r"^/console/(?:parameters|cross-region)/.*$"), "/console/parameters"),
    (re.compile(r"^/console/accounts/.*$"), "/console/accounts"),
    (re.compile(r"^/console/record-requests/.*$"), "/console/record-requests"),
    (re.compile(r"^/console/coordination(?:/.*)?$"), "/console/coordination"),
    (re.compile(r"^/(?:login|logout)$"), "/login"),
)


def return_page(request: Request) -> str:
    """Where this page is read again with GET: itself, or the page its form was sent from."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        return path
    for pattern, target in RETURN_PAGES:
        if pattern.match(path):
            return pattern.sub(target, path)
    return "/console/dashboard"


def lang_link(request: Request, lang: str) -> str:
    """This page in the other language: a GET (a form's answer links to the page it came from)."""
    kept = request.query_params.multi_items() if request.method in ("GET", "HEAD") else []
    params = [(k, v) for k, v in kept if k != "lang"] + [("lang", lang)]
    return f"{return_page(request)}?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
