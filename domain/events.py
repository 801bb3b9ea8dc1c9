"""Event-sourcing primitives shared by every entity.

An entity is rebuilt by folding its events in order; commands on it return new events, which the
persistence layer appends with optimistic concurrency (``expected_sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Event:
    """One stored event: ``sequence`` starts at 1 for each entity."""

    entity_type: str
    entity_id: str
    sequence: int
    event_type: str
    payload: dict[str, Any]
    recorded_at: datetime | None = None


@dataclass
class EventSourced:
    """Base for event-sourced aggregates.

    Subclasses implement ``apply(event_type, payload)`` and build new events with ``record`` so the
    in-memory state and the events to persist never diverge.
    """

    entity_type: ClassVar[str] = "entity"
    id: str = ""
    version: int = 0
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list, repr=False)

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def record(self, event_type: str, payload: dict[str, Any]) -> None:
        self.apply(event_type, payload)
        self.pending.append((event_type, payload))

    @classmethod
    def rebuild(cls, entity_id: str, events: list[Event]) -> Self:
        entity = cls(id=entity_id)
        for ev in events:
            entity.apply(ev.event_type, ev.payload)
            entity.version = ev.sequence
        return entity
