"""Pydantic schemas of the project API."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class BlockRead(BaseModel):
    """A block (片区/村/组) of a project."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    parent_id: int | None
    code: str
    name: str
    level: str


class ProjectRead(BaseModel):
    """A project with its household counts by status (within the caller's scope)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    kind: str
    status: str
    district: str
    signing_start_on: date | None
    signing_end_on: date | None
    households_by_status: dict[str, int] = {}


class ProjectDetail(ProjectRead):
    """A project with its block tree."""

    blocks: list[BlockRead] = []
