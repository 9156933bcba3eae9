"""The daily dispatch report (每日调度通报) over HTTP.

Acceptance (issue #9): the report's numbers equal the progress API's for the same date; the PDF
rendered with pdftotext contains them as printed; an issued report (JSON, PDF bytes, DOCX text)
does not change after the data changes, while a draft does. Also: commentary versions, refusals
that write nothing, the data scope of household rows, the pages and the archive.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from anju.campaign import service as campaign_service
from anju.campaign.schemas import VisitCreate
from anju.core.dates import SHANGHAI, today_shanghai, utcnow
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.project import service as project_service
from anju.reporting import rules
from anju.reporting import service as dispatch_service
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World

ALL = identity_service.DataScope.everything()
Client = Callable[[str], tuple[TestClient, str, World]]


def _visit(db: Any, hid: int, when: datetime, *, key: str, **fields: Any) -> None:
    data = VisitCreate(
        visited_at=when.isoformat(),
        duration_min=40,
        place="户主家中",
        attitude=fields.pop("attitude", "wait"),
        **fields,
    )
    campaign_service.record_visit(
        db, actor=ACTOR, scope=ALL, household_id=hid, data=data, idempotency_key=key, now=utcnow()
    )


def _move(db: Any, hid: int, *steps: tuple[str, date]) -> None:
    for stage, on in steps:
        campaign_service.move_stage(
            db, actor=ACTOR, scope=ALL, household_id=hid, to_stage=stage, on=on, manage=True
        )


def campaign_history(world: World) -> dict[str, date]:
    """Ten days of campaign on the standard world: two teams, signings on the report day and the day
    before, a vacated and paid household, visits with concerns, an overdue next step, a household
    never visited. The report day D is yesterday (office time)."""
    t = today_shanghai()
    d = t - timedelta(days=1)
    h = world.household_ids
    with unit_of_work() as db:
        p = project_service.get_project(db, world.project_id)
        project_service.update_project(
            db,
            actor=ACTOR,
            project_id=p.id,
            data={
                "launched_on": t - timedelta(days=10),
                "deadline_on": t + timedelta(days=20),
                "alert_no_visit_days": 3,
            },
            expected_version=None,
            reason="攻坚启动",
        )
        second = identity_service.create_team(db, actor=ACTOR, project_id=p.id, name="第二专班")
        identity_service.assign_households(
            db, actor=ACTOR, household_ids=h[4:6], team_id=second.id, user_id=None, on=t - timedelta(days=10)
        )
        early = [("surveyed", t - timedelta(days=9)), ("valued", t - timedelta(days=8))]
        talk = [*early, ("negotiating", t - timedelta(days=7))]
        _move(db, h[0], *talk, ("signed", d - timedelta(days=1)), ("vacated", d))
        household_service.record_paid(db, actor=ACTOR, household_id=h[0], paid_on=d)
        _move(db, h[1], *talk, ("signed", d))
        _move(db, h[2], *talk, ("signed", d))
        _move(db, h[3], *talk)
        _move(db, h[4], *talk, ("signed", d - timedelta(days=1)))
        at = datetime.combine(t - timedelta(days=4), time(19, 30), tzinfo=SHANGHAI)
        _visit(
            db, h[3], at, key="dispatch-1", attitude="resist", concern_tags=["area", "flat"],
            next_step="请其战友出面再谈安置房面积", next_due_on=t - timedelta(days=3),
        )  # fmt: skip
        _visit(db, h[1], at - timedelta(days=2), key="dispatch-2", concern_tags=["area"], attitude="support")
    return {"today": t, "d": d}


def pdf_text(content: bytes, tmp_path: Path, name: str = "report.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout


def docx_text(content: bytes) -> str:
    import docx

    d = docx.Document(io.BytesIO(content))
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        parts += [" | ".join(c.text for c in row.cells) for row in table.rows]
    return "\n".join(parts)


COUNTS = ("households", "surveyed", "valued", "negotiating", "signed", "vacated", "demolished", "paid")


def expected_counts(c: dict[str, Any]) -> dict[str, Any]:
    """A progress row (totals, block or team) in the report's words."""
    out = {k: c[k] for k in COUNTS}
    out.update(
        sign_rate=c["rates"]["signed"],
        vacate_rate=c["rates"]["vacated"],
        demolish_rate=c["rates"]["demolished"],
        pay_rate=c["rates"]["paid"],
        signed_on_day=c["signed_on_day"],
        signed_prev_day=c["signed_day_before"],
        signed_last7=c["signed_last7"],
    )
    return out


