"""TermsTemplate: a named, reusable TermValues (credit.md §2.5), event-sourced.

Events: ``initialized {name, values}``, ``term_values_updated {values}``. A template is only a
source to copy from: proposals/facilities store their own TermValues, so updating a template never
changes a loan that already exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from domain.credit.terms import TermValues, validate_term_values
from domain.errors import Conflict, NotFound, ValidationFailed, register
from domain.events import EventSourced


@register
class TermsTemplateNotFound(NotFound):
    code = "credit.terms_template_not_found"
    title = "Terms template not found"


@register
class DuplicateTermsTemplateName(Conflict):
    code = "credit.duplicate_terms_template_name"
    title = "Terms template name taken"


@register
class InvalidTemplateName(ValidationFailed):
    code = "credit.invalid_terms_template_name"
    title = "Invalid terms template name"


def clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidTemplateName("The name must be 1..200 characters.", field="name")
    return name


@dataclass
class TermsTemplate(EventSourced):
    entity_type: ClassVar[str] = "terms_template"
    name: str = ""
    values: TermValues | None = None

    @classmethod
    def create(cls, template_id: str, name: str, values: TermValues, actor: str) -> TermsTemplate:
        template = cls(id=template_id)
        template.record("initialized", {"name": clean_name(name),
                                        "values": validate_term_values(values).model_dump(mode="json"),
                                        "actor": actor})
        return template

    def update_values(self, values: TermValues, actor: str) -> bool:
        """Replace the values; returns False (no event) when they are identical."""
        validate_term_values(values)
        if values == self.values:
            return False
        self.record("term_values_updated", {"values": values.model_dump(mode="json"), "actor": actor})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.name = payload["name"]
            self.values = TermValues.model_validate(payload["values"])
        elif event_type == "term_values_updated":
            self.values = TermValues.model_validate(payload["values"])
        else:  # pragma: no cover - unknown events are a programming error
            raise ValueError(f"unknown terms_template event {event_type}")
