"""Every list answers a crafted ``after`` cursor with 422 ``common.invalid_cursor``, never a 500,
and the cursors it hands out still page through (api/pagination.py: one helper for every list)."""

from __future__ import annotations

from tests.fuzz import CURSOR_PROBES, crafted_cursors, cursor_lists


async def test_crafted_cursors_are_422_invalid_cursor_on_every_list(stack):
    paths = cursor_lists(stack.app.openapi())
    for required in ("/api/v1/audit-entries", "/api/v1/users", "/api/v1/roles", "/api/v1/permission-sets",
                     "/api/v1/committees", "/api/v1/approval-processes", "/api/v1/policies", "/api/v1/manual-transactions",
                     "/api/v1/deposits"):
        assert required in paths
    failures = []
    for path in paths:
        for cursor in CURSOR_PROBES:
            r = await stack.http.get(path, params={"after": cursor})
            if r.status_code != 422 or r.json().get("code") != "common.invalid_cursor":
                failures.append(f"{path} after={cursor!r}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_the_fuzz_cursor_strategy_makes_such_cursors():
    from hypothesis import given, settings

    seen = []

    @settings(max_examples=30, database=None, derandomize=True)
    @given(crafted_cursors())
    def collect(cursor):
        seen.append(cursor)

    collect()
    assert all(isinstance(c, str) and len(c) <= 512 for c in seen)
    assert len(set(seen)) > 10


async def test_cursors_handed_out_page_through_every_kind_of_key(stack):
    for i in range(3):  # users: created_at and e-mail keys
        await stack.token_for(f"pager-{i}@example.com", "admin")
    for path, params in (("/api/v1/audit-entries", {}), ("/api/v1/users", {"sort": "email"}),
                         ("/api/v1/users", {}), ("/api/v1/permission-sets", {}), ("/api/v1/roles", {"sort": "name"}),
                         ("/api/v1/policies", {})):
        seen, after = [], None
        for _ in range(50):
            r = await stack.http.get(path, params={**params, "first": 2, **({"after": after} if after else {})})
            assert r.status_code == 200, (path, r.text)
            body = r.json()
            seen += [item["id"] for item in body["items"]]
            after = body["next_cursor"]
            if after is None:
                break
        assert len(seen) == len(set(seen)) >= 3, (path, seen)
