"""The signing desk (签约台) over HTTP: the list of households ready to sign, the calculation sheet as
of the sign date, the review step that writes nothing, signing with its sign order number, and the
refusals (bad payee, a second signing, a future date, roles without agreement.sign)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from fastapi.testclient import TestClient

from anju.agreement import service as agreement_service
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.core.money import format_yuan, to_chinese_capital
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.api.conftest import page_csrf
from tests.factories import ACTOR, World

As = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()


def publish(w: World) -> None:
    with unit_of_work() as db:
        source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)


def expected_total(hid: int, option: str, on: date) -> int:
    with unit_of_work() as db:
        calc = compensation_service.signing_calculation(
            db, scope=ALL, household_id=hid, option=option, sign_on=on
        )
        return calc.result.total_fen


def agreements(hid: int) -> list[tuple[str, int, str, str, str, str]]:
    with unit_of_work() as db:
        return [
            (a.agreement_no, a.sign_no, a.option, a.payee_name, a.payee_bank, a.payee_account)
            for a in agreement_service.agreements_of_household(db, scope=ALL, household_id=hid)
        ]


def stage_of(hid: int) -> str:
    with unit_of_work() as db:
        return household_service.get_household(db, scope=ALL, household_id=hid).status


def queue_codes(html: str) -> list[str]:
    queue = html.split('id="desk-queue"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'class="desk-code">([^<]+)<', queue)


def test_the_desk_lists_households_ready_to_sign_and_needs_a_policy(client_as: As) -> None:
    client, _, w = client_as("case_officer")
    r = client.get(f"/projects/{w.project_id}/signing")
    assert r.status_code == 200
    assert "签约台" in r.text and "待签约" in r.text and "今天尚无签约" in r.text
    assert queue_codes(r.text) == ["H0001", "H0002", "H0003", "H0004", "H0005", "H0006"]  # all 已调查
    r = client.get(f"/projects/{w.project_id}/signing", params={"household_id": w.household_ids[0]})
    assert r.status_code == 200 and "请先在“补偿方案”中发布方案后再签约" in r.text
    assert 'id="desk-payee"' not in r.text
    # search by name and by code
    r = client.get(f"/projects/{w.project_id}/signing", params={"q": "王志"})
    assert queue_codes(r.text) == ["H0003"] and "查找结果" in r.text
    r = client.get(f"/projects/{w.project_id}/signing", params={"q": "h000"})
    assert len(queue_codes(r.text)) == 6
    r = client.get(f"/projects/{w.project_id}/signing", params={"q": "100%"})
    assert queue_codes(r.text) == [] and "没有户号或户主姓名包含“100%”的户" in r.text


def test_sign_a_household_at_the_desk(client_as: As) -> None:
    client, _, w = client_as("case_officer")
    publish(w)
    hid = w.household_ids[1]
    today = today_shanghai()
    r = client.get(f"/projects/{w.project_id}/signing", params={"household_id": hid})
    assert r.status_code == 200
    cash, swap = expected_total(hid, "cash", today), expected_total(hid, "swap", today)
    options = r.text.split('id="option-totals"', 1)[1].split('id="sign_on"', 1)[0]
    assert "货币补偿" in options and format_yuan(cash) in options and format_yuan(swap) in options
    sheet = r.text.split('id="desk-sheet"', 1)[1]
    assert "货币补偿 · 补偿计算单" in sheet and f"按签约日期 {today.isoformat()} 计算" in sheet
    assert format_yuan(cash) in sheet and to_chinese_capital(cash) in sheet
    assert (
        f'value="{today.isoformat()}"' in r.text and 'value="李秀英"' in r.text
    )  # payee defaults to the head
    csrf = page_csrf(r.text)

    # a future date is not computed: today is, with a note
    r = client.get(
        f"/projects/{w.project_id}/signing",
        params={"household_id": hid, "option": "swap", "sign_on": (today + timedelta(days=3)).isoformat()},
    )
    assert f"签约日期不能晚于今天（{today.isoformat()}），已按今天计算" in r.text
    assert "产权调换 · 补偿计算单" in r.text

    form = {
        "csrf_token": csrf,
        "household_id": str(hid),
        "option": "swap",
        "sign_on": today.isoformat(),
        "payee_name": "李秀英",
        "payee_bank": "农业银行青溪支行",
        "payee_account": "6228 4800 1234 5678",
    }
    # a bad account is refused naming the field, nothing written
    r = client.post(f"/projects/{w.project_id}/signing", data={**form, "payee_account": "12ab"})
    assert r.status_code == 422 and "收款账号应为 6 至 32 位数字" in r.text
    assert 'value="12ab"' in r.text  # what was typed is kept
    # the review step shows the summary and writes nothing
    r = client.post(f"/projects/{w.project_id}/signing", data=form)
    assert r.status_code == 200, r.text
    review = r.text.split('id="desk-review"', 1)[1].split("</section>", 1)[0]
    assert "请与被征收人逐项核对" in review and "产权调换" in review
    assert format_yuan(swap) in review and to_chinese_capital(swap) in review
    assert "6228480012345678" in review and 'name="confirm" value="1"' in review
    assert agreements(hid) == [] and stage_of(hid) == "surveyed"

    # confirming signs: the page shows the sign order number and the agreement
    r = client.post(
        f"/projects/{w.project_id}/signing", data={**form, "confirm": "1"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    [(no, sign_no, option, payee, bank, account)] = agreements(hid)
    assert (no, sign_no, option, payee, bank, account) == (
        "P1-0001",
        1,
        "swap",
        "李秀英",
        "农业银行青溪支行",
        "6228480012345678",
    )
    assert stage_of(hid) == "signed"
    r = client.get(r.headers["location"])
    result = r.text.split('id="desk-result"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'id="sign-no">1<', result) and "P1-0001" in result
    assert format_yuan(swap) in result and to_chinese_capital(swap) in result
    with unit_of_work() as db:
        aid = agreement_service.agreement_for_household(db, scope=ALL, household_id=hid).id  # type: ignore[union-attr]
    assert f'href="/agreements/{aid}/print"' in result and f'href="/households/{hid}/agreement"' in result
    today_list = r.text.split('id="desk-today"', 1)[1].split("</section>", 1)[0]
    assert "H0002 李秀英" in today_list and format_yuan(swap) in today_list

    # signed households leave the ready list; a search still finds them
    r = client.get(f"/projects/{w.project_id}/signing")
    assert "H0002" not in queue_codes(r.text)
    r = client.get(f"/projects/{w.project_id}/signing", params={"q": "H0002", "household_id": hid})
    assert queue_codes(r.text) == ["H0002"] and "已签约" in r.text
    assert "该户已签订协议 <strong>P1-0001</strong>" in r.text and 'id="desk-payee"' not in r.text

    # a second signing (a double click) is refused, nothing written
    r = client.post(
        f"/projects/{w.project_id}/signing", data={**form, "confirm": "1"}, follow_redirects=False
    )
    assert r.status_code == 409 and "该户已签订协议，不能重复签约" in r.text
    r = client.post(f"/projects/{w.project_id}/signing", data=form)
    assert r.status_code == 409 and "该户已签订协议，不能重复签约" in r.text
    assert len(agreements(hid)) == 1


def test_refusals_and_roles(client_as: As) -> None:
    client, _, w = client_as("case_officer")
    publish(w)
    hid = w.household_ids[0]
    csrf = page_csrf(client.get(f"/projects/{w.project_id}/signing").text)
    base = {"csrf_token": csrf, "household_id": str(hid), "option": "cash"}
    future = (today_shanghai() + timedelta(days=1)).isoformat()
    for data, status, message in (
        ({**base, "sign_on": future, "confirm": "1"}, 409, "签约日期不能晚于今天"),
        ({**base, "sign_on": "2026-13-01"}, 422, "签约日期应为日期（YYYY-MM-DD）"),
        ({**base, "payee_bank": "银行\x07"}, 422, "开户行"),
        ({**base, "household_id": ""}, 409, "请先选择要签约的户"),
    ):
        r = client.post(f"/projects/{w.project_id}/signing", data=data, follow_redirects=False)
        assert (r.status_code, message in r.text) == (status, True), r.text
    assert agreements(hid) == [] and stage_of(hid) == "surveyed"
    # a household outside the project is not found
    assert (
        client.get(f"/projects/{w.project_id + 1}/signing", params={"household_id": hid}).status_code == 404
    )
    r = client.post(f"/projects/{w.project_id + 1}/signing", data={**base, "confirm": "1"})
    assert r.status_code == 404 and agreements(hid) == []
    # only the case officer signs
    for role in ("commander", "team_leader", "finance"):
        client, csrf, _ = client_as(role)
        assert client.get(f"/projects/{w.project_id}/signing").status_code == 403
        r = client.post(
            f"/projects/{w.project_id}/signing", data={**base, "confirm": "1"}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 403
    assert agreements(hid) == []


def test_the_navigation_links_the_signing_pages_by_role(client_as: As) -> None:
    links = {
        "signing": "/projects/{pid}/signing",
        "payments": "/projects/{pid}/payments",
        "approvals": '"/approvals"',
    }
    expected = {
        "case_officer": {"signing", "payments"},
        "commander": {"payments", "approvals"},
        "finance": {"payments"},
        "auditor": {"payments"},
        "team_leader": set(),
        "team_member": set(),
    }
    for role, shown in expected.items():
        client, _, w = client_as(role)
        html = client.get(f"/projects/{w.project_id}").text
        nav = html.split('class="sidenav"', 1)[1].split("</nav>", 1)[0]
        got = {name for name, href in links.items() if href.format(pid=w.project_id) in nav}
        assert got == shown, role
    client, _, w = client_as("case_officer")
    nav = client.get(f"/projects/{w.project_id}/signing").text.split('class="sidenav"', 1)[1]
    assert f'<a href="/projects/{w.project_id}/signing" class="active" data-nav="signing">签约台</a>' in nav
