"""Pydantic schemas of the grid API (communities, grids, buildings, imports, mediation).

They document the limits for API clients; the service still checks every value and words its
problems in Chinese.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

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

    code: str = Field(max_length=32, description="编号：字母、数字、- 和 _")
    name: str = Field(max_length=64)
    phone: str = Field("", max_length=32)
    address: str = Field("", max_length=200)
    sort: Count = 0


class CommunityUpdate(_Write):
    """Changed fields of a community."""

    version: Version
    name: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    address: str | None = Field(None, max_length=200)
    sort: Count | None = None


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

    community_id: int = Field(ge=1)
    code: str = Field(max_length=32)
    name: str = Field(max_length=64)
    boundary: dict[str, Any] | None = None
    worker_user_id: int | None = Field(None, ge=1, description="a user with the role grid_worker")
    public_phone: str = Field("", max_length=32)
    public_note: str = Field("", max_length=500)
    households: Count = 0


class GridUpdate(_Write):
    """Changed fields of a grid (``worker_user_id: null`` removes the worker)."""

    version: Version
    community_id: int | None = Field(None, ge=1)
    name: str | None = Field(None, max_length=64)
    boundary: dict[str, Any] | None = None
    worker_user_id: int | None = Field(None, ge=1)
    public_phone: str | None = Field(None, max_length=32)
    public_note: str | None = Field(None, max_length=500)
    households: Count | None = None


class BuildingWrite(_Write):
    """A building (楼栋) of a grid with its leader (楼栋长)."""

    name: str = Field(max_length=64)
    address: str = Field("", max_length=200)
    households: Count = 0
    leader_name: str = Field("", max_length=64)
    leader_phone: str = Field("", max_length=32)
    leader_party_member: bool = False


class BuildingUpdate(_Write):
    """Changed fields of a building."""

    version: Version
    name: str | None = Field(None, max_length=64)
    address: str | None = Field(None, max_length=200)
    households: Count | None = None
    leader_name: str | None = Field(None, max_length=64)
    leader_phone: str | None = Field(None, max_length=32)
    leader_party_member: bool | None = None


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
    name: str = Field(max_length=64)
    role: str = Field(description="applicant / respondent / third / witness (or 申请人 …)")
    phone: str = Field("", max_length=32)


class CaseCreate(_Write):
    """A new mediation case (矛盾调解)."""

    grid_id: int = Field(ge=1)
    title: str = Field(max_length=128)
    kind: str = Field(description="neighbour / family / property / tenancy / labour / expropriation / other")
    summary: str = Field("", max_length=2000)
    opened_on: date | None = None
    household_ids: list[int] = Field([], max_length=50)
    service_request_id: int | None = Field(None, ge=1)
    parties: list[PartyWrite] = Field([], max_length=20)


class SessionWrite(_Write):
    """A mediation session of an open case."""

    version: Version
    held_on: date
    place: str = Field("", max_length=128)
    mediator: str = Field(max_length=64)
    notes: str = Field("", max_length=4000)


class CaseClose(_Write):
    """Close a case with its outcome (success / partial / failed / transferred)."""

    version: Version
    outcome: str
    outcome_note: str = Field("", max_length=2000)
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
