"""Pydantic schemas of the grid API (communities, grids, buildings, imports, mediation).

They document the limits for API clients; the service still checks every value and words its
problems in Chinese.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from anju.web.params import MAX_ID, NotNull, TextRule

Code = Annotated[
    str,
    TextRule("编号", 32),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"}),
]
CommunityName = Annotated[str, TextRule("社区名称", 64, required=True)]
GridName = Annotated[str, TextRule("网格名称", 64, required=True)]
BuildingName = Annotated[str, TextRule("楼栋名称", 64, required=True)]
Phone = Annotated[str, TextRule("电话", 32)]
Address = Annotated[str, TextRule("地址", 200)]
Note = Annotated[str, TextRule("公开说明", 500)]
PersonName = Annotated[str, TextRule("姓名", 64)]
RequiredPerson = Annotated[str, TextRule("姓名", 64, required=True)]
Title = Annotated[str, TextRule("案件名称", 128, required=True)]
Place = Annotated[str, TextRule("地点", 128)]
Summary = Annotated[str, TextRule("纠纷概况", 2000, multiline=True)]
Notes = Annotated[str, TextRule("调解记录", 4000, multiline=True)]
OutcomeNote = Annotated[str, TextRule("结果说明", 2000, multiline=True)]
Kind = Literal["neighbour", "family", "property", "tenancy", "labour", "expropriation", "other"]
PartyRole = Literal["applicant", "respondent", "third", "witness"]
Outcome = Literal["success", "partial", "failed", "transferred"]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="The version as read; a stale one is a 409.")]
Count = Annotated[int, Field(ge=0, le=100_000)]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def data(self) -> dict[str, Any]:
        """The fields actually sent, without ``version``."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k != "version"}


class Created(BaseModel):
    """Id and version of a new record."""

    id: int
    version: int


class Changed(BaseModel):
    """The audited diff ({field: [old, new]}) and the new version."""

    changes: dict[str, list[Any]]
    version: int


class CommunityCreate(_Write):
    """A new community (社区)."""

    code: Code
    name: CommunityName
    phone: Phone = ""
    address: Address = ""
    sort: Count = 0


class CommunityUpdate(_Write):
    """Changed fields of a community."""

    version: Version
    name: Annotated[CommunityName | None, NotNull("社区名称")] = None
    phone: Annotated[Phone | None, NotNull("电话")] = None
    address: Annotated[Address | None, NotNull("地址")] = None
    sort: Annotated[Count | None, NotNull("排序")] = None


class CommunityRead(BaseModel):
    """A community."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    phone: str
    address: str
    sort: int
    version: int


class GridCreate(_Write):
    """A new grid (网格) of a community; ``boundary`` a GeoJSON Polygon/MultiPolygon (WGS-84)."""

    community_id: RefId
    code: Code
    name: GridName
    boundary: dict[str, Any] | None = None
    worker_user_id: RefId | None = Field(None, description="a user with the role grid_worker")
    public_phone: Phone = ""
    public_note: Note = ""
    households: Count = 0


class GridUpdate(_Write):
    """Changed fields of a grid (``worker_user_id: null`` removes the worker)."""

    version: Version
    community_id: Annotated[RefId | None, NotNull("社区")] = None
    name: Annotated[GridName | None, NotNull("网格名称")] = None
    boundary: dict[str, Any] | None = None
    worker_user_id: RefId | None = None
    public_phone: Annotated[Phone | None, NotNull("公开电话")] = None
    public_note: Annotated[Note | None, NotNull("公开说明")] = None
    households: Annotated[Count | None, NotNull("户数")] = None


class BuildingWrite(_Write):
    """A building (楼栋) of a grid with its leader (楼栋长)."""

    name: BuildingName
    address: Address = ""
    households: Count = 0
    leader_name: PersonName = ""
    leader_phone: Phone = ""
    leader_party_member: bool = False


class BuildingUpdate(_Write):
    """Changed fields of a building."""

    version: Version
    name: Annotated[BuildingName | None, NotNull("楼栋名称")] = None
    address: Annotated[Address | None, NotNull("地址")] = None
    households: Annotated[Count | None, NotNull("户数")] = None
    leader_name: Annotated[PersonName | None, NotNull("楼栋长")] = None
    leader_phone: Annotated[Phone | None, NotNull("电话")] = None
    leader_party_member: Annotated[bool | None, NotNull("党员")] = None


class BuildingRead(BaseModel):
    """A building with its leader."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    address: str
    households: int
    leader_name: str
    leader_phone: str
    leader_party_member: bool
    version: int


class GridRead(BaseModel):
    """A grid with its community, worker and buildings."""

    id: int
    code: str
    name: str
    community_id: int
    community: str
    worker_user_id: int | None
    worker: str
    public_phone: str
    public_note: str
    households: int
    building_households: int
    centroid: list[Decimal] | None
    has_boundary: bool
    version: int
    buildings: list[BuildingRead] = []


class GridImportRead(BaseModel):
    """What an import did."""

    kind: str
    grids_created: int
    grids_updated: int
    communities_created: int
    buildings_created: int
    buildings_updated: int
    message: str


class PartyWrite(BaseModel):
    """A party of a mediation case."""

    model_config = ConfigDict(extra="forbid")
    name: RequiredPerson
    role: PartyRole
    phone: Phone = ""


class CaseCreate(_Write):
    """A new mediation case (矛盾调解)."""

    grid_id: RefId
    title: Title
    kind: Kind
    summary: Summary = ""
    opened_on: date | None = None
    household_ids: list[RefId] = Field([], max_length=50)
    service_request_id: RefId | None = None
    parties: list[PartyWrite] = Field([], max_length=20)


class SessionWrite(_Write):
    """A mediation session of an open case."""

    version: Version
    held_on: date
    place: Place = ""
    mediator: RequiredPerson
    notes: Notes = ""


class CaseClose(_Write):
    """Close a case with its outcome (success / partial / failed / transferred)."""

    version: Version
    outcome: Outcome
    outcome_note: OutcomeNote = ""
    closed_on: date | None = None


class SessionRead(BaseModel):
    """A mediation session."""

    model_config = ConfigDict(from_attributes=True)
    held_on: date
    place: str
    mediator: str
    notes: str


class CaseRead(BaseModel):
    """A mediation case (party phones masked)."""

    id: int
    code: str
    grid_id: int
    grid: str
    title: str
    kind: str
    summary: str
    status: str
    outcome: str
    outcome_note: str
    opened_on: date
    closed_on: date | None
    service_request_id: int | None
    household_ids: list[int]
    parties: list[dict[str, str]]
    sessions: list[SessionRead]
    version: int


class CaseSummary(BaseModel):
    """A case in a list."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    grid_id: int
    title: str
    kind: str
    status: str
    outcome: str
    opened_on: date
    version: int
