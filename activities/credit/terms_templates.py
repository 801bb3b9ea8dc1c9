"""Terms templates: events + the ``terms_templates`` read model, written in one transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from domain.credit.terms_template import DuplicateTermsTemplateName, TermsTemplate, TermsTemplateNotFound

metadata = MetaData()

terms_templates = Table(
    "terms_templates",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("term_values", JSONB, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class TemplateIdTaken(Exception):
    """The id already exists (a replayed create with the same Idempotency-Key)."""


async def insert_template(conn: AsyncConnection, template: TermsTemplate, actor: str) -> None:
    """Persist a new template; a taken name → 409 and nothing written."""
    assert template.values is not None
    try:
        async with conn.begin_nested():
            await conn.execute(insert(terms_templates).values(
                id=template.id, name=template.name, term_values=template.values.model_dump(mode="json"),
                version=len(template.pending), created_by=actor, created_at=func.now(), updated_at=func.now()))
    except IntegrityError as exc:
        if "terms_templates_pkey" in str(exc.orig):
            raise TemplateIdTaken(template.id) from exc
        raise DuplicateTermsTemplateName(f"A terms template named {template.name!r} exists.",
                                         field="name") from exc
    await event_store.save_entity(conn, template)


async def load_template(conn: AsyncConnection, template_id: str) -> TermsTemplate:
    template = await event_store.load_entity(conn, TermsTemplate, template_id)
    if template is None:
        raise TermsTemplateNotFound(f"Terms template {template_id} does not exist.")
    return template


async def save_template(conn: AsyncConnection, template: TermsTemplate) -> None:
    if not template.pending:
        return
    assert template.values is not None
    await event_store.save_entity(conn, template)
    await conn.execute(update(terms_templates).where(terms_templates.c.id == template.id).values(
        term_values=template.values.model_dump(mode="json"), version=template.version, updated_at=func.now()))


async def template_row(conn: AsyncConnection, template_id: str):
    row = (await conn.execute(select(terms_templates).where(terms_templates.c.id == template_id))).first()
    if row is None:
        raise TermsTemplateNotFound(f"Terms template {template_id} does not exist.")
    return row
