"""Request body limits per route: refused with 413 problem+json before the body is read (declared
Content-Length) or as soon as a streamed body passes the limit, never after spooling it whole."""

from __future__ import annotations

import pytest

from api.body_limit import MULTIPART_OVERHEAD, BodyLimits
from tests.integration.customers_helpers import create_customer, customer_stack, digest, review


@pytest.fixture
async def lstack(db_url, engine, ts_env, tmp_path):
    async with customer_stack(db_url, engine, ts_env.client, documents_dir=tmp_path / "docs",
                              documents_max_bytes=256 * 1024) as s:
        yield s


class Body:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, total: int, chunk: int = 16 * 1024, head: bytes = b"", tail: bytes = b"") -> None:
        self.total, self.chunk, self.head, self.tail, self.pulled = total, chunk, head, tail, 0

    async def __aiter__(self):
        self.pulled += 1
        yield self.head
        sent = 0
        while sent < self.total:
            self.pulled += 1
            yield b"x" * self.chunk
            sent += self.chunk
        yield self.tail


def assert_413(r, limit: int) -> None:
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "common.payload_too_large" and r.json()["max_bytes"] == limit


async def test_the_webhook_refuses_large_bodies_before_reading_them(lstack):
    limit = lstack.settings.webhook_max_body_bytes
    declared = Body(10 * 1024 * 1024)
    r = await lstack.anonymous().post("/webhooks/sumsub", content=declared, headers={
        "content-length": str(10 * 1024 * 1024), "x-payload-digest": "00" * 32})
    assert_413(r, limit)
    assert declared.pulled == 0  # refused on the header alone

    streamed = Body(10 * 1024 * 1024)
    r = await lstack.anonymous().post("/webhooks/sumsub", content=streamed,
                                      headers={"x-payload-digest": "00" * 32})
    assert_413(r, limit)
    assert streamed.pulled <= limit // streamed.chunk + 2  # stopped at the limit, not at 10 MiB

    # a missing digest is refused before the body is read at all; a real notice still gets through
    unsigned = Body(1024)
    assert (await lstack.anonymous().post("/webhooks/sumsub", content=unsigned)).status_code == 401
    assert unsigned.pulled == 0
    c = await create_customer(lstack.http)
    body = review(c["id"], "GREEN")
    r = await lstack.anonymous().post("/webhooks/sumsub", content=body, headers={
        "content-type": "application/json", "x-payload-digest": digest(body)})
    assert r.status_code == 200, r.text


async def test_json_bodies_get_the_default_limit(lstack):
    limit = lstack.settings.api_max_body_bytes
    r = await lstack.http.post("/api/v1/customers", content=b'{"email": "' + b"a" * limit + b'"}',
                               headers={"content-type": "application/json"})
    assert_413(r, limit)
    streamed = Body(20 * limit, head=b'{"email": "', tail=b'"}')
    r = await lstack.http.post("/api/v1/customers", content=streamed, headers={"content-type": "application/json"})
    assert_413(r, limit)
    assert streamed.pulled <= limit // streamed.chunk + 2


async def test_uploads_are_cut_off_at_the_documented_maximum_not_spooled_whole(lstack):
    c = await create_customer(lstack.http)
    url = f"/api/v1/customers/{c['id']}/documents"
    max_bytes = lstack.settings.documents_max_bytes
    limit = max_bytes + MULTIPART_OVERHEAD
    ok = await lstack.http.post(url, files={"file": ("a.pdf", b"%PDF" + b"x" * (max_bytes - 4), "application/pdf")})
    assert ok.status_code == 201, ok.text  # above the JSON default is fine for this route
    over = await lstack.http.post(url, files={"file": ("a.pdf", b"x" * (max_bytes + 1), "application/pdf")})
    assert over.status_code == 413 and over.json()["code"] == "customer.document_too_large"

    boundary = "lana-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()
    streamed = Body(50 * max_bytes, head=head, tail=f"\r\n--{boundary}--\r\n".encode())
    r = await lstack.http.post(url, content=streamed,
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert_413(r, limit)
    assert streamed.pulled <= limit // streamed.chunk + 2
    listed = (await lstack.http.get(f"/api/v1/customers/{c['id']}/documents")).json()["items"]
    assert [d["id"] for d in listed] == [ok.json()["id"]]


def test_a_limit_must_name_a_real_route():
    from api.app import create_app
    from ground.settings import Settings

    app = create_app(Settings(environment="test"))
    BodyLimits(1024).route("POST", "/api/v1/customers/{customer_id}/documents", 1).check(app.routes)
    with pytest.raises(ValueError, match="no such route"):
        BodyLimits(1024).route("POST", "/api/v1/customers/{id}/documentz", 1).check(app.routes)
