"""Pydantic schemas of the household API.

Write schemas accept the same loose values as the forms and the census sheet (strings such as
"砖混" or "是"); :mod:`anju.household.rules` cleans them and reports problems per field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from anju.household import rules
from anju.web.params import MAX_ID, NotNull, Reason, RequiredReason, TextRule

# The JSON types below document what the cleaners of anju.household.rules accept, so that API
# clients (and schemathesis) see the real rules; the cleaners still judge every value and word
# their messages in Chinese. Strings such as "砖混", "是" or "12.50" stay accepted.
_YEAR_NOW = date.today().year


def _enum(options: dict[str, str] | tuple[str, ...]) -> dict[str, Any]:
    values = [*options.keys(), *options.values()] if isinstance(options, dict) else list(options)
    return {"type": "string", "enum": values}


def _int(lo: int, hi: int) -> dict[str, Any]:
    return {"anyOf": [{"type": "integer", "minimum": lo, "maximum": hi}, {"type": "null"}]}


def _amount(hi: Decimal | int, *, nullable: bool = True) -> dict[str, Any]:
    """A figure of 0 to ``hi`` with at most 2 decimals: an integer, or a decimal string.

    The string form is documented with one digit less than ``hi`` has (a pattern cannot say
    "at most 20000"); the server accepts the whole range in both forms.
    """
    digits = len(str(int(hi))) - 1
    forms: list[dict[str, Any]] = [
        {"type": "integer", "minimum": 0, "maximum": int(hi)},
        {"type": "string", "pattern": f"^[0-9]{{1,{digits}}}(\\.[0-9]{{1,2}})?$"},
    ]
    return {"anyOf": [*forms, {"type": "null"}] if nullable else forms}


YesNo = Annotated[
    bool | str | None,
    WithJsonSchema(
        {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["是", "否"]}, {"type": "null"}]}
    ),
]
Phone = Annotated[
    Annotated[str, TextRule("联系电话", 32)] | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})?$"},
                {"type": "null"},
            ]
        }
    ),
]
Code = Annotated[
    str, TextRule("户号", 32), WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"})
]
IdNumber = Annotated[
    str, TextRule("身份证号", 32), WithJsonSchema({"type": "string", "pattern": "^[0-9]{17}[0-9X]$"})
]
BlockId = Annotated[int, Field(ge=1, le=MAX_ID)]
DateIn = Annotated[
    date | str | None, WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]})
]
HeadName = Annotated[str, TextRule("户主姓名", 64, required=True)]
Address = Annotated[str, TextRule("房屋坐落", 255, required=True)]
Remark = Annotated[str, TextRule("备注", 1000, multiline=True)]
Relation = Annotated[str, WithJsonSchema(_enum(rules.RELATIONS))]
Structure = Annotated[str, WithJsonSchema(_enum(rules.STRUCTURES))]
Use = Annotated[str, WithJsonSchema(_enum(rules.USES))]
Determination = Annotated[str, WithJsonSchema(_enum(rules.DETERMINATIONS))]
TenantKind = Annotated[str, WithJsonSchema(_enum(rules.TENANT_KINDS))]
Grade = Annotated[int | str | None, WithJsonSchema(_int(1, 4))]
Floors = Annotated[int | str | None, WithJsonSchema(_int(1, 60))]
BuiltYear = Annotated[int | str | None, WithJsonSchema(_int(1900, _YEAR_NOW))]
ApprovedYear = Annotated[int | str | None, WithJsonSchema(_int(1950, _YEAR_NOW))]
Area = Annotated[Decimal | int | str | None, WithJsonSchema(_amount(rules.MAX_BUILDING_AREA))]
LegalArea = Annotated[Decimal | int | str, WithJsonSchema(_amount(rules.MAX_BUILDING_AREA, nullable=False))]
HomesteadArea = Annotated[
    Decimal | int | str, WithJsonSchema(_amount(rules.MAX_HOMESTEAD_AREA, nullable=False))
]
UnitPrice = Annotated[Decimal | int | str, WithJsonSchema(_amount(1000000, nullable=False))]
Value = Annotated[Decimal | int | str, WithJsonSchema(_amount(1000000000, nullable=False))]
Extra = Annotated[Decimal | int | str | None, WithJsonSchema(_amount(100000000))]


# The version of a member, building or homestead as read: optional (clients should send it; the
# pages always do); when sent, a stale one is a 409 naming who changed the record.
OptionalVersion = Annotated[
    int | None,
    Field(ge=1, le=2**31 - 1, description="The record's version as read; when sent, a stale one is a 409."),
]


class WriteBase(BaseModel):
    """Every write carries an optional reason that goes into the audit record (at most 500 characters)."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason = ""

    def data(self) -> dict[str, object]:
        """The fields actually sent (for partial updates), without ``reason``/``version``."""
        return {
            k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in ("reason", "version")
        }


class HouseholdCreate(WriteBase):
    """New household."""

    code: Code
    head_name: HeadName
    address: Address
    contact_phone: Phone = None
    remark: Remark | None = None
    block_id: BlockId | None = None


class HouseholdUpdate(WriteBase):
    """Change basic facts; ``version`` guards against overwriting a concurrent edit.

    A field left out stays as it is; required facts cannot be cleared (no ``null``).
    """

    code: Annotated[Code | None, NotNull("户号")] = None
    head_name: Annotated[HeadName | None, NotNull("户主姓名")] = None
    address: Annotated[Address | None, NotNull("房屋坐落")] = None
    contact_phone: Phone = None
    remark: Remark | None = None
    block_id: BlockId | None = None
    version: Annotated[
        int,
        Field(ge=1, le=2**31 - 1, description="The household's version as read (GET); a stale one is a 409."),
    ]


