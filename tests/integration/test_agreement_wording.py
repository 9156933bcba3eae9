"""Agreements print each item's basis in words (issue #13 item 1): the PDF and the DOCX of a signed
agreement show the family's own numbers in Chinese and no formula; the frozen snapshot keeps the
words; a snapshot signed before the wording existed gets them from its frozen facts, and an item whose
amount the facts no longer give prints no words rather than a formula."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy.orm import Session

from anju.agreement import service as agreement_service
from anju.agreement.models import AgreementSnapshot
from tests.factories import build_world
from tests.integration.test_agreement_documents import ALL, docx_text, signed, squash

HOUSE = "合法面积 88.50 ㎡ × 房屋价值补偿单价（砖混，B）10,500 元/㎡ = 929,250.00 元"
RELOCATION = "各证合法面积合计 88.50 ㎡ × 搬迁费 15 元/㎡ = 1,327.50 元"
CODE = ("house_rate", "building.", "*", "legal_area")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text in content order (-raw: a table cell's lines stay together)."""
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def test_agreement_documents_print_the_basis_in_words(db: Session, tmp_path: Path) -> None:
    w = build_world(db, households=2)
    a = signed(db, w)
    snap = agreement_service.get_snapshot(db, a)
    items = {i["id"]: i for i in agreement_service.items_of(snap)}
    assert items["house_value"]["basis"] == [HOUSE]
    assert items["relocation_cash"]["basis"] == [RELOCATION]
    data = agreement_service.document_data(db, scope=ALL, agreement_id=a.id)
    printed = {i["label"]: i for i in data["items"]}
    assert printed["房屋价值补偿"]["basis"] == HOUSE and printed["房屋价值补偿"]["formula"] == HOUSE
    pdf = squash(pdf_text(agreement_service.agreement_pdf(db, scope=ALL, agreement_id=a.id), tmp_path))
    docx = squash(docx_text(agreement_service.agreement_docx(db, scope=ALL, agreement_id=a.id)))
    for text in (pdf, docx):
        assert squash(HOUSE) in text and squash(RELOCATION) in text and "计算依据" in text
        assert [bit for bit in CODE if bit in text] == []


def test_a_snapshot_without_words_gets_them_from_its_frozen_facts(db: Session) -> None:
    w = build_world(db, households=2)
    a = signed(db, w)
    snap = agreement_service.get_snapshot(db, a)
    with_words = agreement_service.items_of(snap)
    old = [{k: v for k, v in i.items() if k != "basis"} for i in with_words]
    old[0]["amount_fen"] += 1  # an item the frozen facts no longer give
    row = db.get(AgreementSnapshot, snap.id)
    assert row is not None
    row.items = json.dumps(old, ensure_ascii=False)
    db.flush()
    before = row.items
    got = agreement_service.items_with_basis(db, a, row)
    assert got[0]["id"] == "house_value" and got[0]["basis"] == []
    assert [i["basis"] for i in got[1:]] == [i["basis"] for i in with_words[1:]]
    assert row.items == before  # the snapshot stays what was signed
    data = agreement_service.document_data(db, scope=ALL, agreement_id=a.id)
    assert data["items"][0]["formula"] == "" and data["items"][1]["basis"] == "；".join(
        with_words[1]["basis"]
    )
