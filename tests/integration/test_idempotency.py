"""Idempotency-Key on a tiny test-only router, mounted on the real app and a real database."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import APIRouter, Depends, Form, Request, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy import text

from api.app import API_PREFIX, create_app
from api.authz import Principal
from api.idempotency import fingerprint, idempotent, new_entity_id
from domain.errors import ValidationFailed
from tests import harness


class NewThing(BaseModel):
    name: str
    mode: str = "ok"


def _router(state: dict) -> APIRouter:
    router = APIRouter()

    async def principal(request: Request) -> Principal:  # stands in for require(...)
        p = Principal(subject=request.headers.get("x-test-subject", "system"))
        request.state.principal = p
        return p

    async def create(body: NewThing, response: Response, request: Request) -> dict:
        state["executions"].append(body.name)
        state["entered"].set()
        if body.mode == "slow":
            await state["gate"].wait()
        if body.mode == "boom":
            raise RuntimeError("handler crashed")
        if body.mode == "reject":
            raise ValidationFailed("rejected by the domain", code="test.rejected")
        thing_id = str(new_entity_id(request))
        response.headers["Location"] = f"{API_PREFIX}/things/{thing_id}"
        return {"id": thing_id, "name": body.name}

    @router.post("/things", status_code=201)
    async def create_thing(body: NewThing, response: Response, request: Request, _p: Principal = Depends(principal),
                           _idem: str | None = idempotent()) -> dict:
        return await create(body, response, request)

    @router.post("/impatient-things", status_code=201)
    async def create_impatient(body: NewThing, response: Response, request: Request, _p: Principal = Depends(principal),
                               _idem: str | None = idempotent(wait=0.2)) -> dict:
        return await create(body, response, request)

    @router.post("/documents", status_code=201)
    async def upload(response: Response, file: UploadFile, title: str = Form(...),
                     _p: Principal = Depends(principal), _idem: str | None = idempotent()) -> dict:
        content = await file.read()
        state["executions"].append(title)
        return {"id": str(uuid.uuid4()), "title": title, "size": len(content)}

    return router


@pytest.fixture
async def api(db_url, engine):
    state = {"executions": [], "gate": asyncio.Event(), "entered": asyncio.Event()}
    app = create_app(harness.test_settings(db_url), engine=engine)
    app.include_router(_router(state), prefix=API_PREFIX)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://lana.test") as http:
            yield http, state


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_without_key_every_request_executes(api):
    http, state = api
    a = await http.post("/api/v1/things", json={"name": "a"})
    b = await http.post("/api/v1/things", json={"name": "a"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert state["executions"] == ["a", "a"]


async def test_same_key_same_body_replays_the_first_response(api):
    http, state = api
    key = _key()
    first = await http.post("/api/v1/things", json={"name": "a", "mode": "ok"}, headers=key)
    # Same JSON, different key order and whitespace: still the same request.
    again = await http.post("/api/v1/things", content=b'{ "mode": "ok",  "name": "a" }',
                            headers={**key, "content-type": "application/json"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert state["executions"] == ["a"]


async def test_same_key_other_body_is_422(api):
    http, state = api
    key = _key()
    assert (await http.post("/api/v1/things", json={"name": "a"}, headers=key)).status_code == 201
    r = await http.post("/api/v1/things", json={"name": "b"}, headers=key)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "common.idempotency_key_reused"
    # Another endpoint with the same key is another request too.
    r = await http.post("/api/v1/impatient-things", json={"name": "a"}, headers=key)
    assert r.json()["code"] == "common.idempotency_key_reused"
    assert state["executions"] == ["a"]


async def test_keys_are_scoped_per_principal(api):
    http, state = api
    key = _key()
    a = await http.post("/api/v1/things", json={"name": "a"}, headers={**key, "x-test-subject": "user:1"})
    b = await http.post("/api/v1/things", json={"name": "a"}, headers={**key, "x-test-subject": "user:2"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert state["executions"] == ["a", "a"]


async def test_concurrent_duplicate_waits_and_replays(api):
    http, state = api
    key = _key()
    body = {"name": "slow", "mode": "slow"}
    first = asyncio.create_task(http.post("/api/v1/things", json=body, headers=key))
    await asyncio.wait_for(state["entered"].wait(), 10)
    second = asyncio.create_task(http.post("/api/v1/things", json=body, headers=key))
    await asyncio.sleep(0.3)
    assert not second.done()  # waiting for the first, not executing
    state["gate"].set()
    a, b = await asyncio.gather(first, second)
    assert a.status_code == b.status_code == 201
    assert a.content == b.content
    assert state["executions"] == ["slow"]


async def test_concurrent_duplicate_gets_409_when_the_first_takes_too_long(api):
    http, state = api
    key = _key()
    body = {"name": "slow", "mode": "slow"}
    first = asyncio.create_task(http.post("/api/v1/impatient-things", json=body, headers=key))
    await asyncio.wait_for(state["entered"].wait(), 10)
    r = await http.post("/api/v1/impatient-things", json=body, headers=key)
    assert r.status_code == 409
    assert r.json()["code"] == "common.idempotency_request_in_progress"
    state["gate"].set()
    assert (await first).status_code == 201
    again = await http.post("/api/v1/impatient-things", json=body, headers=key)
    assert again.content == (await first).content
    assert state["executions"] == ["slow"]


async def test_a_5xx_releases_the_key_and_a_4xx_is_replayed(api, engine):
    http, state = api
    key = _key()
    boom = {"name": "x", "mode": "boom"}
    assert (await http.post("/api/v1/things", json=boom, headers=key)).status_code == 500
    assert (await http.post("/api/v1/things", json=boom, headers=key)).status_code == 500
    assert state["executions"] == ["x", "x"]  # released each time, so the retry ran
    async with engine.connect() as conn:
        n = (await conn.execute(text("SELECT count(*) FROM api_idempotency"))).scalar_one()
    assert n == 0

    key = _key()
    reject = {"name": "y", "mode": "reject"}
    r1 = await http.post("/api/v1/things", json=reject, headers=key)
    r2 = await http.post("/api/v1/things", json=reject, headers=key)
    assert r1.status_code == r2.status_code == 422
    assert r1.json()["code"] == "test.rejected" and r2.content == r1.content
    assert state["executions"] == ["x", "x", "y"]


async def test_a_stale_reservation_is_taken_over(api, engine):
    http, state = api
    key = str(uuid.uuid4())
    digest = fingerprint("POST", "/api/v1/things", [], b'{"name":"z"}')
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO api_idempotency (principal, key, method, path, request_hash, reserved_at) "
                 "VALUES ('system', :k, 'POST', '/api/v1/things', :h, now() - interval '1 hour')"),
            {"k": key, "h": digest},
        )
    r = await http.post("/api/v1/things", json={"name": "z"}, headers={"Idempotency-Key": key})
    assert r.status_code == 201
    assert state["executions"] == ["z"]


async def test_invalid_key_is_a_problem(api):
    http, state = api
    r = await http.post("/api/v1/things", json={"name": "a"}, headers={"Idempotency-Key": "k" * 256})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert state["executions"] == []


async def test_multipart_uploads_are_fingerprinted_by_content(api):
    http, state = api
    key = _key()
    a = await http.post("/api/v1/documents", files={"file": ("a.pdf", b"%PDF-1")}, data={"title": "t"}, headers=key)
    # httpx picks a new multipart boundary per request: still the same request.
    b = await http.post("/api/v1/documents", files={"file": ("a.pdf", b"%PDF-1")}, data={"title": "t"}, headers=key)
    assert a.status_code == b.status_code == 201 and a.content == b.content
    c = await http.post("/api/v1/documents", files={"file": ("a.pdf", b"%PDF-2")}, data={"title": "t"}, headers=key)
    assert c.status_code == 422 and c.json()["code"] == "common.idempotency_key_reused"
    assert state["executions"] == ["t"]


async def test_entity_ids_derive_from_the_key_so_a_rerun_creates_no_duplicate(api, engine):
    http, state = api
    key = _key()
    first = await http.post("/api/v1/things", json={"name": "a"}, headers=key)
    async with engine.begin() as conn:  # as if the key had been released (5xx) or had expired
        await conn.execute(text("DELETE FROM api_idempotency"))
    rerun = await http.post("/api/v1/things", json={"name": "a"}, headers=key)
    assert state["executions"] == ["a", "a"]
    assert rerun.json()["id"] == first.json()["id"]  # same entity: its workflow/row dedupes the rerun
    other = await http.post("/api/v1/things", json={"name": "a"}, headers={**key, "x-test-subject": "user:9"})
    assert other.json()["id"] != first.json()["id"]