class _MemberFacts(WriteBase):
    phone: Phone = None
    dibao: YesNo = None
    disability_grade: Grade = None
    serious_illness: YesNo = None
    martyr_family: YesNo = None
    shidu: YesNo = None
    only_child: YesNo = None
    youfu: YesNo = None
    resettlement_counted: YesNo = None
    resettlement_reason: Annotated[str, TextRule("安置人口认定理由", 255)] | None = None


class MemberCreate(_MemberFacts):
    """A new family member."""

    name: Annotated[str, TextRule("姓名", 64, required=True)]
    relation: Relation
    id_number: IdNumber


class MemberWrite(_MemberFacts):
    """Change a family member: the fields sent change; required facts cannot be cleared (no ``null``)."""

    name: Annotated[Annotated[str, TextRule("姓名", 64, required=True)] | None, NotNull("姓名")] = None
    relation: Annotated[Relation | None, NotNull("与户主关系")] = None
    id_number: Annotated[IdNumber | None, NotNull("身份证号")] = None
    version: OptionalVersion = None


class _BuildingFacts(WriteBase):
    certificate_no: Annotated[str, TextRule("产权证号", 64)] | None = None
    floors: Floors = None
    built_year: BuiltYear = None
    unregistered_area: Area = None
    unregistered_determination: Determination | None = None
    location: Annotated[str, TextRule("位置", 255)] | None = None


class BuildingCreate(_BuildingFacts):
    """A new building (证)."""

    structure: Structure
    use: Use
    legal_area: LegalArea


class BuildingWrite(_BuildingFacts):
    """Change a building: the fields sent change; required facts cannot be cleared (no ``null``)."""

    structure: Annotated[Structure | None, NotNull("结构")] = None
    use: Annotated[Use | None, NotNull("用途")] = None
    legal_area: Annotated[LegalArea | None, NotNull("合法面积")] = None
    version: OptionalVersion = None


class ValuationWrite(WriteBase):
    """A valuation result of one building (amounts in yuan, 2 decimals)."""

    firm: Annotated[str, TextRule("评估机构", 128, required=True)]
    report_no: Annotated[str, TextRule("报告编号", 64)] | None = None
    valued_on: DateIn = None
    assessed_unit_price: UnitPrice
    assessed_value: Value
    decoration: Extra = None
    fixtures: Extra = None


class TenantWrite(WriteBase):
    """A tenant or tenant enterprise."""

    name: Annotated[str, TextRule("承租人", 128, required=True)]
    kind: TenantKind
    credential: Annotated[str, TextRule("证件号/信用代码", 32)] | None = None
    contact_phone: Phone = None
    business: Annotated[str, TextRule("经营内容", 128)] | None = None
    area: Area = None
    lease_start_on: DateIn = None
    lease_end_on: DateIn = None


class HomesteadWrite(WriteBase):
    """Homestead facts of a collective-land household."""

    area: HomesteadArea
    approved_year: ApprovedYear = None
    certificate_no: Annotated[str, TextRule("宅基地证号", 64)] | None = None
    version: OptionalVersion = None


class PolicyFactRead(BaseModel):
    """One fact the project's policy declares, with this household's value."""

    id: str
    label: str
    type: str  # number | count | money | date | yesno | category
    unit: str
    required: bool
    ref: str
    choices: list[str]
    value: str | None  # stored text: 3, 12.50, true, 2025-06-30, 精装 (identifier of a category)
    shown: str  # the value in words: 3 台
    missing: bool  # required and not recorded: the policy cannot compute this household


class PolicyFactGroupRead(BaseModel):
    """The declared facts of one building (certificate) or member (``level: building`` / ``member``);
    write them back as ``building.<id>.fact.ID`` / ``member.<id>.fact.ID``."""

    id: int  # the building's or member's id
    place: str  # 证 X1 / 成员 张某
    facts: list[PolicyFactRead]


class PolicyFactsRead(BaseModel):
    """The household's declared facts and the household's version (send it back with a change);
    ``facts`` holds the household-level ones, ``buildings`` and ``members`` those of each building
    and member (empty when the policy declares none of that level)."""

    version: int
    facts: list[PolicyFactRead]
    buildings: list[PolicyFactGroupRead] = []
    members: list[PolicyFactGroupRead] = []


FactInput = Annotated[str, StringConstraints(max_length=64)] | bool | int | Decimal | None


class PolicyFactsWrite(WriteBase):
    """Set declared facts by id (``{"ac_units": 3, "reward_area": "12.50"}``), a building's or a
    member's as ``building.<id>.fact.ID`` / ``member.<id>.fact.ID``; ``null`` or ``""`` clears one;
    decimals best as strings. All or nothing: any bad value refuses every one."""

    values: Annotated[
        dict[Annotated[str, StringConstraints(max_length=120)], FactInput], Field(max_length=500)
    ]
    version: OptionalVersion = None


class VoidIn(BaseModel):
    """Voiding needs a reason (at most 500 characters)."""

    model_config = ConfigDict(extra="forbid")
    reason: RequiredReason


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
    version: int
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
    version: int
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
    version: int
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
    version: int
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
    """Result of an update: the field-level diff that was audited, and the record's version now
    (send it with the next change; absent where nothing versioned changed)."""

    changes: dict[str, list[object]]
    version: int | None = None


class Created(BaseModel):
    """Result of a create."""

    id: int
