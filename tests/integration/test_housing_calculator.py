"""The desk calculator (housing service) on SQLite, PostgreSQL and MariaDB: both options' totals,
the entitlement, and every available flat group settled and screened against the entitlement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit.models import AuditRecord
from anju.compensation import service as compensation_service
from anju.demo.policies import POLICY_DIR
from anju.errors import NotFound
from anju.housing import service as housing_service
from anju.identity.rules import ScopeKind
from anju.identity.service import DataScope
from anju.policy.swap import Flat, settle_swap
from tests.factories import ACTOR, build_world
from tests.integration.test_entitlement import add_members, count_heads
from tests.integration.test_housing_stock import OFFICER, flat_list

ALL = DataScope.everything()
RURAL = (POLICY_DIR / "rural.yaml").read_text(encoding="utf-8")
SMALL_RULE = "应安置面积60㎡及以下的，所选房源每套不超过75㎡"


def _rows() -> list[list[Any]]:
    """Building 1: three type-A flats of 89.56 ㎡, two type-B flats of 59.80 ㎡; building 2: one
    type-C flat of 120.00 ㎡ (beyond what a small household may exceed its entitlement by)."""
    a = [["1", 1, f, f"{f}01", "A", 89.56, 72.3, 17.26, "南", "standard"] for f in (1, 2, 3)]
    b = [["1", 2, f, f"{f}02", "B", 59.8, 48.1, 11.7, "北", "standard"] for f in (1, 2)]
    c = [["2", 1, 1, "101", "C", 120, 98.5, 21.5, "南", "standard"]]
    return a + b + c


@pytest.fixture
def world(db: Session) -> Any:
    w = build_world(db, households=2, code="CA")
    count_heads(db, w.member_ids)
    compensation_service.publish(
        db, actor=ACTOR, project_id=w.project_id, source=RURAL, file_name="rural.yaml"
    )
    add_members(db, w.household_ids[1], 3, 300)  # 4 persons: 170 ㎡, up to 3 flats
    estate = housing_service.create_estate(
        db, actor=OFFICER, project_id=w.project_id, code="qx", name="青溪苑"
    )
    sheet = housing_service.read_flat_sheet(flat_list(_rows()), "房源.xlsx")
    housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=sheet)
    frozen = next(
        r.flat for r in housing_service.flat_rows(db, estate_ids=[estate.id]) if r.flat.code.endswith("301")
    )
    housing_service.change_flat_status(
        db,
        actor=OFFICER,
        flat_id=frozen.id,
        status="frozen",
        reason="开发商整改",
        expected_version=frozen.version,
    )
    return w


def _independent(db: Session, project_id: int, household_id: int, flat: Flat) -> int:
    pv = compensation_service.get_version(db, project_id)
    ((_, hf),) = compensation_service.project_facts(
        db, scope=ALL, project_id=project_id, household_ids=[household_id]
    )
    group = compensation_service.group_facts(db, project_id)
    checked = compensation_service.checked_version(pv)
    return settle_swap(checked, hf, [flat], as_of=date(2024, 5, 10), group=group).balance_fen


def test_small_household_sees_options_entitlement_and_each_flat_group(db: Session, world: Any) -> None:
    small = world.household_ids[0]
    audits = db.scalar(select(func.count()).select_from(AuditRecord))
    calc = housing_service.calculator(db, scope=ALL, household_id=small)
    assert db.scalar(select(func.count()).select_from(AuditRecord)) == audits  # reads only

    assert (calc.household_code, calc.policy_version, calc.as_of) == ("H0001", 1, date(2024, 5, 10))
    expected = {
        o: compensation_service.calculate(
            db, scope=ALL, household_id=small, option=o, as_of=date(2024, 5, 10)
        )[1].total_fen
        for o in ("cash", "swap")
    }
    assert [(o.option, o.label, o.total_fen, o.error) for o in calc.options] == [
        ("cash", "货币补偿", expected["cash"], ""),
        ("swap", "产权调换（安置房）", expected["swap"], ""),
    ]
    assert calc.entitlement is not None
    assert (calc.entitlement.entitled_area, calc.entitlement.max_area, calc.entitlement.max_flats) == (
        Decimal("60.00"),
        Decimal("90.00"),
        1,
    )

    # the frozen flat 3-01 is not offered; groups by estate, type and area, smallest area first
    assert [(o.estate_code, o.flat_type, o.gross_area, o.count, o.flat_codes) for o in calc.offers] == [
        ("QX", "B", Decimal("59.80"), 2, ["1-2-102", "1-2-202"]),
        ("QX", "A", Decimal("89.56"), 2, ["1-1-101", "1-1-201"]),
        ("QX", "C", Decimal("120.00"), 1, ["2-1-101"]),
    ]
    b, a, c = calc.offers
    # 59.80 ㎡: allowed; the 0.20 ㎡ of entitlement not taken is refunded
    assert b.allowed and b.violations == [] and b.settle_error == ""
    assert b.settlement is not None
    assert b.balance_fen == _independent(db, world.project_id, small, Flat("x", Decimal("59.80"), "B"))
    # 59.80 ㎡ × 2200 元 − credit 106200 元 − refund 0.20 ㎡ × 2200 元 = 24920 元 the family pays
    assert (b.settlement.flats_cost_fen, b.settlement.credit_fen, b.balance_fen) == (
        13_156_000,
        10_620_000,
        2_492_000,
    )
    assert b.settlement.refund_fen == 20 * 2200  # 0.20 ㎡ × 2200 元 (cost price), in fen
    # 89.56 ㎡: within the settlement's 30 ㎡ but refused by the small-household rule, named by its label
    assert not a.allowed
    assert [(v.rule_id, v.label) for v in a.violations] == [("small_household_flat", SMALL_RULE)]
    assert a.balance_fen == _independent(db, world.project_id, small, Flat("x", Decimal("89.56"), "A"))
    assert a.balance_fen is not None and a.balance_fen > b.balance_fen  # type: ignore[operator]
    # 120 ㎡: beyond the maximum area: no settlement, and the rules say why
    assert (c.settlement, c.allowed) == (None, False)
    assert "超出应安置面积" in c.settle_error
    assert [v.rule_id for v in c.violations] == ["max_area", "small_household_flat"]


def test_large_household_may_take_a_big_flat_and_pays_for_it(db: Session, world: Any) -> None:
    large = world.household_ids[1]
    calc = housing_service.calculator(db, scope=ALL, household_id=large)
    assert calc.entitlement is not None
    assert (calc.entitlement.entitled_area, calc.entitlement.max_flats) == (Decimal("170.00"), 3)
    by_type = {o.flat_type: o for o in calc.offers}
    assert [by_type[t].allowed for t in ("A", "B", "C")] == [True, True, True]
    c = by_type["C"]
    assert c.balance_fen == _independent(db, world.project_id, large, Flat("x", Decimal("120.00"), "C"))
    assert calc.available_flats == 5


def test_out_of_scope_is_404(db: Session, world: Any) -> None:
    nobody = DataScope(kind=ScopeKind.NONE)
    with pytest.raises(NotFound):
        housing_service.calculator(db, scope=nobody, household_id=world.household_ids[0])


def test_no_published_policy_is_404(db: Session) -> None:
    w = build_world(db, households=1, code="NP")
    with pytest.raises(NotFound) as err:
        housing_service.calculator(db, scope=ALL, household_id=w.household_ids[0])
    assert err.value.message_zh == "本项目尚未发布补偿方案"
