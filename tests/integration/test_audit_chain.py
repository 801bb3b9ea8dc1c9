"""The audit log: append-only, HMAC-chained, sealed out of band, its head anchored outside the
database; tampering detected by verify."""

import hashlib
import os
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from activities import audit
from domain.audit.chain import AuditRecord, link

KEYS = audit.AuditKeys("k1", {"k1": b"test-audit-key-" + b"x" * 17})


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

    keys = audit.AuditKeys.from_settings(stack.settings)
    await audit.seal(stack.engine, keys)
    report = await audit.verify(stack.engine, keys)
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
    report = await audit.verify(stack.engine, keys)
    assert not report.ok and report.first_bad_entry == rows[1].id and "altered" in report.problem


async def test_deleted_entry_is_detected(engine):
    async with engine.begin() as conn:
        ids = [await audit.record_system_action(conn, "deposit/withdrawal/1", "deposit:withdrawal:confirm",
                                                subject="deposit-approval", workflow_id=f"wf-{i}")
               for i in range(3)]
    await audit.seal(engine, KEYS)
    assert (await audit.verify(engine, KEYS)).ok
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        await conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[1]})
        await conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
    report = await audit.verify(engine, KEYS)
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
    await audit.seal(engine, KEYS)
    report = await audit.verify(engine, KEYS)
    assert report.ok and report.sealed == 0 and report.unsealed == 1  # waits for the open transaction
    await slow.commit()
    await slow.close()
    await audit.seal(engine, KEYS)
    report = await audit.verify(engine, KEYS)
    assert report.ok and report.sealed == 2 and report.unsealed == 0


# --- keyed chain and anchors: what the database role alone cannot hide ----------------------------

KEY_TEXT = KEYS.keys["k1"].decode()


async def _triggers(conn, action: str) -> None:
    for table in ("audit_entries", "audit_seals"):
        await conn.execute(text(f"ALTER TABLE {table} {action} TRIGGER USER"))


async def _chain_of(engine, n: int, anchors) -> list[int]:
    async with engine.begin() as conn:
        ids = [await audit.record(conn, "system:test", f"x/y/{i}", "x:y:z", True) for i in range(n)]
    await audit.seal(engine, KEYS)
    assert await audit.anchor(engine, KEYS, anchors) is not None
    return ids


async def _positions(engine) -> dict[int, int]:
    async with engine.connect() as conn:
        return dict((await conn.execute(text("SELECT entry_id, position FROM audit_seals"))).all())


async def _rewrite_from(engine, entry_id: int, hasher, key_id) -> None:
    """What a tamperer with the database role does: recompute every seal from ``entry_id`` on."""
    async with engine.begin() as conn:
        await _triggers(conn, "DISABLE")
        rows = (await conn.execute(text(
            f"SELECT s.position, s.hash, {audit._COLS} FROM audit_seals s "
            "JOIN audit_entries e ON e.id = s.entry_id ORDER BY s.position"))).all()
        prev, started = bytes(32), False
        for row in rows:
            started = started or row.id == entry_id
            if not started:
                prev = bytes(row.hash)
                continue
            prev = hasher(prev, audit._record(row))
            await conn.execute(text("UPDATE audit_seals SET hash = :h, key_id = :k WHERE position = :p"),
                               {"h": prev, "k": key_id, "p": row.position})
        await _triggers(conn, "ENABLE")


