"""The signing terms page (签约设置): the form, its refusals as typed, a save, a stale save."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from anju.audit.models import AuditRecord
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from tests.api.conftest import page_csrf
from tests.factories import World

ClientAs = Callable[[str], tuple[TestClient, str, World]]


def _form(**kw: str) -> dict[str, str]:
    base = {
        "agreement_prefix": "青征协",
        "on_sign_share": "60",
        "condition_kind": "none",
        "condition_rate": "",
        "condition_deadline_on": "",
        "version": "0",
        "reason": "指挥部会议",
    }
    return {**base, **kw}


def _terms_records() -> list[tuple[str, dict[str, object]]]:
    with unit_of_work(write=False) as db:
        return [
            (r.action, json.loads(r.changes))
            for r in db.scalars(
                select(AuditRecord).where(AuditRecord.entity == "signing_terms").order_by(AuditRecord.seq)
            )
        ]


def test_the_terms_form_refuses_as_typed_and_saves(client_as: ClientAs) -> None:
    client, _csrf, world = client_as("case_officer")
    url = f"/projects/{world.project_id}/signing-terms"
    page = client.get(url)
    assert page.status_code == 200
    assert (
        "尚未保存（显示的是默认设置）" in page.text
        and 'value="P1"' in page.text
        and 'value="70"' in page.text
    )
    csrf = page_csrf(page.text)

    bad = client.post(url, data={**_form(on_sign_share="七成", agreement_prefix="A B"), "csrf_token": csrf})
    assert bad.status_code == 422
    assert "签约后支付比例应为 0 至 100 之间的百分数，最多两位小数" in bad.text
    assert 'value="七成"' in bad.text  # as typed
    bad = client.post(url, data={**_form(agreement_prefix="A B"), "csrf_token": csrf})
    assert bad.status_code == 422 and "协议编号前缀应为 1 至 24 个字母" in bad.text
    bad = client.post(
        url, data={**_form(condition_kind="block_rate", condition_rate="80"), "csrf_token": csrf}
    )
    assert bad.status_code == 422 and "附生效条件须填写条件成就的截止日期" in bad.text
    past = (today_shanghai() - timedelta(days=2)).isoformat()
    bad = client.post(
        url,
        data={**_form(condition_kind="all_signed", condition_deadline_on=past), "csrf_token": csrf},
    )
    assert bad.status_code == 409 and "早于今天" in bad.text
    assert _terms_records() == []

    deadline = (today_shanghai() + timedelta(days=20)).isoformat()
    ok = client.post(
        url,
        data={
            **_form(condition_kind="block_rate", condition_rate="80.5", condition_deadline_on=deadline),
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"{url}?ok=saved"
    page = client.get(ok.headers["location"])
    assert "签约设置已保存" in page.text and "第 1 版" in page.text and 'value="80.5"' in page.text
    assert _terms_records() == [
        (
            "create",
            {
                "agreement_prefix": ["P1", "青征协"],
                "on_sign_share_bp": [7000, 6000],
                "condition_kind": ["none", "block_rate"],
                "condition_rate_bp": [0, 8050],
                "condition_deadline_on": [None, deadline],
            },
        )
    ]
    stale = client.post(url, data={**_form(), "csrf_token": csrf})
    assert stale.status_code == 409 and "本项目的签约设置已被 测试case_officer 于 " in stale.text
    assert len(_terms_records()) == 1

    client, _csrf, _ = client_as("team_leader")
    assert client.get(url).status_code == 403
