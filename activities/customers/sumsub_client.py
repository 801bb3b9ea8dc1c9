"""SumSub HTTP adapter (httpx) with SumSub's request signing (customers-deposits.md §6.2, §6.3)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from domain.customers.sumsub import sign_request


class SumSubError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"SumSub answered {status}: {description}")
        self.status = status
        self.description = description

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429


class SumSubClient:
    def __init__(self, base_url: str, app_token: str, secret_key: str, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time, timeout: float = 10.0) -> None:
        self._token = app_token
        self._secret = secret_key
        self._clock = clock
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path_with_query: str, body: dict[str, Any] | None = None) -> Any:
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        ts = str(int(self._clock()))
        headers = {
            "X-App-Token": self._token,
            "X-App-Access-Ts": ts,
            "X-App-Access-Sig": sign_request(self._secret, ts, method, path_with_query, raw),
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        # the path is sent exactly as signed (httpx would re-encode a parsed URL)
        url = httpx.URL(self._http.base_url.join("/"), raw_path=path_with_query.encode())
        response = await self._http.request(method, url, content=raw or None, headers=headers)
        if response.status_code >= 400:
            try:
                description = response.json().get("description", response.text)
            except ValueError:
                description = response.text
            raise SumSubError(response.status_code, str(description))
        return response.json() if response.content else None

    async def create_applicant(self, external_user_id: str, level_name: str, applicant_type: str) -> str:
        """Create the applicant for our customer id; return SumSub's applicant id.

        SumSub answers 409 when the applicant already exists; then the existing one is looked up,
        so a retried call is harmless.
        """
        path = f"/resources/applicants?levelName={quote(level_name)}"
        try:
            data = await self._call("POST", path, {"externalUserId": external_user_id, "type": applicant_type})
        except SumSubError as exc:
            if exc.status != 409:
                raise
            data = await self._call("GET", f"/resources/applicants/-;externalUserId={external_user_id}/one")
        return str(data["id"])

    async def create_link(self, external_user_id: str, level_name: str, ttl_seconds: int) -> str:
        path = (f"/resources/sdkIntegrations/levels/{quote(level_name)}/websdkLink"
                f"?&externalUserId={external_user_id}")
        data = await self._call("POST", path, {"ttlInSecs": ttl_seconds})
        return str(data["url"])