async def _lana_audit(*args: str, db_url: str, anchors) -> tuple[int, str]:
    import asyncio

    env = {**os.environ, "LANA_ENVIRONMENT": "test", "LANA_DATABASE_URL": db_url,
           "LANA_AUDIT_ANCHOR_PATH": str(anchors.path), "LANA_AUDIT_HMAC_KEY": KEY_TEXT,
           "LANA_AUDIT_HMAC_KEY_ID": "k1", "LANA_LOG_JSON": "false"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "workers.cli", "audit", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_deleting_the_newest_entries_with_their_seals_is_detected_by_the_anchor(engine, db_url, tmp_path):
    anchors = audit.AnchorLog(tmp_path / "anchors.jsonl")
    ids = await _chain_of(engine, 5, anchors)
    positions = await _positions(engine)
    code, out = await _lana_audit("verify", db_url=db_url, anchors=anchors)
    assert code == 0 and "audit chain OK" in out, out

    async with engine.begin() as conn:
        await _triggers(conn, "DISABLE")
        await conn.execute(text("DELETE FROM audit_seals WHERE entry_id = ANY(:ids)"), {"ids": ids[3:]})
        await conn.execute(text("DELETE FROM audit_entries WHERE id = ANY(:ids)"), {"ids": ids[3:]})
        await _triggers(conn, "ENABLE")
    assert (await audit.verify(engine, KEYS)).ok  # the database alone cannot tell ...
    report = await audit.verify(engine, KEYS, anchors)  # ... the anchor can
    assert not report.ok and report.first_bad_position == positions[ids[3]]
    assert "deleted with their seals" in report.problem and f"entry {ids[4]}" in report.problem
    code, out = await _lana_audit("verify", db_url=db_url, anchors=anchors)
    assert code == 1 and f"BROKEN at position {positions[ids[3]]}" in out, out

    # the sealer goes on sealing, but never anchors a head that does not extend the last anchor
    async with engine.begin() as conn:
        await audit.record(conn, "system:test", "x/y/new", "x:y:z", True)
    await audit.seal(engine, KEYS)
    assert await audit.anchor(engine, KEYS, anchors) is None
    assert not (await audit.verify(engine, KEYS, anchors)).ok


def _unkeyed(prev: bytes, record: AuditRecord) -> bytes:
    return link(prev, record)


def _guessed_key(prev: bytes, record: AuditRecord) -> bytes:
    from domain.audit.chain import keyed_link

    return keyed_link(b"a guess at the key", prev, record)


@pytest.mark.parametrize("rewrite", ["trigger disabled, seals kept", "recomputed unkeyed",
                                     "recomputed as pre-key seals", "recomputed with a guessed key"])
async def test_an_edited_entry_is_named_even_when_the_chain_is_recomputed(engine, tmp_path, rewrite):
    anchors = audit.AnchorLog(tmp_path / "anchors.jsonl")
    ids = await _chain_of(engine, 4, anchors)
    async with engine.begin() as conn:
        await _triggers(conn, "DISABLE")
        await conn.execute(text("UPDATE audit_entries SET authorized = false WHERE id = :id"), {"id": ids[1]})
        await _triggers(conn, "ENABLE")
    if rewrite == "recomputed unkeyed":
        await _rewrite_from(engine, ids[1], _unkeyed, "k1")
    elif rewrite == "recomputed as pre-key seals":
        await _rewrite_from(engine, ids[1], _unkeyed, None)
    elif rewrite == "recomputed with a guessed key":
        await _rewrite_from(engine, ids[1], _guessed_key, "k1")
    for with_anchor in (anchors, None):  # the key alone names it; the anchor does not hide it
        report = await audit.verify(engine, KEYS, with_anchor)
        assert not report.ok and report.first_bad_entry == ids[1], report
        assert "altered" in report.problem


async def test_keys_rotate_and_pre_key_seals_are_accepted_as_an_anchored_prefix(engine, tmp_path):
    anchors = audit.AnchorLog(tmp_path / "anchors.jsonl")
    async with engine.begin() as conn:
        old = [await audit.record(conn, "system:test", "x/y/old", "x:y:z", True) for _ in range(2)]
    await audit.seal(engine, KEYS)
    await _rewrite_from(engine, old[0], _unkeyed, None)  # as sealed before the chain was keyed
    ids = await _chain_of(engine, 2, anchors)
    assert anchors.latest()["legacy_until"] == (await _positions(engine))[old[1]]
    assert (await audit.verify(engine, KEYS, anchors)).ok

    rotated = audit.AuditKeys("k2", {"k1": KEYS.keys["k1"], "k2": hashlib.sha256(b"next").digest()})
    async with engine.begin() as conn:
        newer = await audit.record(conn, "system:test", "x/y/newer", "x:y:z", True)
    await audit.seal(engine, rotated)
    assert (await audit.anchor(engine, rotated, anchors))["key_id"] == "k2"
    assert (await audit.verify(engine, rotated, anchors)).ok
    report = await audit.verify(engine, KEYS)  # without the new key
    assert not report.ok and report.first_bad_entry == newer and "unknown key 'k2'" in report.problem
    assert ids


def test_the_anchor_log_survives_a_torn_last_line(tmp_path):
    anchors = audit.AnchorLog(tmp_path / "audit" / "anchors.jsonl")
    assert anchors.latest() is None
    for position in range(1, 2001):
        anchors.append({"position": position, "pad": "x" * 64})
    with anchors.path.open("ab") as f:  # a crash in the middle of a write
        f.write(b'{"position": 2001, "pa')
    assert anchors.latest(block=512)["position"] == 2000
    anchors.append({"position": 2002})
    assert anchors.latest()["position"] == 2002
    assert anchors.path.stat().st_mode & 0o777 == 0o600
