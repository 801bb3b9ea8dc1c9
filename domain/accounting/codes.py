"""Account codes: dot-joined digit sections; the ancestor rule of accounting.md §1.3."""

from __future__ import annotations

import uuid

from domain.accounting.errors import InvalidAccountCode

Code = tuple[str, ...]


def parse_code(raw: str) -> Code:
    """``"11.01.0101"`` → ``("11", "01", "0101")``; a leading chart-id (UUID) part is dropped."""
    parts = raw.strip().split(".")
    if len(parts) > 1:
        try:
            uuid.UUID(parts[0])
            parts = parts[1:]
        except ValueError:
            pass
    for p in parts:
        if not p:
            raise InvalidAccountCode(f"Code {raw!r} has an empty section.")
        if not (p.isascii() and p.isdigit()):
            raise InvalidAccountCode(f"Code {raw!r} has a non-digit section {p!r}.")
    return tuple(parts)


def fmt(code: Code) -> str:
    return ".".join(code)


def is_parent_of(parent: Code, child: Code) -> bool:
    """True when ``parent`` is an ancestor (any level) of ``child``."""
    if not parent or not child or parent == child or len(parent) > len(child):
        return False
    for p, c in zip(parent, child, strict=False):
        if not c.startswith(p):
            return False
        if len(c) <= len(p) and c != p:
            return False
    return True


def is_top_level(code: Code) -> bool:
    return len(code) == 1 and len(code[0]) == 1


def valid_name(name: str) -> bool:
    name = name.strip()
    return bool(name) and not name[0].isdigit()
