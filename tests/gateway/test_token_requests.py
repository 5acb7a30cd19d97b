"""The token endpoint under malformed requests: RFC 6749 §5.2 wants a 400 with an OAuth `error` for
each (a parameter missing, empty, repeated, or an unknown grant), as problem+json like every other
refusal; FastAPI's own validation answered an empty `grant_type=` with a 422."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import PASSWORD, GatewayFactory

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        ("grant_type=", "invalid_request", "grant_type is required"),
        ("", "invalid_request", "grant_type is required"),
        ("username=reviewer.li", "invalid_request", "grant_type is required"),
        ("grant_type=password&grant_type=password", "invalid_request", "grant_type is repeated"),
        ("grant_type=password&username=reviewer.li&password=", "invalid_request", "username and password"),
        ("grant_type=password&username=&password=x", "invalid_request", "username and password"),
        ("grant_type=client_credentials&client_id=dept.civil-affairs", "invalid_request", "client_secret"),
        ("grant_type=implicit", "unsupported_grant_type", "password or client_credentials"),
        ("grant_type=PASSWORD", "unsupported_grant_type", "password or client_credentials"),
        (f"grant_type=password&username={'u' * 513}&password=x", "invalid_request", "too long"),
    ],
)
async def test_a_malformed_token_request_is_a_400_with_an_oauth_error(
    gateway: GatewayFactory, body: str, error: str, detail: str
) -> None:
    async with gateway() as client:
        response = await client.post("/auth/token", content=body, headers=FORM)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["error"]) == (400, error) and detail in problem["detail"], problem


async def test_a_token_request_that_is_not_a_form_is_a_400(gateway: GatewayFactory) -> None:
    async with gateway() as client:
        as_json = await client.post(
            "/auth/token", json={"grant_type": "password", "username": "reviewer.li", "password": PASSWORD}
        )
        as_multipart = await client.post(
            "/auth/token", files={"grant_type": (None, "password")}, data={"username": "reviewer.li"}
        )
    for response in (as_json, as_multipart):
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text


async def test_a_well_formed_request_still_gets_its_token(gateway: GatewayFactory) -> None:
    """The form as a client library sends it (charset in the media type), and the document says so."""
    form = f"grant_type=password&username=reviewer.li&password={PASSWORD.replace(' ', '+')}"
    async with gateway() as client:
        response = await client.post(
            "/auth/token",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )
        document = (await client.get("/openapi.json")).json()
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer", response.text
    operation = document["paths"]["/auth/token"]["post"]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["required"] == ["grant_type"]
    assert schema["properties"]["grant_type"]["enum"] == ["password", "client_credentials"]
    assert "application/problem+json" in operation["responses"]["400"]["content"]
