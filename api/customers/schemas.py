"""Request and response bodies of the customer API (snake_case, api-surface.md §0)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from api.capabilities import CAPABILITIES_FIELD
from api.enums import ApiEnum
from domain.customers.documents import DocumentStatus
from domain.customers.model import Activity, CustomerStatus, CustomerType, KycLevel, KycStatus

Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
TelegramHandle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                                  pattern=r"^@?[A-Za-z0-9_]+$")]


class CustomerCreate(BaseModel):
    email: Email
    telegram_handle: TelegramHandle
    customer_type: ApiEnum[CustomerType]


class EmailUpdate(BaseModel):
    email: Email


class TelegramHandleUpdate(BaseModel):
    telegram_handle: TelegramHandle


class CustomerOut(BaseModel):
    id: str
    email: str
    telegram_handle: str
    customer_type: ApiEnum[CustomerType]
    kyc_status: ApiEnum[KycStatus]
    kyc_level: ApiEnum[KycLevel]
    applicant_id: str | None
    activity: ApiEnum[Activity]
    status: ApiEnum[CustomerStatus]
    last_activity_at: datetime
    created_at: datetime

    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD

    @classmethod
    def from_row(cls, r) -> CustomerOut:
        return cls(id=str(r.id), email=r.email, telegram_handle=r.telegram_handle,
                   customer_type=r.customer_type, kyc_status=r.kyc_status, kyc_level=r.kyc_level,
                   applicant_id=r.applicant_id, activity=r.activity, status=r.status,
                   last_activity_at=r.last_activity_at,
                   created_at=r.created_at)


class KycLinkOut(BaseModel):
    url: str


class DocumentOut(BaseModel):
    id: str
    customer_id: str
    original_filename: str
    sanitized_filename: str
    content_type: str
    size_bytes: int
    status: ApiEnum[DocumentStatus]
    created_at: datetime

    @classmethod
    def from_row(cls, r) -> DocumentOut:
        return cls(id=str(r.id), customer_id=str(r.customer_id), original_filename=r.original_filename,
                   sanitized_filename=r.sanitized_filename, content_type=r.content_type,
                   size_bytes=r.size_bytes, status=r.status, created_at=r.created_at)


class DownloadLinkOut(BaseModel):
    url: str
    expires_at: datetime
