"""Pydantic schemas of the compensation API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from anju.core.text import MULTILINE_PATTERN
from anju.web.params import TextRule

MAX_POLICY_SOURCE = 1_000_000  # characters; a real policy text is a few thousand


class PolicyVersionRead(BaseModel):
    """A published policy version (without its source)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    version: int
    name: str
    legal_ref: str
    effective_on: date | None
    content_hash: str
    published_by: str
    published_at: datetime


class PolicyPublish(BaseModel):
    """A policy text to publish as the next version."""

    # Control characters are reported by the policy checker with their line and column.
    source: Annotated[
        str, Field(max_length=MAX_POLICY_SOURCE, json_schema_extra={"pattern": MULTILINE_PATTERN})
    ]
    file_name: Annotated[str, TextRule("文件名", 255)] = "policy.yaml"


class StepRead(BaseModel):
    """One trace line."""

    text: str
    value: str
    note: str = ""


class CertificateRead(BaseModel):
    """A per-certificate part of an item."""

    certificate_no: str
    applies: bool
    amount_fen: int
    notes: list[str]


class ItemRead(BaseModel):
    """One item of the calculation sheet, in fen, with its trace."""

    id: str
    label: str
    applies: bool
    amount_fen: int
    formula: str
    per: str
    steps: list[StepRead]
    notes: list[str]
    certificates: list[CertificateRead]
    ref: str


class CalculationRead(BaseModel):
    """The calculation of one household under one option."""

    household_code: str
    option: str
    as_of: date
    policy_version: int
    policy_hash: str
    total_fen: int
    items: list[ItemRead]
    warnings: list[str]
