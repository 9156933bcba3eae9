"""Over HTTP: the selection confirmation (选房确认单) PDF of a finished household (API and print
page; 409 in Chinese before it finishes and after an undo), the console's print buttons, a
re-called household after a supervisor's undo, and closing the event (结束选房) from the API and
the console (a reason while households are unserved)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import page_csrf
from tests.api.permission_calls import audit_count
from tests.api.test_selection_api import _event
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    (tmp_path / "c.pdf").write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_confirmation_undo_recall_and_close_over_http(client_as: ClientAs, tmp_path: Path) -> None:
    client, csrf, world = client_as("case_officer")
    event_id, flats, (first, second, third) = _event(world)
    h = {"X-CSRF-Token": csrf}
    base = f"/api/v1/selection-events/{event_id}"
    pdf_url = f"{base}/households/{first}/confirmation.pdf"
    assert client.post(f"{base}/open", headers=h).status_code == 200
    r = client.get(pdf_url)
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        409,
        "not_finished",
        "户 H0001 尚未完成选房（状态：正在选房），不能打印选房确认单",
    )
    r = client.post(
        f"{base}/selections", json={"household_id": first, "flat_id": flats["1-1-101"]}, headers=h
    )
    assert r.status_code == 201, r.text
    sel_id = r.json()["id"]
    assert client.post(f"{base}/finish", json={"household_id": first}, headers=h).status_code == 200
    r = client.get(pdf_url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline; filename*=UTF-8''")
    page_pdf = client.get(f"/selection-events/{event_id}/households/{first}/confirmation.pdf")
    assert page_pdf.status_code == 200 and page_pdf.content == r.content
    if shutil.which("pdftotext"):
        text = _pdf_text(r.content, tmp_path)
        assert "H0001" in text and "1-1-101" in text and "70.00" in text and "选房确认单" in text
    assert client.get(f"{base}/households/999999/confirmation.pdf").status_code == 404

    # The console offers the confirmation of the household just finished and of every finished one.
    console = client.get(f"/selection-events/{event_id}/console?ok=finished&done={first}").text
    link = f'href="/selection-events/{event_id}/households/{first}/confirmation.pdf"'
    assert console.count(link) == 2 and "打印确认单（H0001）" in console

    # A supervisor's undo: the confirmation is void, the household is called right after the current one.
    lead, lead_csrf, _ = client_as("commander")
    r = lead.post(
        f"/api/v1/selections/{sel_id}/undo", json={"reason": "户主改选"}, headers={"X-CSRF-Token": lead_csrf}
    )
    assert r.status_code == 200, r.text
    client, csrf, _ = client_as("case_officer")
    h = {"X-CSRF-Token": csrf}
    r = client.get(pdf_url)
    assert (r.status_code, r.json()["message"]) == (
        409,
        "户 H0001 的选房已被撤销，重新选房并完成后才能打印选房确认单",
    )
    assert "第 1 号 H0001" in client.get(f"/selection-events/{event_id}/console").text.split("后续各户")[1]
    r = client.post(f"{base}/skip", json={"household_id": second}, headers=h)
    assert (r.status_code, r.json()["current_position"]) == (200, 1)  # the re-called one comes next

    # Closing: a reason while households are unserved (nothing written without it).
    before = audit_count()
    r = client.post(f"{base}/close", json={}, headers=h)
    assert (r.status_code, r.json()["message"]) == (422, "还有 3 户未选房（等候或过号），结束选房须填写原因")
    assert audit_count() == before
    r = client.post(f"{base}/close", json={"reason": "x" * 501}, headers=h)
    assert r.status_code == 422 and audit_count() == before
    r = client.post(f"{base}/close", json={"reason": "其余各户另行安排", "version": 1}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "stale_version")
    r = client.post(f"{base}/close", json={"reason": "其余各户另行安排"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["status_label"], r.json()["current_position"]) == (
        "closed",
        "已结束",
        None,
    )
    assert audit_count() == before + 1
    r = client.post(f"{base}/close", json={"reason": "再次"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    page = client.get(f"/selection-events/{event_id}/console").text
    assert "选房已结束。" in page and "尚有 3 户未选房" in page and "结束原因" not in page
    assert third


def test_closing_from_the_console(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    event_id, flats, (first, _second, _third) = _event(world)
    url = f"/selection-events/{event_id}/console"
    token = page_csrf(client.get(url).text)
    client.post(url, data={"csrf_token": token, "action": "open"})
    page = client.get(url).text
    assert "尚有 3 户未选房，结束后这些户不再叫号。须填写原因" in page
    form = {"csrf_token": token, "action": "close"}
    r = client.post(url, data={**form, "reason": ""}, follow_redirects=False)
    assert r.status_code == 422 and "还有 3 户未选房（等候或过号），结束选房须填写原因" in r.text
    r = client.post(url, data={**form, "reason": "停电，改期"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{url}?ok=closed")
    page = client.get(r.headers["location"]).text
    assert "选房已结束" in page and "尚有 3 户未选房（未到场或过号）" in page
    r = client.post(
        url,
        data={
            "csrf_token": token,
            "action": "select",
            "household_id": str(first),
            "flat_id": str(flats["1-1-101"]),
        },
        follow_redirects=False,
    )
    assert r.status_code == 409 and "不能选房" in r.text
