"""Pydantic schemas of the household API.

Write schemas accept the same loose values as the forms and the census sheet (strings such as
"砖混" or "是"); :mod:`anju.household.rules` cleans them and reports problems per field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

Loose = str | int | Decimal | bool | date | None


class WriteBase(BaseModel):
    """Every write carries an optional reason that goes into the audit record."""

    model_config = ConfigDict(extra="forbid")
    reason: str = ""

    def data(self) -> dict[str, object]:
        """The fields actually sent (for partial updates), without ``reason``/``version``."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in ("reason", "version")}


class HouseholdCreate(WriteBase):
    """New household."""

    code: str
    head_name: str
    address: str
    contact_phone: str | None = None
    remark: str | None = None
    block_id: int | None = None


class HouseholdUpdate(WriteBase):
    """Change basic facts; ``version`` guards against overwriting a concurrent edit."""

    code: str | None = None
    head_name: str | None = None
    address: str | None = None
    contact_phone: str | None = None
    remark: str | None = None
    block_id: int | None = None
    version: int | None = None


class MemberWrite(WriteBase):
    """Create or change a family member."""

    name: str | None = None
    relation: str | None = None
    id_number: str | None = None
    phone: str | None = None
    dibao: Loose = None
    disability_grade: Loose = None
    serious_illness: Loose = None
    martyr_family: Loose = None
    shidu: Loose = None
    only_child: Loose = None
    youfu: Loose = None
    resettlement_counted: Loose = None
    resettlement_reason: str | None = None


class BuildingWrite(WriteBase):
    """Create or change a building (证)."""

    certificate_no: str | None = None
    structure: str | None = None
    use: str | None = None
    floors: Loose = None
    built_year: Loose = None
    legal_area: Loose = None
    unregistered_area: Loose = None
    unregistered_determination: str | None = None
    location: str | None = None


class ValuationWrite(WriteBase):
    """A valuation result of one building (amounts in yuan, 2 decimals)."""

    firm: str
    report_no: str | None = None
    valued_on: Loose = None
    assessed_unit_price: Loose = None
    assessed_value: Loose = None
    decoration: Loose = None
    fixtures: Loose = None


class TenantWrite(WriteBase):
    """A tenant or tenant enterprise."""

    name: str
    kind: str
    credential: str | None = None
    contact_phone: str | None = None
    business: str | None = None
    area: Loose = None
    lease_start_on: Loose = None
    lease_end_on: Loose = None


class HomesteadWrite(WriteBase):
    """Homestead facts of a collective-land household."""

    area: Loose = None
    approved_year: Loose = None
    certificate_no: str | None = None


class VoidIn(BaseModel):
    """Voiding needs a reason."""

    reason: str


class HouseholdRowRead(BaseModel):
    """One line of the household list."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    head_name: str
    address: str
    status: str
    block_id: int | None
    block_path: str
    member_count: int
    legal_area: Decimal
    updated_at: datetime


class HouseholdPage(BaseModel):
    """A page of households."""

    items: list[HouseholdRowRead]
    total: int
    page: int
    size: int
    pages: int


class MemberRead(BaseModel):
    """A member; the identity number is always masked here."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    relation: str
    gender: str
    birth_on: date | None
    id_number_masked: str
    phone: str
    dibao: bool
    disability_grade: int | None
    serious_illness: bool
    martyr_family: bool
    shidu: bool
    only_child: bool
    youfu: bool
    resettlement_counted: bool | None
    resettlement_reason: str


class ValuationRead(BaseModel):
    """The current valuation of a building (fen)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    firm: str
    report_no: str
    valued_on: date | None
    assessed_unit_price_fen: int
    assessed_value_fen: int
    decoration_fen: int
    fixtures_fen: int


class BuildingRead(BaseModel):
    """A building with its current valuation."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    certificate_no: str
    structure: str
    use: str
    floors: int | None
    built_year: int | None
    legal_area: Decimal
    unregistered_area: Decimal
    unregistered_determination: str
    location: str
    valuation: ValuationRead | None = None


class TenantRead(BaseModel):
    """A tenant."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    credential_masked: str
    business: str
    area: Decimal
    lease_start_on: date | None
    lease_end_on: date | None


class HomesteadRead(BaseModel):
    """Homestead facts."""

    model_config = ConfigDict(from_attributes=True)
    area: Decimal
    approved_year: int | None
    certificate_no: str


class AttachmentRead(BaseModel):
    """Attachment metadata."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class HouseholdRead(BaseModel):
    """The whole household file."""

    id: int
    project_id: int
    code: str
    head_name: str
    address: str
    contact_phone: str
    status: str
    block_id: int | None
    block_path: str
    sign_on: date | None
    vacate_on: date | None
    remark: str
    version: int
    updated_at: datetime
    members: list[MemberRead]
    buildings: list[BuildingRead]
    tenants: list[TenantRead]
    homestead: HomesteadRead | None
    attachments: list[AttachmentRead]


class AuditRecordRead(BaseModel):
    """One audit record."""

    model_config = ConfigDict(from_attributes=True)
    seq: int
    at: datetime
    actor_name: str
    action: str
    entity: str
    entity_id: str
    changes: str
    reason: str
    hash: str


class Changed(BaseModel):
    """Result of an update: the field-level diff that was audited."""

    changes: dict[str, list[object]]


class Created(BaseModel):
    """Result of a create."""

    id: int
