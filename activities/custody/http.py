"""What every custodian adapter shares: one ``httpx.AsyncClient`` per client and the mapping of
HTTP failures to ``CustodianProviderError`` (network, 429 and 5xx are transient: the step is
retried; any other 4xx is a refusal: retrying the same call cannot succeed)."""

from __future__ import annotations

import hmac
import json
from decimal import Decimal
from typing import Any

import httpx

from domain.custody.model import CustodianProviderError, WebhookPayloadInvalid

TIMEOUT_S = 15.0


def make_http(base_url: str, transport: httpx.AsyncBaseTransport | None, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", transport=transport, timeout=TIMEOUT_S,
                             **kwargs)


async def deliver(http: httpx.AsyncClient, provider: str, request: httpx.Request) -> httpx.Response:
    """The provider's answer, whatever its status; a network failure is transient."""
    try:
        return await http.send(request)
    except httpx.HTTPError as exc:
        raise CustodianProviderError(f"{provider} unreachable: {type(exc).__name__}", transient=True,
                                     provider=provider) from None


def checked(response: httpx.Response, provider: str) -> httpx.Response:
    """The answer if it succeeded; 429 / 5xx are transient, any other 4xx a refusal."""
    request = response.request
    if response.status_code == 429 or response.status_code >= 500:
        raise CustodianProviderError(f"{provider} answered {response.status_code} on {request.url.path}",
                                     transient=True, provider=provider)
    if response.status_code >= 400:
        raise CustodianProviderError(f"{provider} refused {request.method} {request.url.path}: "
                                     f"{response.status_code}", transient=False, provider=provider)
    return response


async def send(http: httpx.AsyncClient, provider: str, request: httpx.Request) -> httpx.Response:
    return checked(await deliver(http, provider, request), provider)


def json_of(response: httpx.Response, provider: str) -> Any:
    """A provider's JSON, numbers as Decimal / int (never float: amounts are exact)."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise CustodianProviderError(f"{provider} answered non-JSON on {response.request.url.path}",
                                     transient=True, provider=provider) from None


def webhook_json(body: bytes, provider: str) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        raise WebhookPayloadInvalid(f"{provider} webhook body is not JSON") from None


def header(headers: Any, name: str) -> str | None:
    """Case-insensitive header look-up on any mapping (Starlette headers, plain dicts)."""
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        for key, v in headers.items():
            if key.lower() == lower:
                return v
    return value


def hex_equal(expected: bytes, presented_hex: str) -> bool:
    """Constant-time compare of an HMAC digest with a presented hex string (invalid hex ⇒ False)."""
    try:
        presented = bytes.fromhex(presented_hex.strip())
    except ValueError:
        return False
    return hmac.compare_digest(expected, presented)