def progress_of(client: TestClient, project_id: int, on: date) -> dict[str, Any]:
    r = client.get(f"/api/v1/projects/{project_id}/progress", params={"on": on.isoformat()})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_report_numbers_equal_the_progress_api_and_the_pdf_prints_them(
    client_as: Client, tmp_path: Path
) -> None:
    client, _csrf, world = client_as("commander")
    days = campaign_history(world)
    d = days["d"]
    base = f"/api/v1/projects/{world.project_id}/dispatch-reports/{d.isoformat()}"
    r = client.get(base)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["status"], report["version"], report["partial"]) == ("draft", 0, False)
    n = report["numbers"]
    p = progress_of(client, world.project_id, d)

    # the headline: every count and rate of the progress totals, the schedule and the campaign day
    head = n["headline"]
    assert {k: head[k] for k in expected_counts(p["totals"])} == expected_counts(p["totals"])
    assert (head["households"], head["signed"], head["signed_on_day"], head["signed_prev_day"]) == (
        6,
        4,
        2,
        2,
    )
    assert (head["vacated"], head["paid"], head["sign_rate"]) == (1, 1, "0.6667")
    s = p["schedule"]
    assert (head["target"], head["remaining"], head["days_left"], head["deadline_on"]) == (
        s["target"], s["remaining"], s["days_left"], s["deadline_on"],
    )  # fmt: skip
    assert (head["need_per_day"], head["actual_per_day"]) == (s["required_per_day"], s["actual_per_day"])
    assert head["days_since_launch"] == p["days_since_launch"] == 10
    # per block (tree order) and per team (ranked)
    assert [(b["id"], b["name"], b["depth"]) for b in n["blocks"]] == [
        (b["id"], b["name"], b["depth"]) for b in p["blocks"]
    ]
    for mine, theirs in zip(n["blocks"], p["blocks"], strict=True):
        assert {k: mine[k] for k in expected_counts(theirs)} == expected_counts(theirs), mine["name"]
    ranked = [t for level in ("groups", "squads") for t in p["rankings"].get(level, [])]
    assert [(t["id"], t["rank"]) for t in n["teams"]] == [(t["id"], t["rank_signed"]) for t in ranked]
    for mine, theirs in zip(n["teams"], ranked, strict=True):
        assert {k: mine[k] for k in expected_counts(theirs)} == expected_counts(theirs), mine["name"]
    assert [t["name"] for t in n["teams"]] == ["第一专班", "第二专班"]
    assert [(c["tag"], c["visits"], c["households"]) for c in n["concerns"]] == [
        (c["tag"], c["visits"], c["households"]) for c in p["concerns"]
    ]
    assert [(c["tag"], c["visits"]) for c in n["concerns"][:2]] == [("area", 2), ("flat", 1)]
    # stalled households and overdue steps (the alerts of the day)
    # not visited for 3 days (the project's setting): H0006 never, H0004 3 days before D; the others signed
    assert n["stalled"]["days"] == 3 and n["stalled"]["total"] == 2
    assert [(s["code"], s["days"], s["team"]) for s in n["stalled"]["items"]] == [
        ("H0006", None, "第二专班"),
        ("H0004", 3, "第一专班"),
    ]
    assert [(o["code"], o["step"]) for o in n["overdue"]["items"]] == [
        ("H0004", "下一步：请其战友出面再谈安置房面积")
    ]

    # the PDF prints every number as the page does
    pdf = client.get(base + ".pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    printed = pdf_text(pdf.content, tmp_path)
    doc = rules.document(n, title=report["title"], commentary="", status="draft")
    # pdftotext puts spaces between CJK and digits and lays tables out in columns: compare without
    # whitespace, so a row must still read its cells in order
    flat = "".join(printed.split())

    def printed_(*parts: str) -> bool:
        return "".join("".join(parts).split()) in flat

    assert printed_(doc["title"])
    hl = doc["headline"]
    assert printed_(
        "总户数已签约签约率当日签约", hl["households"], hl["signed"], hl["sign_rate"], hl["signed_on_day"]
    )
    assert printed_(f"（前一日{hl['signed_prev_day']}，{hl['signed_change']}）")
    assert printed_(f"{hl['vacated']}（{hl['vacate_rate']}）") and printed_(
        f"{hl['paid']}（{hl['pay_rate']}）"
    )
    assert printed_(f"{hl['demolished']}（{hl['demolish_rate']}）")
    assert printed_(f"每日需签约{hl['need_per_day']}户") and printed_(f"实际每日{hl['actual_per_day']}户")
    assert printed_(f"签约目标{hl['target']}户") and printed_(f"尚余{hl['remaining']}户未签约")
    assert printed_(f"第{p['days_since_launch']}天")
    for b in doc["blocks"]:
        cells = (b["name"], b["households"], b["signed"], b["sign_rate"], b["signed_on_day"], b["vacated"])
        assert printed_(*cells, b["demolished"], b["paid"]), cells
    for t in doc["teams"]:
        cells = (
            t["level"],
            t["rank"],
            t["name"],
            t["households"],
            t["signed"],
            t["sign_rate"],
            t["signed_on_day"],
        )
        assert printed_(*cells, t["signed_last7"]), cells
    assert printed_("H0006杨丽娟第二专班—从未走访") and printed_("H0004刘桂兰第一专班—3天")
    assert printed_("面积认定2次（2户）；安置房1次（1户）")


def test_an_issued_report_does_not_change_when_the_data_does(client_as: Client, tmp_path: Path) -> None:
    client, csrf, world = client_as("commander")
    days = campaign_history(world)
    d, t = days["d"], days["today"]
    h = world.household_ids
    base = f"/api/v1/projects/{world.project_id}/dispatch-reports/{d.isoformat()}"
    headers = {"X-CSRF-Token": csrf}
    r = client.put(
        base, json={"commentary": "昨日签约 2 户。\n各专班今天务必上门。", "version": 0}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["status"]) == (2, "draft")
    r = client.post(base + "/issue", json={"version": 2}, headers=headers)
    assert r.status_code == 200, r.text
    issued = r.json()
    assert (issued["status"], issued["issued_by"], issued["version"]) == ("issued", "测试commander", 3)
    assert issued["numbers_sha256"] == rules.digest(issued["numbers"])
    pdf1 = client.get(base + ".pdf").content
    assert hashlib.sha256(pdf1).hexdigest() == issued["pdf_sha256"]
    docx1 = docx_text(client.get(base + ".docx").content)
    assert "昨日签约 2 户。" in docx1 and "测试commander" in docx1
    archived = dispatch_service.archive_path(world.project_id, d, issued["pdf_sha256"])
    assert archived.read_bytes() == pdf1
    draft_today = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/{t.isoformat()}").json()
    again_today = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/{t.isoformat()}").json()
    assert (
        again_today["numbers_sha256"] == draft_today["numbers_sha256"]
    )  # a draft's fingerprint is its data's

    # the data moves: H0004 signs on D itself, H0006 gets its first visit, H0002 is paid
    with unit_of_work() as db:
        _move(db, h[3], ("signed", d))
        _visit(
            db,
            h[5],
            # midnight of today: never in the future, whatever the hour of the run
            datetime.combine(t, time(0, 0), tzinfo=SHANGHAI),
            key="dispatch-3",
            concern_tags=["standard"],
        )
        household_service.record_paid(db, actor=ACTOR, household_id=h[1], paid_on=d)
        db.execute(text("UPDATE \"user\" SET display_name = '改了名字' WHERE username = 'commander'"))
    with unit_of_work(write=False) as db:
        live = dispatch_service.compute_numbers(db, project_id=world.project_id, report_on=d)
    assert (live["headline"]["signed"], live["headline"]["paid"]) == (5, 2)  # D's numbers did change

    again = client.get(base).json()
    assert again == issued
    assert again["numbers"]["headline"]["signed"] == 4 and again["numbers"]["stalled"]["total"] == 2
    pdf2 = client.get(base + ".pdf").content
    assert pdf2 == pdf1
    assert docx_text(client.get(base + ".docx").content) == docx1
    # re-rendered from the frozen snapshot when the archive file is lost: the same bytes
    archived.unlink()
    assert client.get(base + ".pdf").content == pdf1 and archived.read_bytes() == pdf1
    # a draft of another date follows the data
    now_today = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/{t.isoformat()}").json()
    assert draft_today["numbers"]["headline"]["signed"] == 4
    assert now_today["numbers"]["headline"]["signed"] == 5
    assert now_today["numbers_sha256"] != draft_today["numbers_sha256"]


def _audit_count() -> int:
    with unit_of_work(write=False) as db:
        return int(db.scalar(text("SELECT count(*) FROM audit_record")) or 0)


def _row(project_id: int, report_on: date) -> tuple[Any, ...] | None:
    with unit_of_work(write=False) as db:
        row = db.execute(
            text(
                "SELECT status, version, commentary, numbers_sha256, pdf_sha256 FROM dispatch_report "
                "WHERE project_id = :p AND report_on = :d"
            ),
            {"p": project_id, "d": report_on},
        ).first()
        return tuple(row) if row is not None else None


def test_a_past_draft_lists_households_stalled_on_its_date_despite_later_visits(client_as: Client) -> None:
    client, _csrf, world = client_as("commander")
    days = campaign_history(world)
    d, t = days["d"], days["today"]
    h = world.household_ids
    with unit_of_work() as db:  # H0004 (stalled on D: last visit 3 days before) is visited today
        # midnight of today: a visit later than D that is never in the future, whatever the hour of the run
        _visit(db, h[3], datetime.combine(t, time(0, 0), tzinfo=SHANGHAI), key="dispatch-later")
    base = f"/api/v1/projects/{world.project_id}"
    n = client.get(f"{base}/dispatch-reports/{d.isoformat()}").json()["numbers"]
    assert [(s["code"], s["days"]) for s in n["stalled"]["items"]] == [("H0006", None), ("H0004", 3)]
    then = client.get(f"{base}/alerts", params={"today": d.isoformat()}).json()
    assert [(a["code"], a["days"]) for a in then["no_visit"]] == [("H0006", None), ("H0004", 3)]
    now = client.get(f"{base}/alerts").json()
    assert [(a["code"], a["days"]) for a in now["no_visit"]] == [("H0006", None)]


def test_reissue_stale_version_and_future_dates_are_refused_and_write_nothing(client_as: Client) -> None:
    client, csrf, world = client_as("case_officer")
    days = campaign_history(world)
    d = days["d"]
    base = f"/api/v1/projects/{world.project_id}/dispatch-reports/{d.isoformat()}"
    headers = {"X-CSRF-Token": csrf}
    assert client.put(base, json={"commentary": "第一稿", "version": 0}, headers=headers).status_code == 200
    before, audit = _row(world.project_id, d), _audit_count()
    # a stale version names who changed it
    r = client.put(base, json={"commentary": "第二稿", "version": 1}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    assert r.json()["message"].startswith("该调度通报已被 测试case_officer 于")
    r = client.post(base + "/issue", json={"version": 0}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    # control characters and over-long text name the field
    r = client.put(base, json={"commentary": "x\u202e", "version": 2}, headers=headers)
    assert r.status_code == 422 and "指挥长讲评" in r.json()["message"]
    r = client.put(base, json={"commentary": "x" * 5001, "version": 2}, headers=headers)
    assert r.status_code == 422 and "不能超过5000个字" in r.json()["message"]
    # a day that has not begun
    future = (days["today"] + timedelta(days=1)).isoformat()
    r = client.put(
        f"/api/v1/projects/{world.project_id}/dispatch-reports/{future}",
        json={"commentary": "", "version": 0},
        headers=headers,
    )
    assert r.status_code == 409 and r.json()["code"] == "report_date" and "晚于今天" in r.json()["message"]
    r = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/{future}")
    assert r.status_code == 409 and r.json()["code"] == "report_date"
    r = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/0001-01-01.pdf")
    assert r.status_code == 409 and "早于 2000-01-01" in r.json()["message"]
    assert _row(world.project_id, d) == before and _audit_count() == audit

    assert client.post(base + "/issue", json={"version": 2}, headers=headers).status_code == 200
    issued, audit = _row(world.project_id, d), _audit_count()
    r = client.post(base + "/issue", json={}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "report_issued"
    assert r.json()["message"] == f"{d.isoformat()} 的调度通报已签发，不能再修改或重复签发"
    r = client.put(base, json={"commentary": "改稿", "version": 3}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "report_issued"
    assert _row(world.project_id, d) == issued and _audit_count() == audit
    # the archive lists it
    listed = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports").json()
    assert [(x["report_on"], x["status"], x["issued_by"]) for x in listed] == [
        (d.isoformat(), "issued", "测试case_officer")
    ]


def test_issue_is_audited_and_announced(client_as: Client) -> None:
    client, csrf, world = client_as("commander")
    days = campaign_history(world)
    d = days["d"]
    base = f"/api/v1/projects/{world.project_id}/dispatch-reports/{d.isoformat()}"
    assert client.post(base + "/issue", headers={"X-CSRF-Token": csrf}).status_code == 200
    with unit_of_work(write=False) as db:
        rows = db.execute(
            text("SELECT action, changes FROM audit_record WHERE entity = 'dispatch_report' ORDER BY seq")
        ).all()
    assert [r[0] for r in rows] == ["create", "issue"]
    assert '"numbers_sha256"' in rows[1][1] and '"pdf_sha256"' in rows[1][1]


def test_team_roles_read_the_report_but_only_their_households_rows(client_as: Client, tmp_path: Path) -> None:
    client, _csrf, world = client_as("team_member")
    days = campaign_history(world)
    base = f"/api/v1/projects/{world.project_id}/dispatch-reports/{days['d'].isoformat()}"
    r = client.get(base)
    assert r.status_code == 200, r.text
    n = r.json()["numbers"]
    assert n["headline"]["households"] == 6  # the counts are the whole project's
    assert n["stalled"]["items"] == [] and n["overdue"]["items"] == []  # H0004, H0006 are not theirs
    assert r.json()["partial"] is True
    assert "陈国华" not in r.text and "刘桂兰" not in r.text and "杨丽娟" not in r.text
    printed = pdf_text(client.get(base + ".pdf").content, tmp_path)
    assert "杨丽娟" not in printed and "刘桂兰" not in printed
    assert "杨丽娟" not in docx_text(client.get(base + ".docx").content)
    r = client.put(base, json={"commentary": "x", "version": 0}, headers={"X-CSRF-Token": _csrf})
    assert r.status_code == 403
    client.cookies.clear()
    client, _csrf, _ = client_as("commander")
    r = client.get(base)
    assert [s["head_name"] for s in r.json()["numbers"]["stalled"]["items"]] == ["杨丽娟", "刘桂兰"]


def test_pages_list_edit_and_issue(client_as: Client) -> None:
    client, _csrf, world = client_as("commander")
    days = campaign_history(world)
    d = days["d"]
    pid = world.project_id
    r = client.get(f"/projects/{pid}/dispatch")
    assert r.status_code == 200 and "还没有保存或签发过的通报" in r.text
    assert f'value="{d.isoformat()}"' in r.text  # yesterday is the default date
    r = client.get(f"/projects/{pid}/dispatch", params={"on": d.isoformat()}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}/dispatch/{d.isoformat()}"
    r = client.get(f"/projects/{pid}/dispatch", params={"on": "2026-13-01"})
    assert r.status_code == 422 and "应为 YYYY-MM-DD" in r.text
    page = client.get(f"/projects/{pid}/dispatch/{d.isoformat()}")
    assert page.status_code == 200
    assert (
        "草稿" in page.text and "下载 PDF" in page.text and "下载 DOCX" in page.text and "签发" in page.text
    )
    assert "66.67%" in page.text and "杨丽娟" in page.text
    token = page_csrf(page.text)
    r = client.post(
        f"/projects/{pid}/dispatch/{d.isoformat()}",
        data={"csrf_token": token, "title": "", "commentary": "第一段\r\n第二段", "version": "0"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "讲评已保存" in page.text and "第一段\n第二段</textarea>" in page.text
    # a stale form shows the 409 message and keeps what was typed
    r = client.post(
        f"/projects/{pid}/dispatch/{d.isoformat()}",
        data={"csrf_token": token, "title": "", "commentary": "迟到的修改", "version": "1"},
    )
    assert r.status_code == 409 and "已被" in r.text and "迟到的修改</textarea>" in r.text
    r = client.post(
        f"/projects/{pid}/dispatch/{d.isoformat()}/issue",
        data={"csrf_token": token, "version": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "通报已签发并归档" in page.text and "已签发" in page.text
    assert 'id="dispatch-issue"' not in page.text and "<textarea" not in page.text
    assert '<p class="dispatch-para">第二段</p>' in page.text
    r = client.post(
        f"/projects/{pid}/dispatch/{d.isoformat()}/issue", data={"csrf_token": token, "version": "3"}
    )
    assert r.status_code == 409 and "已签发，不能再修改或重复签发" in r.text
    listing = client.get(f"/projects/{pid}/dispatch")
    assert d.isoformat() in listing.text and "已签发" in listing.text and "测试commander" in listing.text
    # a reader without DISPATCH_WRITE sees no editor and no 签发 button
    client.cookies.clear()
    client, _csrf, _ = client_as("team_leader")
    page = client.get(f"/projects/{pid}/dispatch/{(d - timedelta(days=1)).isoformat()}")
    assert page.status_code == 200 and "<textarea" not in page.text and 'id="dispatch-issue"' not in page.text


def test_bad_dates_in_the_path_are_a_chinese_422(client_as: Client) -> None:
    client, _csrf, world = client_as("commander")
    r = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/2026-02-30")
    assert r.status_code == 422 and "通报日期" in r.json()["message"]
    r = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/2026-02-30.pdf")
    assert r.status_code == 422
    r = client.get("/api/v1/projects/999999/dispatch-reports/2026-01-01")
    assert r.status_code == 404


@pytest.mark.parametrize("suffix", ["pdf", "docx"])
def test_downloads_are_named_by_project_and_date(client_as: Client, suffix: str) -> None:
    client, _csrf, world = client_as("commander")
    d = today_shanghai() - timedelta(days=1)
    r = client.get(f"/api/v1/projects/{world.project_id}/dispatch-reports/{d.isoformat()}.{suffix}")
    assert r.status_code == 200
    assert (
        f"%E8%B0%83%E5%BA%A6%E9%80%9A%E6%8A%A5-P1-{d.isoformat()}.{suffix}"
        in r.headers["content-disposition"]
    )
