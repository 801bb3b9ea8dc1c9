"""The authorizer's decision cache: one decision per (subject, module/entity, action) only while no
grant names an object id, and always the enforcer's own answer."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from activities.policy import build_enforcer
from api.authz import Authorizer, ids_irrelevant


def _rows(*grants: tuple[str, str, str]) -> list[tuple[str, ...]]:
    return [("g", "user:a", "role:ops", "", "", "", ""), ("g", "user:b", "role:viewer", "", "", "", "")] + [
        ("p", sub, obj, act, "", "", "") for sub, obj, act in grants]


def _authorizer(rows: list[tuple[str, ...]]) -> Authorizer:
    authz = Authorizer.__new__(Authorizer)
    authz.policies = SimpleNamespace(enforcer=build_enforcer(rows), version=1)
    authz._decisions, authz._decisions_version, authz._id_free = {}, None, False
    return authz


def test_wildcard_grants_make_ids_irrelevant() -> None:
    enforcer = build_enforcer(_rows(("role:ops", "credit/facility/*", "credit:facility:read"),
                                    ("role:ops", "deposit/*", "deposit:account:read"), ("role:ops", "*", "x:y:z")))
    assert ids_irrelevant(enforcer)


def test_a_grant_naming_an_id_keeps_decisions_per_id() -> None:
    for pattern in ("credit/facility/0f1e", "credit/facility/0f*"):
        assert not ids_irrelevant(build_enforcer(_rows(("role:ops", pattern, "credit:facility:read"))))


def test_cached_decisions_equal_the_enforcers_for_every_id() -> None:
    grants = [("role:ops", "credit/facility/*", "credit:facility:read"),
              ("role:viewer", "credit/*", "credit:facility:read"),
              ("role:ops", "deposit/account/*", "deposit:account:update")]
    specific = str(uuid.uuid4())
    for rows in (_rows(*grants), _rows(*grants, ("role:viewer", f"deposit/account/{specific}",
                                                 "deposit:account:update"))):
        authz, enforcer = _authorizer(rows), build_enforcer(rows)
        ids = [str(uuid.uuid4()) for _ in range(5)] + [specific, "*"]
        for subject in ("user:a", "user:b", "user:c"):
            for obj_prefix, action in (("credit/facility", "credit:facility:read"),
                                       ("deposit/account", "deposit:account:update")):
                for object_id in ids:
                    obj = f"{obj_prefix}/{object_id}"
                    assert authz._enforce(1, subject, obj, action) == enforcer.enforce(subject, obj, action), (
                        subject, obj, action)
    # the id-specific grant is honoured: only that account, only for the viewer
    assert authz._enforce(1, "user:b", f"deposit/account/{specific}", "deposit:account:update")
    assert not authz._enforce(1, "user:b", f"deposit/account/{uuid.uuid4()}", "deposit:account:update")
