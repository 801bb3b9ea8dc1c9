"""Capabilities (api-surface §13 spec rule): which commands the caller may run on a resource now.

A resource read answers ``capabilities``: ``{command: bool}``, one flag per command of the resource,
true when both hold:

- the caller's role grants the command's permission (casbin, on the resource's object, exactly as
  the command's route checks it), decided **silently**: ``Authorizer.can`` asks the enforcer
  without the auditing wrapper, so a read writes its one audit entry and no entry per flag (§C2:
  silent checks are not audited);
- the aggregate's own predicate (``check_*``) accepts the command on the entity's current state:
  it returns True, rather than False (nothing to do: an idempotent replay) or raising the refusal.
  The rule is the one the command runs, never a second copy of it.

A flag is a hint for a front end (grey out what would be refused); the command still checks
everything again when it runs (a state can change in between).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import Field

from api.authz import Authorizer, Principal, permission_object
from domain.errors import LanaError

CAPABILITIES_FIELD: Any = Field(None, description="Commands the caller may run on this resource now: {command: "
                                                  "bool} from their permissions and the entity's state (single "
                                                  "reads only; null in lists). See docs/portal.md")


def accepts(predicate: Callable[[], Any]) -> bool:
    """Whether the aggregate's predicate says go (True), not a replay (False) nor a refusal (raises)."""
    try:
        return predicate() is True
    except LanaError:
        return False


@dataclass(frozen=True)
class Command:
    """One command of a resource: the permission its route checks (on ``object_id``, None = ``*``),
    any further permissions it checks (``also``), and the aggregate's predicate for it."""

    permission: str
    object_id: str | None
    predicate: Callable[[], Any]
    also: tuple[tuple[str, str | None], ...] = ()


def capabilities(request: Request, principal: Principal, commands: dict[str, Command]) -> dict[str, bool]:
    """``{name: flag}``; a command's predicate runs only when every permission is granted."""
    authz: Authorizer = request.app.state.authz
    return {name: all(authz.can(principal, p, o) for p, o in ((c.permission, c.object_id), *c.also))
            and accepts(c.predicate) for name, c in commands.items()}


def ok(check: Callable[[], None]) -> Callable[[], bool]:
    """A predicate made of an ``ensure_*`` rule (returns None or raises the refusal)."""
    return lambda: check() is None


__all__ = ["CAPABILITIES_FIELD", "Command", "accepts", "capabilities", "ok", "permission_object"]
