"""Who is calling: the bearer token of an API call (or the session cookie of the console), verified by
`gateway.tokens`; and the token endpoint of the built-in issuer (`POST /auth/token`: the password grant
for operators, client credentials for department systems)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from gateway.roles import Principal
from gateway.tokens import InvalidToken, Tokens
from gateway.users import Directory
from services.kit.http import Problem, problem_response

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


def token_router() -> APIRouter:
    router = APIRouter(tags=["authentication"])

    @router.post(
        "/auth/token",
        summary="OAuth2 token endpoint: password grant (operators), client credentials (departments)",
        responses={400: {"description": "unsupported grant"}, 401: {"description": "wrong credentials"}},
    )
    async def token(
        request: Request,
        grant_type: Annotated[str, Form()],
        username: Annotated[str | None, Form()] = None,
        password: Annotated[str | None, Form()] = None,
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> JSONResponse:
        directory: Directory = request.app.state.directory
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


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, _, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, secret
