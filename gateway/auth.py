"""Who is calling: the bearer token of an API call (or the session cookie of the console), verified by
`gateway.tokens`; and the token endpoint of the built-in issuer (`POST /auth/token`: the password grant
for operators, client credentials for department systems)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from gateway.roles import Principal
from gateway.tokens import InvalidToken, Tokens
from gateway.users import Directory
from services.kit.http import Problem, problem_doc, problem_response

FORM = "application/x-www-form-urlencoded"
TOKEN_FIELDS = ("grant_type", "username", "password", "client_id", "client_secret")
FIELD_MAX = 512


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": FIELD_MAX, "description": description}


TOKEN_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password", "client_credentials"]},
        "username": _text("password grant"),
        "password": _text("password grant"),
        "client_id": _text("client credentials (or HTTP Basic)"),
        "client_secret": _text("client credentials (or HTTP Basic)"),
    },
}
"""The token request as documented: a form (RFC 6749 §4.3.2, §4.4.2); what it does not allow gets a
400 problem with an OAuth `error`, never FastAPI's 422."""

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    auto_error=False,
    description="A token from `POST /auth/token` (or from the configured OpenID Connect issuer).",
)


class Unauthorized(Problem):
    """401 with `WWW-Authenticate: Bearer` (RFC 6750)."""

    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        super().__init__(401, "Unauthenticated", detail)
        self.error = error


def unauthorized_response(exc: Unauthorized) -> JSONResponse:
    response = problem_response(401, exc.title, exc.detail)
    description = exc.detail.replace('"', "'")
    response.headers["www-authenticate"] = (
        f'Bearer realm="housing-exit", error="{exc.error}", error_description="{description}"'
    )
    return response


def tokens_of(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def verified(tokens: Tokens, token: str) -> Principal:
    try:
        return tokens.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None


async def api_principal(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """The caller of an `/api` route: a bearer token is required (the console's cookie is not accepted
    here, so the API needs no CSRF defence)."""
    if not token:
        raise Unauthorized("a bearer token is required", error="invalid_request")
    return await run_in_threadpool(verified, tokens_of(request), token)


Caller = Annotated[Principal, Depends(api_principal)]
"""An `/api` route's authenticated caller."""


def token_router() -> APIRouter:
    router = APIRouter(tags=["authentication"])

    @router.post(
        "/auth/token",
        summary="OAuth2 token endpoint: password grant (operators), client credentials (departments)",
        responses={
            400: problem_doc(
                "RFC 6749 §5.2 `error` in the problem: `invalid_request` (a parameter missing, empty or "
                "repeated), `unsupported_grant_type`"
            ),
            401: problem_doc("wrong credentials: `invalid_grant` (password), `invalid_client` (client)"),
        },
        openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": TOKEN_FORM}}}},
    )
    async def token(request: Request) -> JSONResponse:
        # The form is read here rather than by FastAPI's validation, whose answer to a missing or
        # empty field is a 422: RFC 6749 wants a 400 with its own `error` codes for every malformed
        # token request, and a client library reads those.
        fields = await _token_form(request)
        grant_type = fields.get("grant_type")
        username, password = fields.get("username"), fields.get("password")
        client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
        directory: Directory = request.app.state.directory
        if not grant_type:
            raise Problem(400, "Invalid request", "grant_type is required", error="invalid_request")
        if grant_type == "password":
            if not username or not password:
                raise Problem(
                    400, "Invalid request", "username and password are required", error="invalid_request"
                )
            account = await run_in_threadpool(directory.authenticate, username, password, client=False)
            if account is None:
                raise Problem(401, "Login failed", "unknown account or wrong password", error="invalid_grant")
        elif grant_type == "client_credentials":
            basic = _basic(request.headers.get("authorization", ""))
            if basic is not None:
                client_id, client_secret = basic
            if not client_id or not client_secret:
                raise Problem(
                    400,
                    "Invalid request",
                    "client_id and client_secret are required",
                    error="invalid_request",
                )
            account = await run_in_threadpool(directory.authenticate, client_id, client_secret, client=True)
            if account is None:
                raise Problem(
                    401,
                    "Client authentication failed",
                    "unknown client or wrong secret",
                    error="invalid_client",
                )
        else:
            raise Problem(
                400, "Unsupported grant", "password or client_credentials", error="unsupported_grant_type"
            )
        body: dict[str, Any] = tokens_of(request).issue(account)
        return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})

    @router.get("/.well-known/jwks.json", summary="The built-in issuer's public keys (JWK set)")
    async def jwks(request: Request) -> dict[str, Any]:
        return tokens_of(request).jwks()

    return router


async def _token_form(request: Request) -> dict[str, str]:
    """The token request's parameters (RFC 6749 §3.2: form-encoded, none repeated); an empty value
    counts as absent. Anything else is a 400 `invalid_request`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise Problem(400, "Invalid request", f"the body must be {FORM}", error="invalid_request")
    form = await request.form()
    fields: dict[str, str] = {}
    for name in TOKEN_FIELDS:
        values = form.getlist(name)
        if len(values) > 1:
            raise Problem(400, "Invalid request", f"{name} is repeated", error="invalid_request")
        if values and isinstance(values[0], str) and values[0]:
            if len(values[0]) > FIELD_MAX:
                raise Problem(400, "Invalid request", f"{name} is too long", error="invalid_request")
            fields[name] = values[0]
    return fields


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, _, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, secret
