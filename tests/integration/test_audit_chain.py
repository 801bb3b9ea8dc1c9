"""The audit log: append-only, hash-chained, sealed out of band, tampering detected by verify."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from activities import audit


async def _entries(engine, **where):
    cond = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    async with engine.connect() as conn:
        return (await conn.execute(text(f"SELECT * FROM audit_entries WHERE {cond} ORDER BY id"), where)).all()


async def test_requests_are_audited_sealed_and_tampering_is_named(stack):
    for _ in range(3):
        assert (await stack.http.get("/api/v1/roles")).status_code == 200
    me = (await stack.http.get("/api/v1/me")).json()["user"]["id"]
    rows = await _entries(stack.engine, subject=f"user:{me}", action="access:role:list")
    assert len(rows) == 3 and all(r.authorized and r.object == "access/role/*" and r.request_id for r in rows)

    await audit.seal(stack.engine)
    report = await audit.verify(stack.engine)
    assert report.ok and report.sealed >= 4

    # listing through the API, filtered and paginated, newest first
    r = await stack.http.get("/api/v1/audit-entries", params={"action": "access:role:list", "first": 2})
    page1 = r.json()
    assert [e["action"] for e in page1["items"]] == ["access:role:list"] * 2 and page1["next_cursor"]
    r = await stack.http.get("/api/v1/audit-entries",
                             params={"action": "access:role:list", "first": 2, "after": page1["next_cursor"]})
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"] is None
    assert page1["items"][0]["id"] > page1["items"][1]["id"] > r.json()["items"][0]["id"]
    r = await stack.http.get("/api/v1/audit-entries", params={"since": "2000-01-01T00:00:00Z",
                                                              "until": "2000-01-02T00:00:00Z"})
    assert r.json()["items"] == []
    assert f"user:{me}" in (await stack.http.get("/api/v1/audit-entries/subjects")).json()

    # the table refuses updates and deletes ...
    async with stack.engine.begin() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE audit_entries SET authorized = false WHERE id = :id"), {"id": rows[1].id})
    # ... so a tamperer with superuser rights disables the trigger first; verify still names the row
    async with stack.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await conn.execute(text("UPDATE audit_entries SET subject = 'user:someone-else' WHERE id = :id"),
                           {"id": rows[1].id})
        await conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
    report = await audit.verify(stack.engine)
    assert not report.ok and report.first_bad_entry == rows[1].id and "altered" in report.problem


async def test_deleted_entry_is_detected(engine):
    async with engine.begin() as conn:
        ids = [await audit.record_system_action(conn, "deposit/withdrawal/1", "deposit:withdrawal:confirm",
                                                subject="deposit-approval", workflow_id=f"wf-{i}")
               for i in range(3)]
    await audit.seal(engine)
    assert (await audit.verify(engine)).ok
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[1]})
        await conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
    report = await audit.verify(engine)
    assert report.first_bad_entry == ids[1] and "deleted" in report.problem


async def test_system_actions_roll_back_with_the_business_transaction(engine):
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await audit.record_system_action(conn, "credit/disbursal/9", "credit:disbursal:settle",
                                             workflow_id="disbursal-9")
            raise RuntimeError("business failure")
    assert await _entries(engine, workflow_id="disbursal-9") == []
    async with engine.begin() as conn:
        await audit.record_system_action(conn, "credit/disbursal/9", "credit:disbursal:settle",
                                         workflow_id="disbursal-9")
    [row] = await _entries(engine, workflow_id="disbursal-9")
    assert row.subject == "system:workflow" and row.authorized


async def test_an_entry_committed_late_is_chained_after_the_ones_sealed_before(engine):
    """Entry ids are taken at insert; an open transaction holding a lower id must not be skipped."""
    slow = await engine.connect()
    await slow.begin()
    early = await audit.record(slow, "system:slow", "x/y/*", "x:y:z", True)  # id taken, not committed
    async with engine.begin() as conn:
        late = await audit.record(conn, "system:fast", "x/y/*", "x:y:z", True)
    assert late > early
    await audit.seal(engine)
    report = await audit.verify(engine)
    assert report.ok and report.sealed == 0 and report.unsealed == 1  # waits for the open transaction
    await slow.commit()
    await slow.close()
    await audit.seal(engine)
    report = await audit.verify(engine)
    assert report.ok and report.sealed == 2 and report.unsealed == 0
