"""Realistic requests for the housing routes (安置房) of the permission matrix: an estate with a few
flats, a household with a live swap agreement, a selection event; spare events for the writes that
can happen once per event; bodies, forms and flat lists. Used through the hooks in
``tests/api/permission_calls.py``."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import xlsxwriter
from sqlalchemy import select, text

from anju.core.actor import Actor
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.web.permission_matrix import AppRoute

HOUSING_PARAMS = frozenset(
    {"estate_id", "flat_id", "event_id", "receivable_id", "flat_type_id", "housing_building_id"}
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFFICER = Actor(user_id=None, username="perm-housing", display_name="权限测试经办人", role="case_officer")

# Writes that happen once per event: a permitted call takes a spare event of the kind it needs.
SPARE_EVENT_ROUTES: dict[str, str] = {
    "POST /api/v1/selection-events/{event_id}/commitment": "lottery",
    "POST /selection-events/{event_id}/commitment": "lottery",
    "POST /api/v1/selection-events/{event_id}/order": "sign_order",
    "POST /selection-events/{event_id}/order": "sign_order",
}
PLAN_ROUTES = frozenset({"PUT /api/v1/flat-types/{flat_type_id}/plan", "POST /flat-types/{flat_type_id}"})
IMPORT_ROUTES = frozenset(
    {"POST /api/v1/estates/{estate_id}/flats/import", "POST /estates/{estate_id}/flats/import"}
)


@dataclass
class HousingTargets:
    """An estate of the target's project, one of its flats, and a selection event over it."""

    project_id: int
    estate_id: int
    flat_id: int
    event_id: int
    running: Running | None = None  # the event of the last call that runs one
    sibling: int = 0  # the target's signed swap sibling (same scope case)
    household: tuple[int, str, str] = (0, "", "")  # the target household's id, head and code
    receivable_id: int = 0  # what the swap sibling owes (選房结算补交差价): receipts of 1 fen each call
    flat_type_id: int = 0  # the flat's type, with a plan image
    housing_building_id: int = 0  # the flat's building (楼型 form)


def flat_list(building: str, rows: int = 2) -> bytes:
    """A developer's flat list of ``rows`` flats in one building (unit 1, floors 1..rows)."""
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet("房源")
    ws.write_row(
        0, 0, ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积", "公摊面积", "朝向", "价格档"]
    )
    for f in range(1, rows + 1):
        ws.write_row(f, 0, [building, 1, f, f"{f}01", "A", 89.56, 72.3, 17.26, "南", "standard"])
    wb.close()
    return out.getvalue()


def _event(project_id: int, estate_id: int, kind: str, name: str) -> int:
    from anju.housing import service as housing_service

    with unit_of_work() as db:
        return int(
            housing_service.create_event(
                db, actor=OFFICER, project_id=project_id, name=name, order_kind=kind, estate_ids=[estate_id]
            ).id
        )


