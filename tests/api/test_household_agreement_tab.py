"""The household's agreement tab (协议): what each role sees of a signed household (sign order number,
total and its capital form, the frozen policy version, the schedule, the amendment flag and its
difference after the household's area was corrected) and which actions it is offered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient

from anju.agreement import service as agreement_service
from anju.agreement.service import Payee
from anju.compensation import service as compensation_service
from anju.core.money import format_yuan, to_chinese_capital
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.household import service as household_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, World

As = Callable[[str], tuple[TestClient, str, World]]
ALL = DataScope.everything()
SIGN_ON = date(2026, 12, 1)


def sign(w: World, hid: int) -> tuple[int, int]:
    """Publish the demo policy and sign ``hid`` (cash, with a payee); returns (agreement id, total)."""
    with unit_of_work() as db:
        source = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
        compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=source)
    with unit_of_work() as db:
        a = agreement_service.sign(
            db,
            actor=ACTOR,
            scope=ALL,
            household_id=hid,
            option="cash",
            sign_on=SIGN_ON,
            payee=Payee(name="张建国", bank="青溪农商银行", account="6222020212345678"),
        )
        return a.id, a.total_fen


def instalment_rows(html: str) -> list[tuple[str, str, str]]:
    table = html.split('id="instalments"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'data-kind="(\w+)" data-status="(\w+)">\s*<td data-label="款项">([^<]+)<', table)


def test_an_unsigned_household_has_no_agreement_and_the_case_officer_a_link_to_the_desk(
    client_as: As,
) -> None:
    client, _, w = client_as("case_officer")
    hid = w.household_ids[0]
    r = client.get(f"/households/{hid}/agreement")
    assert r.status_code == 200
    assert "该户尚未签约" in r.text
    assert f'href="/projects/{w.project_id}/signing?household_id={hid}"' in r.text
    # the household file and the campaign tab link to the agreement tab
    assert f'href="/households/{hid}/agreement"' in client.get(f"/households/{hid}").text
    assert f'href="/households/{hid}/agreement"' in client.get(f"/households/{hid}/campaign").text
    client, _, _ = client_as("team_member")
    r = client.get(f"/households/{hid}/agreement")
    assert r.status_code == 200 and "该户尚未签约" in r.text and "/signing" not in r.text


def test_a_signed_household_shows_its_agreement_to_each_role(client_as: As) -> None:
    client, _, w = client_as("team_member")
    hid = w.household_ids[0]  # assigned to the team member
    aid, total = sign(w, hid)
    r = client.get(f"/households/{hid}/agreement")
    assert r.status_code == 200
    head = r.text.split('id="agreement"', 1)[1].split("</section>", 1)[0]
    assert "货币补偿协议" in head and "P1-0001" in head and "已生效" in head
    assert re.search(r'id="sign-no">1<', head)
    assert f'id="agreement-total">{format_yuan(total)}<' in head and to_chinese_capital(total) in head
    assert "第 1 版" in head and f'href="/agreements/{aid}/print"' in head
    assert "6222********5678" in head and "6222020212345678" not in head
    assert [(k, s) for k, s, _ in instalment_rows(r.text)] == [
        ("on_sign", "due"),
        ("after_vacate", "scheduled"),
    ]
    assert "签约后支付" in r.text and "腾空验收后支付" in r.text
    assert "尚未验收" in r.text and "尚未拆除" in r.text
    # a team member records no vacating and pays nothing
    assert f'href="/households/{hid}/vacate"' not in r.text and "/payments" not in r.text
    # frozen sheet with every item, and no amendment flag while the facts are unchanged
    assert 'id="frozen-sheet"' in r.text and "合计" in r.text and 'id="amendment-flag"' not in r.text
    # the case officer: full account, vacating link, payments link
    client, _, _ = client_as("case_officer")
    r = client.get(f"/households/{hid}/agreement")
    assert "6222020212345678" in r.text
    assert (
        f'href="/households/{hid}/vacate"' in r.text and f'href="/projects/{w.project_id}/payments"' in r.text
    )
    # outside the member's households: 404
    client, _, _ = client_as("team_member")
    assert client.get(f"/households/{w.household_ids[4]}/agreement").status_code == 404
    client, _, _ = client_as("grid_worker")
    assert client.get(f"/households/{hid}/agreement").status_code in (403, 404)


def test_editing_the_area_raises_the_amendment_flag_and_the_total_stays(client_as: As) -> None:
    client, _, w = client_as("case_officer")
    hid = w.household_ids[1]
    aid, total = sign(w, hid)
    with unit_of_work() as db:
        f = household_service.get_household_file(db, scope=ALL, household_id=hid)
        household_service.update_building(
            db, actor=ACTOR, scope=ALL, building_id=f.buildings[0].building.id, data={"legal_area": "90.00"}
        )
    r = client.get(f"/households/{hid}/agreement")
    assert r.status_code == 200
    with unit_of_work() as db:
        check = agreement_service.amendment_check(db, scope=ALL, agreement_id=aid, store=False)
        a = agreement_service.get_agreement(db, scope=ALL, agreement_id=aid)
        assert (a.total_fen, a.amendment_flag, a.amendment_diff_fen) == (total, True, check.diff_fen)
    assert check.flag and check.diff_fen > 0
    flag = r.text.split('id="amendment-flag"', 1)[1].split("</div>", 1)[0]
    assert (
        "可能需要变更协议" in flag
        and f'增加 <strong class="agc-up">{format_yuan(check.diff_fen)}</strong>' in flag
    )
    assert f"协议 {format_yuan(total)} 元 → {format_yuan(total + check.diff_fen)} 元" in flag
    facts = r.text.split('id="amendment-facts"', 1)[1].split("</ul>", 1)[0]
    assert '合法面积：<span class="muted">88.50</span> → <strong>90.00</strong>' in facts
    assert f'id="agreement-total">{format_yuan(total)}<' in r.text  # the agreement's total did not move