def housing_targets(project_id: int, hid: int, head: str, code: str) -> HousingTargets:
    """The target's housing world: a signed swap sibling of ``hid`` (so the project has a household
    that takes part), an estate ``HS<code>`` with two flats, and a planned sign-order event."""
    from anju.agreement import service as agreement_service
    from anju.housing import service as housing_service
    from anju.identity.service import DataScope
    from tests.api.permission_calls import PNG, _signable_sibling

    sibling = _signable_sibling(hid, head, f"{code}H")
    debtor_id = _signable_sibling(hid, head, f"{code}R")
    with unit_of_work() as db:
        agreement_service.sign(
            db,
            actor=OFFICER,
            scope=DataScope.everything(),
            household_id=sibling,
            option="swap",
            sign_on=today_shanghai(),
        )
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=project_id, code=f"HS{code}", name="权限测试安置小区"
        )
        rows = housing_service.read_flat_sheet(flat_list("1幢"), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
        first = housing_service.flat_rows(db, estate_ids=[estate.id])[0].flat
        flat_id = first.id
        flat_type_id = int(first.flat_type_id or 0)
        housing_building_id = int(first.building_id)
        housing_service.update_flat_type(
            db,
            actor=OFFICER,
            flat_type_id=flat_type_id,
            plan=housing_service.PlanUpload("户型图.png", "image/png", PNG),
        )
        estate_id = estate.id
        # A cash sibling of its own owes the receivable: selections never settle (nor cancel) it.
        debtor = agreement_service.sign(
            db,
            actor=OFFICER,
            scope=DataScope.everything(),
            household_id=debtor_id,
            option="cash",
            sign_on=today_shanghai(),
        )
        receivable_id = agreement_service.add_receivable(
            db,
            actor=OFFICER,
            agreement=debtor,
            kind="settlement",
            amount_fen=10**10,
            purpose="权限测试应收款",
            due_on=today_shanghai(),
        ).id
    return HousingTargets(
        project_id,
        estate_id,
        int(flat_id),
        _event(project_id, estate_id, "sign_order", "权限测试选房"),
        sibling=sibling,
        household=(hid, head, code),
        receivable_id=int(receivable_id),
        flat_type_id=flat_type_id,
        housing_building_id=housing_building_id,
    )


def spare_event(h: HousingTargets, kind: str, n: int) -> int:
    """A new planned event of ``kind`` over the target's estate (a lottery one is not yet committed)."""
    return _event(h.project_id, h.estate_id, kind, f"备用选房活动{n}")


def housing_path_value(route: AppRoute, name: str, h: HousingTargets, *, spare: bool, n: int) -> int:
    """The value of a housing path parameter (a spare event for the once-per-event writes)."""
    if name == "event_id" and spare and route.key in SPARE_EVENT_ROUTES:
        return spare_event(h, SPARE_EVENT_ROUTES[route.key], n)
    return int(getattr(h, name))


def _flat_state(flat_id: int) -> tuple[str, int]:
    with unit_of_work() as db:
        row = db.execute(text("SELECT status, version FROM flat WHERE id = :id"), {"id": flat_id}).one()
        return str(row[0]), int(row[1])


def _toggle(h: HousingTargets) -> dict[str, Any]:
    """Freeze the flat when it is available, release it otherwise (each permitted call changes it)."""
    status, version = _flat_state(h.flat_id)
    return {
        "status": "frozen" if status == "available" else "available",
        "reason": "权限测试",
        "version": version,
    }


def housing_form(route: AppRoute, h: HousingTargets | None, n: int) -> dict[str, Any] | None:
    """The form of a housing page route, or ``None`` for another route."""
    p = route.path
    if p == "/projects/{project_id}/estates":
        return {"code": f"PE{n}", "name": f"新安置小区{n}", "address": "", "planned_delivery_on": ""}
    if h is None:
        return None
    if p == "/estates/{estate_id}/delivery":
        planned = (today_shanghai() + timedelta(days=n)).isoformat()
        return {
            "planned_delivery_on": planned,
            "actual_delivery_on": "",
            "version": str(_estate_version(h.estate_id)),
        }
    if p == "/estates/{estate_id}/buildings/{housing_building_id}/rise":
        return {"rise": "高层" if n % 2 else "多层"}
    if p == "/selections/{selection_id}/handover":
        return {"handed_over_on": today_shanghai().isoformat()}
    if p == "/receivables/{receivable_id}/receipt":
        return {"amount": "0.01", "received_on": today_shanghai().isoformat(), "receipt_ref": f"权限测试{n}"}
    if p == "/projects/{project_id}/selection-events":
        return {
            "name": f"选房活动{n}",
            "order_kind": "sign_order",
            "held_on": "",
            "estate_id": [str(h.estate_id)],
        }
    if p == "/flats/{flat_id}/status":
        return {k: str(v) for k, v in _toggle(h).items()}
    if p == "/selection-events/{event_id}/commitment":
        return {"seed_source": "2026-12-20 福彩3D 开奖号", "seed_hash": "", "version": ""}
    if p == "/selection-events/{event_id}/order":
        return {"seed": "", "version": ""}
    if p == "/estates/{estate_id}/flats/import":
        return {}
    if p == "/flat-types/{flat_type_id}":
        return {"name": "三室两厅"}
    if p == "/selection-events/{event_id}/console":
        run = h.running
        hid, fid = (run.household_id or 1, run.flat_id) if run is not None else (1, h.flat_id)
        return {"action": "select", "household_id": str(hid), "flat_id": str(fid)}
    return None


def housing_json(route: AppRoute, h: HousingTargets | None, n: int) -> dict[tuple[str, str], dict[str, Any]]:
    """Request bodies of the housing API routes."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/projects/{project_id}/estates"): {"code": f"AE{n}", "name": f"安置小区{n}"},
        ("POST", "/selection-events/{event_id}/commitment"): {"seed_source": "2026-12-20 福彩3D 开奖号"},
        ("POST", "/selection-events/{event_id}/order"): {},
        ("PATCH", "/flat-types/{flat_type_id}"): {"name": f"三室两厅{n}"},
    }
    if h is not None:
        bodies[("POST", "/selection-events")] = {
            "project_id": h.project_id,
            "name": f"选房活动{n}",
            "order_kind": "lottery",
            "estate_ids": [h.estate_id],
        }
        if route.key == "PATCH /api/v1/flats/{flat_id}":
            bodies[("PATCH", "/flats/{flat_id}")] = _toggle(h)
        if route.key == "PATCH /api/v1/estates/{estate_id}":
            bodies[("PATCH", "/estates/{estate_id}")] = {
                "planned_delivery_on": (today_shanghai() + timedelta(days=n)).isoformat(),
                "version": _estate_version(h.estate_id),
            }
        bodies[("POST", "/receivables/{receivable_id}/receipts")] = {
            "amount_fen": 1,
            "received_on": today_shanghai().isoformat(),
            "receipt_ref": f"权限测试{n}",
        }
    return bodies


def _estate_version(estate_id: int) -> int:
    with unit_of_work() as db:
        return int(
            db.execute(text("SELECT version FROM estate WHERE id = :id"), {"id": estate_id}).scalar_one()
        )


def housing_files(route: AppRoute, n: int) -> dict[str, Any] | None:
    """The flat list an import route uploads (a new building each call, so every import succeeds)."""
    if route.key in IMPORT_ROUTES:
        return {"file": ("房源表.xlsx", flat_list(f"{n}幢", rows=1), XLSX_TYPE)}
    if route.key in PLAN_ROUTES:
        from tests.api.permission_calls import PNG

        return {"file" if route.is_api else "plan": ("户型图.png", PNG, "image/png")}
    return None


# --------------------------------------------------------------------------- running an event

# Routes that run an event: each call gets an event of its own at the stage it needs (order fixed,
# open, or open with the current household's flat selected).
RUN_ROUTES: dict[str, str] = {
    "POST /api/v1/selection-events/{event_id}/open": "fixed",
    "POST /api/v1/selection-events/{event_id}/selections": "open",
    "POST /api/v1/selection-events/{event_id}/finish": "selected",
    "POST /api/v1/selection-events/{event_id}/skip": "open",
    "POST /api/v1/selections/{selection_id}/undo": "selected",
    # the key handover: a selection in an estate delivered yesterday (see run_path_values)
    "POST /api/v1/selections/{selection_id}/handover": "selected",
    "POST /selections/{selection_id}/handover": "selected",
    "POST /selection-events/{event_id}/console": "open",  # the console confirms a flat
    "POST /api/v1/selection-events/{event_id}/close": "open",
}
SUPERVISOR = Actor(
    user_id=None, username="perm-housing-lead", display_name="权限测试负责人", role="commander"
)
# Several sizes, so that some flat fits whatever entitlement the household being served has.
RUN_FLAT_AREAS = (45, 60, 80, 100, 120)


@dataclass
class Running:
    """An event of its own for one call: its id, the household being served, the flat to select
    (the largest its entitlement allows) and, at stage ``selected``, that selection."""

    event_id: int
    household_id: int
    flat_id: int
    selection_id: int = 0


def running_event(h: HousingTargets, stage: str, n: int) -> Running:
    """A fresh estate and sign-order event at ``stage`` (the household being served first gives up
    any flat it holds from earlier calls, so its entitlement has room)."""
    from anju.housing import service as housing_service

    with unit_of_work() as db:
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=h.project_id, code=f"RUN{n}", name=f"选房测试小区{n}"
        )
        out = io.BytesIO()
        wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
        ws = wb.add_worksheet("房源")
        ws.write_row(0, 0, ["楼栋", "单元", "楼层", "房号", "户型", "建筑面积", "套内面积"])
        for f, area in enumerate(RUN_FLAT_AREAS, start=1):
            ws.write_row(f, 0, ["1幢", 1, f, f"{f}01", "A", area, area - 10])
        wb.close()
        rows = housing_service.read_flat_sheet(out.getvalue(), "房源.xlsx")
        housing_service.import_flats(db, actor=OFFICER, estate_id=estate.id, rows=rows)
        event = housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=h.project_id,
            name=f"选房测试{n}",
            order_kind="sign_order",
            estate_ids=[estate.id],
        )
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id)
        event_id = int(event.id)
        if stage == "fixed":
            return Running(event_id, 0, 0)
        housing_service.open_event(db, actor=OFFICER, event_id=event_id)
        console = housing_service.selection_console(db, event_id=event_id)
        assert console.current is not None, "no household to serve"
        hid = int(console.current.household_id)
        for sel, _ in housing_service.household_selections(db, household_id=hid):
            housing_service.undo_selection(db, actor=SUPERVISOR, selection_id=sel.id, reason="权限测试复位")
        console = housing_service.selection_console(db, event_id=event_id)
        assert console.allowed, f"no flat fits household {hid}: {console.entitlement_error}"
        flat_id = int(max(console.allowed, key=lambda c: c.row.flat.gross_area).row.flat.id)
        run = Running(event_id, hid, flat_id)
        if stage == "selected":
            sel = housing_service.select_flat(
                db, actor=OFFICER, event_id=event_id, household_id=hid, flat_id=flat_id
            )
            run.selection_id = int(sel.id)
        return run


HANDOVER_ROUTES = frozenset(
    {"POST /api/v1/selections/{selection_id}/handover", "POST /selections/{selection_id}/handover"}
)


def _deliver_estate_of(flat_id: int) -> None:
    """The estate of ``flat_id`` delivered yesterday (a handover of today is then allowed)."""
    from anju.housing import service as housing_service

    with unit_of_work() as db:
        estate = housing_service.get_estate(
            db, estate_id=housing_service.get_flat(db, flat_id=flat_id).estate_id
        )
        housing_service.update_estate_delivery(
            db,
            actor=OFFICER,
            estate_id=estate.id,
            expected_version=estate.version,
            changes={"actual_delivery_on": today_shanghai() - timedelta(days=1)},
            today=today_shanghai(),
        )


def run_path_values(route: AppRoute, h: HousingTargets, n: int, *, spare: bool) -> dict[str, int]:
    """The path of a route that runs an event; the event's state is kept for the body. A refused
    call (``spare`` False) must write nothing: it gets the planned event and placeholders."""
    run = running_event(h, RUN_ROUTES[route.key], n) if spare else Running(h.event_id, 0, h.flat_id, 1)
    h.running = run
    if spare and route.key in HANDOVER_ROUTES:
        _deliver_estate_of(run.flat_id)
    values = {"event_id": run.event_id, "selection_id": run.selection_id}
    return {k: v for k, v in values.items() if k in route.params}


def run_body(route: AppRoute, h: HousingTargets) -> dict[str, Any] | None:
    """The body of a route that runs an event (after :func:`run_path_values`)."""
    run = h.running
    if route.key == "POST /api/v1/selection-events/{event_id}/selections" and run is not None:
        return {"household_id": run.household_id or 1, "flat_id": run.flat_id}
    if (
        route.key
        in (
            "POST /api/v1/selection-events/{event_id}/finish",
            "POST /api/v1/selection-events/{event_id}/skip",
        )
        and run is not None
    ):
        return {"household_id": run.household_id or 1}
    if route.key == "POST /api/v1/selections/{selection_id}/undo":
        return {"reason": "户主改选"}
    if route.key == "POST /api/v1/selections/{selection_id}/handover":
        return {"handed_over_on": today_shanghai().isoformat()}
    if route.key == "POST /api/v1/selection-events/{event_id}/close":
        return {"reason": "权限测试：其余各户另行安排"}
    return None


# --------------------------------------------------------------------------- confirmations

CONFIRMATION_ROUTES = frozenset(
    {
        "GET /selection-events/{event_id}/households/{household_id}/confirmation.pdf",
        "GET /api/v1/selection-events/{event_id}/households/{household_id}/confirmation.pdf",
    }
)


def finished_event(h: HousingTargets, n: int) -> tuple[int, int]:
    """A new open event in which a new swap-signed sibling of the target (same scope case) has
    finished choosing (the households called before it are skipped): the event and the sibling."""
    from anju.agreement import service as agreement_service
    from anju.housing import service as housing_service
    from anju.housing.models import SelectionOrderEntry
    from anju.identity.service import DataScope
    from tests.api.permission_calls import _signable_sibling

    hid, head, code = h.household
    sibling = _signable_sibling(hid, head, f"{code}C{n}")
    with unit_of_work() as db:
        agreement_service.sign(
            db,
            actor=OFFICER,
            scope=DataScope.everything(),
            household_id=sibling,
            option="swap",
            sign_on=today_shanghai(),
        )
    run = running_event(h, "fixed", n)
    with unit_of_work() as db:
        housing_service.open_event(db, actor=OFFICER, event_id=run.event_id)
        for _ in range(1000):
            current = db.scalar(
                select(SelectionOrderEntry.household_id).where(
                    SelectionOrderEntry.event_id == run.event_id, SelectionOrderEntry.status == "current"
                )
            )
            assert current is not None, "the sibling is not in the event's order"
            if current != sibling:
                housing_service.skip_household(db, actor=OFFICER, event_id=run.event_id, household_id=current)
                continue
            console = housing_service.selection_console(db, event_id=run.event_id)
            assert console.allowed, f"no flat fits household {current}: {console.entitlement_error}"
            flat = max(console.allowed, key=lambda c: c.row.flat.gross_area).row.flat
            housing_service.select_flat(
                db, actor=OFFICER, event_id=run.event_id, household_id=current, flat_id=flat.id
            )
            housing_service.finish_household(db, actor=OFFICER, event_id=run.event_id, household_id=current)
            return run.event_id, sibling
    raise AssertionError("the sibling was never called")


def confirmation_path_values(h: HousingTargets, n: int, *, spare: bool) -> dict[str, int]:
    """A permitted call reads the confirmation of a new sibling in a new event where it finished;
    a refused one names the planned event and the standing sibling (nothing is built)."""
    event_id, household_id = finished_event(h, n) if spare else (h.event_id, h.sibling)
    return {"event_id": event_id, "household_id": household_id}
