"""Realistic requests for every route of the app: targets (a household and its records), path values,
bodies, and snapshots of the household-fact tables. Used by the permission matrix tests.

When a new route needs a request body to succeed, add it to ``_page_form`` (pages) or ``_api_json``
(``/api/v1``); without one a permitted call is only checked for not being refused (401/403), a 5xx,
or a 404 on a household in reach.
"""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import text

import anju
from anju.core.dates import today_shanghai
from anju.db.session import unit_of_work
from anju.household import service as household_service
from anju.identity import service as identity_service
from anju.web.permission_matrix import AppRoute
from tests.api import permission_housing, permission_requests
from tests.factories import ACTOR, World, id_number

HEADS = ["张建国", "李秀英", "王志强", "刘桂兰", "陈国华", "杨丽娟"]  # tests.factories.build_world
ALL_SCOPE = identity_service.DataScope.everything()


def _png_1x1() -> bytes:
    """A well-formed 1x1 grey PNG (uploads are checked by content)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


PNG = _png_1x1()


def parcel_geojson(code: str) -> bytes:
    """A GeoJSON FeatureCollection of one parcel in block ``E`` (every test project has one)."""
    ring = [[120.1, 30.1], [120.101, 30.1], [120.101, 30.101], [120.1, 30.1]]
    feature = {
        "type": "Feature",
        "properties": {"code": code, "block_code": "E", "land_area": "100.00"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


FORBIDDEN_ZH = "您没有执行此操作的权限"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CSRF_ZH = "页面已过期或请求来源无效"


def unique_id_number(household_id: int, serial: int, born: date) -> str:
    """An identity number no other call of the matrix run uses: an identity number keeps only the
    serial's last three digits, and every scope case counts its own serials (all roles share them),
    so the household and the serial's thousands move the birth date."""
    return id_number(serial, born + timedelta(days=serial // 1000 + 8 * (household_id % 40)))


def _commit(fn: Callable[[Any], Any]) -> Any:
    with unit_of_work() as db:
        return fn(db)


@dataclass
class Targets:
    """Ids of one household and its child records, used to fill path parameters."""

    project_id: int
    block_id: int
    household_id: int
    member_id: int
    building_id: int
    tenant_id: int
    attachment_id: int
    user_id: int
    head_name: str
    code: str
    serial: list[int] = field(default_factory=lambda: [500])
    instalment_id: int = 0  # a due instalment of a signed sibling household (payment routes)
    payment_batches: dict[str, int] = field(default_factory=dict)  # route key -> batch (PAYMENT_BATCH_STATE)
    visit_id: int = 0  # a visit (走访) of the household
    step_id: int = 0  # a 一户一策 plan step of the household (campaign tab routes)
    agreement_id: int = 0  # a signed agreement of a sibling household in the same scope case
    change_id: int = 0  # a waiting cancellation request of another sibling's agreement (approvals routes)
    housing: permission_housing.HousingTargets | None = (
        None  # an estate, a flat and a selection event (安置房)
    )
    requests: permission_requests.RequestTargets | None = None  # a department, a category, requests (五单)

    def next_serial(self) -> int:
        self.serial[0] += 1
        return self.serial[0]

    # Spare children, so that voiding one does not take away what the next route needs.
    def spare(self, kind: str) -> int:
        hid = self.household_id
        n = self.next_serial()
        if kind == "member":
            return int(
                _commit(
                    lambda db: (
                        household_service.add_member(
                            db,
                            actor=ACTOR,
                            scope=ALL_SCOPE,
                            household_id=hid,
                            data={
                                "name": f"备用{n}",
                                "relation": "子女",
                                "id_number": unique_id_number(hid, n, date(2001, 2, 3)),
                            },
                        ).id
                    )
                )
            )
        if kind == "building":
            return int(
                _commit(
                    lambda db: (
                        household_service.add_building(
                            db,
                            actor=ACTOR,
                            scope=ALL_SCOPE,
                            household_id=hid,
                            data={"structure": "砖木", "use": "住宅", "legal_area": "10.00"},
                        ).id
                    )
                )
            )
        if kind == "tenant":
            return _tenant(hid, f"备用承租人{n}")
        if kind == "attachment":
            return _attachment(hid, PNG + str(n).encode())
        if kind == "visit":
            return _visit(hid)
        if kind == "household":
            return _signable_sibling(hid, self.head_name, f"{self.code}N{n}")
        if kind == "agreement":
            return _sibling_agreement(hid, self.head_name, f"{self.code}A{n}")
        if kind == "change":
            return _change_request(hid, self.head_name, f"{self.code}R{n}")
        if kind in CLEARANCE_STAGES:
            return _cleared_sibling(hid, self.head_name, f"{self.code}V{n}", kind)
        if kind == "cleared_tenant":
            return _cleared_tenant(hid, f"已清退承租人{n}")
        if kind == "team":
            project_id = self.project_id
            return int(
                _commit(
                    lambda db: (
                        identity_service.create_team(
                            db, actor=ACTOR, project_id=project_id, name=f"备用专班{n}"
                        ).id
                    )
                )
            )
        raise AssertionError(f"no spare for {kind}")


def _tenant(hid: int, name: str) -> int:
    return int(
        _commit(
            lambda db: (
                household_service.add_tenant(
                    db,
                    actor=ACTOR,
                    scope=ALL_SCOPE,
                    household_id=hid,
                    data={"name": name, "kind": "企业", "credential": "91330100MA2XXXXX1X", "area": "20.00"},
                ).id
            )
        )
    )


def _attachment(hid: int, content: bytes) -> int:
    return int(
        _commit(
            lambda db: (
                household_service.add_attachment(
                    db,
                    actor=ACTOR,
                    scope=ALL_SCOPE,
                    household_id=hid,
                    filename="现场照片.png",
                    content_type="image/png",
                    content=content,
                    kind="photo",
                ).id
            )
        )
    )


# The state-land example has no swap settlement; the entitlement route needs one (and its rules).
SWAP_SETTLEMENT = """
swap_settlement:
  entitled_area: sum(buildings, building.legal_area)
  credit: house_value
  cost_price: 6000元/㎡
  extra_price: 8000元/㎡
  market_price: 12000元/㎡
  refund_price: 10000元/㎡
  entitlement:
    max_flats: 2
    rules: [{id: big_flat, when: entitled > 60㎡, require: {min_flat_area: 60㎡}}]
"""


def publish_example_policy(project_id: int) -> None:
    """Publish the state-land example plan (with a swap settlement), so the calculation and
    entitlement routes have something to compute."""
    from anju.compensation import service as compensation_service

    source = (Path(anju.__file__).parent / "policy" / "examples" / "state_land.yaml").read_text(
        encoding="utf-8"
    ) + SWAP_SETTLEMENT
    _commit(
        lambda db: compensation_service.publish(
            db, actor=ACTOR, project_id=project_id, source=source, file_name="state_land.yaml"
        )
    )


def newest_draft(project_id: int) -> int:
    """The number of the project's newest policy draft (started from the published version)."""
    from anju.compensation import drafts
    from anju.errors import NotFound

    def get(db: Any) -> int:
        try:
            return int(drafts.get_draft(db, project_id=project_id).number)
        except NotFound:
            return int(drafts.start_draft(db, actor=ACTOR, project_id=project_id).number)

    return int(_commit(get))


def new_scenario(project_id: int, n: int) -> int:
    """A saved what-if scenario (version 1) of the project."""
    from anju.compensation import scenarios

    return int(
        _commit(
            lambda db: (
                scenarios.create_scenario(
                    db, actor=ACTOR, project_id=project_id, name=f"权限测算{n}", option="cash", overrides={}
                ).id
            )
        )
    )


def _targets(
    project_id: int, block_id: int, hid: int, member_id: int, head: str, code: str, serial: int, user_id: int
) -> Targets:
    building_id = _commit(
        lambda db: (
            household_service.get_household_file(db, scope=ALL_SCOPE, household_id=hid)
            .buildings[0]
            .building.id
        )
    )
    instalment_id, payment_batches = _payments(hid, head, code, user_id)
    return Targets(
        project_id=project_id,
        block_id=block_id,
        household_id=hid,
        member_id=member_id,
        building_id=int(building_id),
        tenant_id=_tenant(hid, f"承租人{serial}"),
        attachment_id=_attachment(hid, PNG + f"main{serial}".encode()),
        user_id=user_id,
        head_name=head,
        code=code,
        instalment_id=instalment_id,
        payment_batches=payment_batches,
        serial=[serial],
        visit_id=_visit(hid),
        step_id=_plan_step(hid),
        agreement_id=_sibling_agreement(hid, head, code),
        change_id=_change_request(hid, head, f"{code}C"),
        housing=permission_housing.housing_targets(project_id, hid, head, code),
        requests=permission_requests.request_targets(PNG),
    )


def _sibling_agreement(hid: int, head: str, code: str) -> int:
    """A signed agreement of a new household beside ``hid`` (same project, block, head's name and
    assignment, so it falls in the same scope case): the agreement routes have one to read while
    the target household itself stays unsigned for the stage routes."""
    from anju.agreement import service as agreement_service

    team_id, user_id = assignment_of(hid)

    def build(db: Any) -> int:
        h = household_service.get_household(db, scope=ALL_SCOPE, household_id=hid)
        sibling = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=h.project_id,
            block_id=h.block_id,
            data={"code": f"{code}S", "head_name": head, "address": f"{h.address}之二"},
        )
        household_service.add_building(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=sibling.id,
            data={"certificate_no": f"S{code}", "structure": "砖混", "use": "住宅", "legal_area": "60.00"},
        )
        identity_service.assign_households(
            db,
            actor=ACTOR,
            household_ids=[sibling.id],
            team_id=team_id,
            user_id=user_id,
            on=date(2026, 11, 1),
        )
        return agreement_service.sign(
            db, actor=ACTOR, scope=ALL_SCOPE, household_id=sibling.id, option="cash", sign_on=today_shanghai()
        ).id

    return int(_commit(build))


def _signable_sibling(hid: int, head: str, code: str) -> int:
    """A new unsigned household beside ``hid`` (same project, block, head's name and assignment, so the
    same scope case): each permitted signing takes one, and the target household stays unsigned."""
    team_id, user_id = assignment_of(hid)

    def build(db: Any) -> int:
        h = household_service.get_household(db, scope=ALL_SCOPE, household_id=hid)
        sibling = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=h.project_id,
            block_id=h.block_id,
            data={"code": code, "head_name": head, "address": f"{h.address}之三"},
        )
        household_service.add_building(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=sibling.id,
            data={"certificate_no": f"S{code}", "structure": "砖混", "use": "住宅", "legal_area": "50.00"},
        )
        identity_service.assign_households(
            db,
            actor=ACTOR,
            household_ids=[sibling.id],
            team_id=team_id,
            user_id=user_id,
            on=date(2026, 11, 1),
        )
        return int(sibling.id)

    return int(_commit(build))


def _change_request(hid: int, head: str, code: str) -> int:
    """A waiting cancellation request (by the system, so any leader may decide it) of a new signed
    sibling household of ``hid``: each permitted approval or rejection takes one."""
    from anju.agreement import service as agreement_service

    agreement_id = _sibling_agreement(hid, head, code)
    return int(
        _commit(
            lambda db: (
                agreement_service.request_change(
                    db,
                    actor=ACTOR,
                    scope=ALL_SCOPE,
                    agreement_id=agreement_id,
                    kind="cancel",
                    reason="协商解除",
                ).id
            )
        )
    )


# Routes that decide or open a change request (once per agreement or request): a permitted call takes
# a spare signed agreement or a spare waiting request of the same scope case.
SPARE_CHANGE_ROUTES = frozenset(
    {
        "POST /agreements/{agreement_id}/changes",
        "POST /api/v1/agreements/{agreement_id}/changes",
        "POST /agreement-changes/{change_id}/approve",
        "POST /agreement-changes/{change_id}/reject",
        "POST /api/v1/agreement-changes/{change_id}/approve",
        "POST /api/v1/agreement-changes/{change_id}/reject",
    }
)


# Routes that write something a household can have only once (an agreement): a permitted call takes
# a spare sibling household of the same scope case.
SPARE_HOUSEHOLD_ROUTES = frozenset({"POST /api/v1/households/{household_id}/agreements"})

# Clearance (腾空验收、拆除): a permitted call takes a spare sibling household of the same scope case
# that has reached the stage the route needs (signed to vacate, vacated to demolish or to void the
# vacating, demolished to void the demolition); voiding a tenant's clearance takes a cleared tenant.
CLEARANCE_STAGES = ("signed", "vacated", "demolished")
SPARE_CLEARANCE_ROUTES: dict[str, str] = {
    f"POST {prefix}/households/{{household_id}}/{path}": stage
    for prefix in ("", "/api/v1")
    for path, stage in (
        ("vacate", "signed"),
        ("vacate/void", "vacated"),
        ("demolition", "vacated"),
        ("demolition/void", "demolished"),
    )
}
SPARE_CLEARED_TENANT_ROUTES = frozenset(
    {"POST /tenants/{tenant_id}/clearance/void", "POST /api/v1/tenants/{tenant_id}/clearance/void"}
)
# Clearing one tenant takes a spare tenant (the project list's bulk entry clears the target's own).
SPARE_TENANT_ROUTES = frozenset({"POST /api/v1/tenants/{tenant_id}/clearance"})
# Dissolving a team deletes it (only a team never used may go): a permitted call takes a new, empty team.
SPARE_TEAM_ROUTES = frozenset({"POST /teams/{team_id}/dissolve", "POST /api/v1/teams/{team_id}/dissolve"})


def _cleared_sibling(hid: int, head: str, code: str, stage: str) -> int:
    """A sibling household of ``hid`` (same scope case) signed today and, for ``stage`` vacated or
    demolished, vacated (and demolished) today through the clearance service."""
    from anju.agreement import service as agreement_service

    sibling = _signable_sibling(hid, head, code)

    def advance(db: Any) -> None:
        today = today_shanghai()
        agreement_service.sign(
            db, actor=ACTOR, scope=ALL_SCOPE, household_id=sibling, option="cash", sign_on=today
        )
        if stage in ("vacated", "demolished"):
            agreement_service.record_vacating(
                db,
                actor=ACTOR,
                scope=ALL_SCOPE,
                household_id=sibling,
                vacated_on=today,
                checklist={"emptied": True},
                keys_handed=1,
                inspector="王验收",
            )
        if stage == "demolished":
            agreement_service.record_demolition(
                db,
                actor=ACTOR,
                scope=ALL_SCOPE,
                household_id=sibling,
                demolished_on=today,
                contractor="青溪拆除",
            )

    _commit(advance)
    return sibling


def _cleared_tenant(hid: int, name: str) -> int:
    """A tenant of ``hid`` cleared today (a permitted void of a clearance takes one)."""
    from anju.agreement import service as agreement_service

    tid = _tenant(hid, name)
    _commit(
        lambda db: agreement_service.record_tenant_clearance(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            tenant_id=tid,
            cleared_on=today_shanghai(),
            checklist={},
            inspector="王验收",
        )
    )
    return tid


def _plan_step(hid: int) -> int:
    """A step of the household's 一户一策 plan (made before any request, so refusals can be compared)."""
    from anju.campaign import service as campaign_service

    return int(
        _commit(
            lambda db: (
                campaign_service.add_step(
                    db, actor=ACTOR, scope=ALL_SCOPE, household_id=hid, data={"text": "请亲属出面做工作"}
                ).id
            )
        )
    )


def visit_body(n: int) -> dict[str, Any]:
    """A realistic visit (走访) an hour ago, with two outside persuaders."""
    at = datetime.now(UTC) - timedelta(hours=1)
    return {
        "visited_at": at.isoformat(timespec="seconds"),
        "duration_min": 40,
        "place": "户主家中",
        "staff": "专班两人",
        "persuaders": [
            {"name": f"张亲戚{n}", "relation": "relative"},
            {"name": "李战友", "relation": "comrade"},
        ],
        "concern_tags": ["area", "flat"],
        "concern_text": "阁楼面积",
        "attitude": "wait",
        "outcome": "同意复核",
        "next_step": "复核面积",
        "next_due_on": None,
    }


def _visit(hid: int) -> int:
    """A visit of the household (made before any request, so refusals can be compared)."""
    from anju.campaign import service as campaign_service
    from anju.campaign.schemas import VisitCreate

    return int(
        _commit(
            lambda db: (
                campaign_service.record_visit(
                    db,
                    actor=ACTOR,
                    scope=ALL_SCOPE,
                    household_id=hid,
                    data=VisitCreate.model_validate(visit_body(0)),
                    idempotency_key=f"perm-{uuid.uuid4()}",
                    now=datetime.now(UTC),
                )[0].id
            )
        )
    )


def targets_for(world: World, index: int) -> Targets:
    """Targets for ``world.household_ids[index]`` (adds a tenant and an attachment to it).

    The first call for a world also publishes the example policy.
    """
    if not getattr(world, "_policy_published", False):
        publish_example_policy(world.project_id)
        world._policy_published = True  # type: ignore[attr-defined]
    return _targets(
        world.project_id,
        world.block_ids["E"],
        world.household_ids[index],
        world.member_ids[index],
        HEADS[index],
        f"H{index + 1:04d}",
        500 + 100 * index,
        world.users["department"],
    )


OTHER_PROJECT_HEAD = "赵德明"


def other_project_targets(world: World) -> Targets:
    """A second project (P2, with the example policy) whose one household is assigned to a team of P2."""
    from anju.project import service as project_service

    def build(db: Any) -> tuple[int, int, int, int]:
        p = project_service.create_project(
            db, actor=ACTOR, code="P2", name="另一征收项目", kind="state_land", district="青溪街道"
        )
        block = project_service.add_block(
            db, actor=ACTOR, project_id=p.id, code="E", name="南片区", level="area"
        )
        h = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=p.id,
            block_id=block.id,
            data={"code": "Q0001", "head_name": OTHER_PROJECT_HEAD, "address": "南溪路1号"},
        )
        m = household_service.add_member(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=h.id,
            data={
                "name": OTHER_PROJECT_HEAD,
                "relation": "户主",
                "id_number": id_number(7),
                "phone": "13800000007",
            },
        )
        household_service.add_building(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=h.id,
            data={"certificate_no": "Z90001", "structure": "砖混", "use": "住宅", "legal_area": "75.00"},
        )
        team = identity_service.create_team(db, actor=ACTOR, project_id=p.id, name="南片专班")
        identity_service.assign_households(
            db, actor=ACTOR, household_ids=[h.id], team_id=team.id, user_id=None, on=date(2026, 11, 1)
        )
        return p.id, block.id, h.id, m.id

    project_id, block_id, hid, mid = _commit(build)
    publish_example_policy(project_id)
    return _targets(
        project_id, block_id, hid, mid, OTHER_PROJECT_HEAD, "Q0001", 1100, world.users["department"]
    )


def assign_to_another_team(world: World, indexes: list[int]) -> None:
    """Assign ``world.household_ids[i]`` for ``i`` in ``indexes`` to a second team of the project."""

    def assign(db: Any) -> None:
        team = identity_service.create_team(db, actor=ACTOR, project_id=world.project_id, name="第二专班")
        identity_service.assign_households(
            db,
            actor=ACTOR,
            household_ids=[world.household_ids[i] for i in indexes],
            team_id=team.id,
            user_id=None,
            on=date(2026, 11, 1),
        )

    _commit(assign)


# Routes naming a policy draft or a what-if scenario: their records are made for permitted calls only.
SCENARIO_ROUTES = {
    "GET /projects/{project_id}/policy/drafts/{number}",
    "POST /projects/{project_id}/policy/drafts/{number}/check",
    "POST /projects/{project_id}/policy/drafts/{number}/form",
    "POST /projects/{project_id}/policy/drafts/{number}/yaml",
    "GET /projects/{project_id}/policy/drafts/{number}/diff",
    "POST /projects/{project_id}/policy/drafts/{number}/publish",
    "GET /projects/{project_id}/scenarios/{scenario_id}",
    "POST /projects/{project_id}/scenarios/{scenario_id}/archive",
    "GET /api/v1/projects/{project_id}/scenarios/{scenario_id}",
    "GET /api/v1/projects/{project_id}/scenarios/{scenario_id}/run",
    "PATCH /api/v1/projects/{project_id}/scenarios/{scenario_id}",
    "DELETE /api/v1/projects/{project_id}/scenarios/{scenario_id}",
}
# Parameters naming things the test world does not hold (a census import job lives in server memory):
# a call with them can only be checked for the permission, not for success.
PLACEHOLDER_PARAMS = {
    "job_id": "no-such-job",
    "pending_id": "no-such-correction",
    # Grids (#14): no grid data in the permission world; a permitted call is a 404, never a 5xx.
    "community_id": 999_999_999,
    "grid_id": 999_999_999,
    "grid_building_id": 999_999_999,
    "case_id": 999_999_999,
    "code": "NO-SUCH-GRID",
}
# time bank (wt-timebank): records outside the household world; a permitted call answers 404
PLACEHOLDER_PARAMS.update(
    dict.fromkeys(("volunteer_id", "activity_id", "signup_id", "claim_id", "award_id"), "987654321")
)
PLACEHOLDER_PARAMS.update(transfer_id="no-such-transfer", key="min_balance_minutes")
PLACEHOLDER_PARAMS["photo_id"] = 999_999_999  # a request photo (the public board's)
# Open311 (public; its own tests in test_open311_conformance): the format suffix and a named resource.
PLACEHOLDER_PARAMS.update(fmt="json", name="no-such-service.json")
# Values of required query parameters.
QUERY_VALUES = {
    "option": "cash",
    "old": 1,
    "new": 1,
    "version": 1,
    "lng": "120.1",
    "lat": "30.2",
    **permission_requests.QUERY,
}
CHILD_KIND = {"members": "member", "buildings": "building", "tenants": "tenant", "attachments": "attachment"}


def path_values(route: AppRoute, t: Targets, *, spare: bool) -> dict[str, Any]:
    """Realistic values for every path parameter; an unknown parameter name fails the test."""
    if t.housing is not None and route.key in permission_housing.RUN_ROUTES:  # an event of its own per call
        return permission_housing.run_path_values(route, t.housing, t.next_serial(), spare=spare)
    if t.housing is not None and route.key in permission_housing.CONFIRMATION_ROUTES:
        return permission_housing.confirmation_path_values(t.housing, t.next_serial(), spare=spare)
    first = route.path.removeprefix("/api/v1").split("/")[1]
    values: dict[str, Any] = {}
    for name in route.params:
        if name == "tenant_id" and spare and route.key in SPARE_CLEARED_TENANT_ROUTES:
            values[name] = t.spare("cleared_tenant")
        elif name == "tenant_id" and spare and route.key in SPARE_TENANT_ROUTES:
            values[name] = t.spare("tenant")
        elif name == "household_id" and spare and route.key in SPARE_CLEARANCE_ROUTES:
            values[name] = t.spare(SPARE_CLEARANCE_ROUTES[route.key])
        elif name == "child_id" or (name.endswith("_id") and name[:-3] == CHILD_KIND.get(first)):
            kind = CHILD_KIND[first] if name == "child_id" else name[:-3]
            values[name] = t.spare(kind) if spare else getattr(t, f"{kind}_id")
        elif name == "household_id" and spare and route.key in SPARE_HOUSEHOLD_ROUTES:
            values[name] = t.spare("household")
        elif name in (
            "project_id",
            "household_id",
            "member_id",
            "building_id",
            "tenant_id",
            "attachment_id",
            "block_id",
            "user_id",
        ):
            values[name] = getattr(t, name)
        elif name == "kind":
            values[name] = "member"
        elif name == "field":
            values[name] = "id_number"
        elif name == "lang":
            values[name] = "zh"
        elif name == "batch_id":
            values[name] = payment_batch_of(route, t)
        elif name == "step_id":
            values[name] = t.step_id
        elif name == "agreement_id":
            spare_one = spare and route.key in SPARE_CHANGE_ROUTES
            values[name] = t.spare("agreement") if spare_one else t.agreement_id
        elif name == "change_id":
            values[name] = t.spare("change") if spare else t.change_id
        elif name == "option":
            values[name] = "cash"
        elif name == "visit_id":
            values[name] = t.spare("visit") if spare else t.visit_id
        elif name == "team_id":
            spare_team = spare and route.key in SPARE_TEAM_ROUTES
            values[name] = t.spare("team") if spare_team else assignment_of(t.household_id)[0]
        elif name == "report_on":
            # Reading: yesterday's dispatch report; writing: a day of its own per call (issued is frozen).
            back = 1 if route.method == "GET" else t.next_serial()
            values[name] = (date.today() - timedelta(days=back)).isoformat()
        elif name in permission_housing.HOUSING_PARAMS and t.housing is not None:
            values[name] = permission_housing.housing_path_value(
                route, name, t.housing, spare=spare, n=t.next_serial()
            )
        elif permission_requests.is_request_param(route, name) and t.requests is not None:
            values[name] = permission_requests.path_value(route, name, t.requests, spare=spare)
        elif name == "number":  # a policy draft (方案草稿): the newest one, so that it may be saved on
            values[name] = newest_draft(t.project_id) if spare else 1  # a refused call writes nothing
        elif name == "scenario_id":  # a what-if scenario of its own per call (archiving consumes it)
            values[name] = new_scenario(t.project_id, t.next_serial()) if spare else 1
        elif name in PLACEHOLDER_PARAMS:
            values[name] = PLACEHOLDER_PARAMS[name]
        else:
            raise AssertionError(f"{route}: no test value for path parameter {name!r}; add one here")
    return values


@dataclass
class Call:
    """One prepared request."""

    method: str
    url: str
    kwargs: dict[str, Any]
    specified: bool  # a realistic body is known, so the call must succeed when permitted


def _page_form(route: AppRoute, t: Targets) -> dict[str, Any] | None:
    n = t.next_serial()
    p = route.path
    if p == "/projects/{project_id}/scenarios":
        return {"name": f"权限页测算{n}", "option": "cash", "k.relocation_rate": str(15 + n % 7)}
    if p == "/projects/{project_id}/scenarios/{scenario_id}/archive":
        return {"version": "1"}
    if p == "/projects/{project_id}/policy/drafts/{number}/check":
        return {"v.0": "C"}
    if p == "/households/{household_id}/edit":
        return {
            "code": t.code,
            "head_name": t.head_name,
            "address": "青溪路1号之一",
            "contact_phone": "13900000001",
            "remark": "",
            "reason": "核对地址",
        }
    if p == "/households/{household_id}/members":
        return {
            "name": f"新成员{n}",
            "relation": "子女",
            "id_number": unique_id_number(t.household_id, n, date(2010, 1, 2)),
            "phone": "",
        }
    if p == "/members/{child_id}/edit":
        return {
            "name": t.head_name,
            "relation": "户主",
            "id_number": "",
            "phone": f"139{n:08d}",
            "reason": "换号",
        }
    if p in ("/households/{household_id}/buildings", "/buildings/{child_id}/edit"):
        return {"structure": "砖混", "use": "住宅", "legal_area": "66.60", "reason": "测绘"}
    if p == "/households/{household_id}/tenants":
        return {"name": f"承租企业{n}", "kind": "enterprise", "area": "30.00"}
    if p == "/households/{household_id}/homestead":
        return {"area": "120.00", "approved_year": "1998", "certificate_no": "ZJD-1"}
    if p == "/households/{household_id}/policy-facts":
        return {"reason": "入户核实"}
    if p == "/households/{household_id}/policy-facts/check":
        return {"fact.ac_units": "3"}
    if p == "/buildings/{building_id}/valuations":
        return {"firm": "青溪评估", "assessed_unit_price": "8000.00", "assessed_value": "708000.00"}
    if p.endswith("/void"):
        return {"reason": "登记错误"}
    if p == "/validate/{kind}/{field}":
        return {"id_number": "330102198005170011"}
    if p == "/members/{member_id}/reveal":
        return {}
    if p == "/projects/{project_id}/households/search":
        return {"q": ""}  # every household in reach: the matrix checks no other is named
    if p == "/users":
        return {
            "username": f"new_user_{n}",
            "display_name": f"新用户{n}",
            "role": "grid_worker",
            "password": "Strong-Passw0rd!",
        }
    if p == "/projects/{project_id}/dispatch/{report_on}":
        return {"title": "", "commentary": f"讲评{n}：各专班抓紧推进。", "version": "0"}
    if p == "/projects/{project_id}/dispatch/{report_on}/issue":
        return {"version": "0"}
    if p == "/projects/{project_id}/signing":  # the desk's review step: computes, writes nothing
        return {
            "household_id": str(t.household_id),
            "option": "cash",
            "sign_on": "",
            "payee_name": t.head_name,
        }
    if p == "/agreements/{agreement_id}/changes":  # a spare agreement each time (path_values)
        return {"kind": "cancel", "reason": "双方协商解除", "next": ""}
    if p == "/agreement-changes/{change_id}/approve":
        return {"note": "同意", "version": ""}
    if p == "/agreement-changes/{change_id}/reject":
        return {"note": "材料不全，请补充", "version": ""}
    if p == "/households/{household_id}/vacate":  # a spare signed sibling each time (path_values)
        return {
            "vacated_on": today_shanghai().isoformat(),
            "inspector": "王验收",
            "keys_handed": "2",
            "check_emptied": "on",
        }
    if p == "/households/{household_id}/demolition":  # a spare vacated sibling each time
        return {"demolished_on": today_shanghai().isoformat(), "contractor": "青溪拆除工程公司"}
    if p == "/projects/{project_id}/tenants/clearances":
        return {
            "tenant_id": str(t.tenant_id),  # once per scope case: only the case officer may clear
            "cleared_on": today_shanghai().isoformat(),
            "inspector": "王验收",
            "check_keys_handed": "on",
        }
    if p == "/projects/{project_id}/signing-terms":  # the terms saved as they stand
        return {
            "agreement_prefix": project_code(t.project_id),
            "on_sign_share": "70",
            "condition_kind": "none",
            "condition_rate": "",
            "condition_deadline_on": "",
            "version": str(version_by_project("signing_terms", t.project_id)),
            "reason": "核对签约设置",
        }
    if p == "/users/{user_id}/active":
        return {"active": "false"}
    if p == "/users/{user_id}/role":  # the spare user keeps its role: allowed, and no other outcome moves
        return {"role": "department"}
    if p in ("/users/{user_id}/team", "/users/{user_id}/password-reset"):
        return {}
    if p == "/projects/{project_id}/agreement-templates":  # with the built-in template as the file
        return {"option": "cash"}
    if p == "/projects/new":
        return {"code": f"NP{n}", "name": f"新建项目{n}", "kind": "shantytown", "target_sign_rate": "100"}
    if p == "/projects/{project_id}/setup":
        return {
            "legal_basis": "《国有土地上房屋征收与补偿条例》",
            "version": str(version_of("project", t.project_id)),
        }
    if p == "/projects/{project_id}/blocks":
        return {"code": f"B{n}", "name": f"新区块{n}", "level": "group", "parent_id": str(t.block_id)}
    if p == "/blocks/{block_id}/edit":
        return {"sort": "0", "version": str(version_of("block", t.block_id))}
    if p == "/projects/{project_id}/parcels":
        return {}
    if (payment_form := _payment_form(route, t)) is not None:
        return payment_form
    if p == "/households/{household_id}/visits":
        v = visit_body(n)
        return {
            **{
                k: v[k]
                for k in (
                    "duration_min",
                    "place",
                    "staff",
                    "concern_text",
                    "attitude",
                    "outcome",
                    "next_step",
                )
            },
            "visited_at": datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M"),
            "persuader_name": [p["name"] for p in v["persuaders"]],
            "persuader_relation": [p["relation"] for p in v["persuaders"]],
            "concern_tags": v["concern_tags"],
            "next_due_on": "",
            "idempotency_key": f"perm-page-{uuid.uuid4()}",
        }
    if (team_form := _team_forms(route, t, n)) is not None:
        return team_form
    return permission_housing.housing_form(route, t.housing, n)


def assignment_of(household_id: int) -> tuple[int, int | None]:
    """The household's active (team id, user id): assigning it so again changes nothing."""
    with unit_of_work() as db:
        row = db.execute(
            text(
                "SELECT team_id, user_id FROM household_assignment WHERE household_id = :id AND active = :yes"
            ),
            {"id": household_id, "yes": True},
        ).one()
        return int(row[0]), (int(row[1]) if row[1] is not None else None)


def team_row(team_id: int) -> dict[str, Any]:
    """A team's columns and its members' ids, as the teams page shows them."""
    with unit_of_work() as db:
        quote = db.get_bind().dialect.identifier_preparer.quote  # "user" is reserved
        row = db.execute(
            text("SELECT name, kind, parent_id, leader_id, sort, version FROM team WHERE id = :id"),
            {"id": team_id},
        ).one()
        members = db.scalars(
            text(f"SELECT id FROM {quote('user')} WHERE team_id = :id ORDER BY id"), {"id": team_id}
        )
        return dict(row._mapping) | {"members": [int(m) for m in members]}


def assignment_sheet(t: Targets) -> bytes:
    """An assignment list (包户名单) naming the target household as it is assigned now."""
    import xlsxwriter

    team_id, user_id = assignment_of(t.household_id)
    with unit_of_work() as db:
        team = db.scalar(text("SELECT name FROM team WHERE id = :id"), {"id": team_id})
        quote = db.get_bind().dialect.identifier_preparer.quote
        username = (
            db.scalar(text(f"SELECT username FROM {quote('user')} WHERE id = :id"), {"id": user_id})
            if user_id
            else ""
        )
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("包户名单")
    ws.write_row(0, 0, ["户编号", "专班", "责任人"])
    ws.write_row(1, 0, [t.code, str(team), str(username or "")])
    wb.close()
    return out.getvalue()


def _team_forms(route: AppRoute, t: Targets, n: int) -> dict[str, Any] | None:
    """Page forms of the teams page: each leaves the teams and assignments as they are (or adds a team)."""
    p = route.path
    if p == "/projects/{project_id}/teams":
        return {"name": f"新专班{n}", "kind": "squad", "parent_id": "", "leader_id": "", "sort": "0"}
    if p == "/teams/{team_id}/dissolve":
        return {}  # a spare team (path_values); the version is optional
    if p in ("/teams/{team_id}/edit", "/teams/{team_id}/members"):
        team = team_row(assignment_of(t.household_id)[0])
        if p.endswith("/members"):
            return {"user_ids": [str(m) for m in team["members"]], "version": str(team["version"])}
        return {
            "name": team["name"],
            "kind": team["kind"],
            "parent_id": str(team["parent_id"] or ""),
            "leader_id": str(team["leader_id"] or ""),
            "sort": str(team["sort"]),
            "version": str(team["version"]),
        }
    if p == "/projects/{project_id}/assignments":
        team_id, user_id = assignment_of(t.household_id)
        return {
            "mode": "selection",
            "household_ids": [str(t.household_id)],
            "team_id": str(team_id),
            "user_id": str(user_id or ""),
            "reason": "核对包户",
        }
    if p == "/projects/{project_id}/assignments/import":
        return {"reason": ""}
    if p == "/projects/{project_id}/assignments/import/confirm":
        import json

        team_id, user_id = assignment_of(t.household_id)
        team = team_row(team_id)["name"]
        with unit_of_work() as db:
            quote = db.get_bind().dialect.identifier_preparer.quote
            username = (
                db.scalar(text(f"SELECT username FROM {quote('user')} WHERE id = :id"), {"id": user_id})
                if user_id
                else ""
            )
        return {"rows": json.dumps([[2, t.code, team, username or ""]], ensure_ascii=False), "reason": ""}
    # campaign tab: stage moves stop at 协商中 (a repeat is no change), versions as just read
    if p == "/households/{household_id}/stage":
        return {"to_stage": "negotiating", "on": "", "note": "开始协商"}
    if p == "/households/{household_id}/campaign":
        return {
            "version": str(version_by_household("household_campaign", t.household_id)),
            "difficulty": "1",
            "difficulty_reason": "面积争议",
            "escalated_to": "",
            "escalated_to_name": "王副书记",
        }
    if p == "/households/{household_id}/plan":
        return {
            "version": str(version_by_household("household_plan", t.household_id)),
            "summary": f"先算清面积账{n}",
            "owner_id": "",
            "status": "active",
        }
    if p == "/households/{household_id}/plan/steps":
        return {"text": f"请战友出面{n}", "owner_id": "", "due_on": ""}
    if p == "/plan-steps/{step_id}":
        return {
            "household_id": str(t.household_id),
            "version": str(version_of("plan_step", t.step_id)),
            "status": "doing",
        }
    return None


def version_by_household(table: str, household_id: int) -> int:
    """The version of a household's one row in ``table`` (0 when there is none yet)."""
    with unit_of_work() as db:
        v = db.scalar(text(f"SELECT version FROM {table} WHERE household_id = :id"), {"id": household_id})
        return int(v or 0)


def version_by_project(table: str, project_id: int) -> int:
    """The version of a project's one row in ``table`` (0 when there is none yet)."""
    with unit_of_work() as db:
        v = db.scalar(text(f"SELECT version FROM {table} WHERE project_id = :id"), {"id": project_id})
        return int(v or 0)


def project_code(project_id: int) -> str:
    with unit_of_work() as db:
        return str(db.scalar(text("SELECT code FROM project WHERE id = :id"), {"id": project_id}))


def version_of(table: str, record_id: int) -> int:
    """The record's current version, as a client that has just read it would send it."""
    with unit_of_work() as db:
        return int(db.scalar(text(f"SELECT version FROM {table} WHERE id = :id"), {"id": record_id}))


def _api_json(route: AppRoute, t: Targets) -> dict[str, Any] | None:
    n = t.next_serial()
    key = (route.method, route.path.removeprefix("/api/v1"))
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/projects/{project_id}/scenarios"): {
            "name": f"权限测算新{n}",
            "option": "cash",
            "overrides": {},
        },
        ("PATCH", "/projects/{project_id}/scenarios/{scenario_id}"): {"version": 1, "note": f"说明{n}"},
        ("POST", "/users"): {
            "username": f"api_user_{n}",
            "display_name": f"接口用户{n}",
            "role": "grid_worker",
            "password": "Strong-Passw0rd!",
        },
        ("POST", "/users/{user_id}/role"): {"role": "department"},
        ("POST", "/users/{user_id}/team"): {"team_id": None},
        ("POST", "/users/{user_id}/active"): {"active": False},
        ("POST", "/users/{user_id}/password-reset"): {},
        ("POST", "/projects/{project_id}/households/search"): {"q": "", "size": 200},
        ("POST", "/projects/{project_id}/households"): {
            "code": f"N{n}",
            "head_name": "新户主",
            "address": f"青溪路{n}号",
            "block_id": t.block_id,
        },
        ("PATCH", "/households/{household_id}"): {
            "contact_phone": f"137{n:08d}",
            "reason": "更新",
            "version": version_of("household", t.household_id),
        },
        ("POST", "/households/{household_id}/members"): {
            "name": f"新成员{n}",
            "relation": "子女",
            "id_number": unique_id_number(t.household_id, n, date(2012, 3, 4)),
        },
        ("PATCH", "/members/{member_id}"): {
            "phone": f"136{n:08d}",
            "reason": "换号",
            "version": version_of("member", t.member_id),
        },
        ("POST", "/members/{member_id}/void"): {"reason": "登记错误"},
        ("POST", "/households/{household_id}/buildings"): {
            "structure": "简易",
            "use": "非住宅",
            "legal_area": "12.30",
        },
        ("PATCH", "/buildings/{building_id}"): {
            "legal_area": "90.10",
            "reason": "复测",
            "version": version_of("building", t.building_id),
        },
        ("POST", "/buildings/{building_id}/valuations"): {
            "firm": "青溪评估",
            "assessed_unit_price": "7000.00",
            "assessed_value": "619500.00",
        },
        ("POST", "/households/{household_id}/tenants"): {"name": f"承租人{n}", "kind": "个人"},
        ("POST", "/households/{household_id}/visits"): visit_body(n),
        ("POST", "/visits/{visit_id}/void"): {"reason": "登记错误"},
        ("PUT", "/households/{household_id}/homestead"): {"area": "150.00"},
        ("PUT", "/households/{household_id}/policy-facts"): {"values": {}, "reason": "入户核实"},
        ("PATCH", "/households/{household_id}/campaign"): {
            "version": version_by_household("household_campaign", t.household_id),
            "difficulty": 1,
            "difficulty_reason": "面积争议",
            "escalated_to_name": "王副书记",
        },
        ("POST", "/households/{household_id}/stage"): {
            "to_stage": "negotiating",
            "on": today_shanghai().isoformat(),
            "note": "开始协商",
        },
        ("PUT", "/households/{household_id}/plan"): {
            "version": version_by_household("household_plan", t.household_id),
            "summary": f"先算清面积账{n}",
            "status": "active",
        },
        ("POST", "/households/{household_id}/plan/steps"): {"text": f"请战友出面{n}"},
        ("PATCH", "/plan-steps/{step_id}"): {
            "version": version_of("plan_step", t.step_id),
            "status": "doing",
        },
        ("POST", "/projects/{project_id}/teams"): {"name": f"新专班{n}", "kind": "squad"},
        ("PUT", "/projects/{project_id}/dispatch-reports/{report_on}"): {
            "commentary": f"讲评{n}：各专班抓紧推进。",
            "version": 0,
        },
        ("POST", "/projects/{project_id}/dispatch-reports/{report_on}/issue"): {"version": 0},
        ("POST", "/projects"): {"code": f"NP{n}", "name": f"新建项目{n}", "kind": "shantytown"},
        ("PATCH", "/projects/{project_id}"): {
            "legal_basis": "《国有土地上房屋征收与补偿条例》",
            "reason": "补充法律依据",
            "version": version_of("project", t.project_id),
        },
        ("POST", "/projects/{project_id}/blocks"): {
            "code": f"B{n}",
            "name": f"新区块{n}",
            "level": "group",
            "parent_id": t.block_id,
        },
        ("PATCH", "/blocks/{block_id}"): {"sort": 0, "version": version_of("block", t.block_id)},
        # signing: a spare household each time (path_values); the terms saved as they stand
        ("POST", "/households/{household_id}/agreements"): {
            "option": "cash",
            "sign_on": today_shanghai().isoformat(),
            "payee_bank": "青溪农商银行",
            "payee_account": f"6222 0202 {n:08d}",
        },
        ("PUT", "/projects/{project_id}/signing-terms"): {
            "agreement_prefix": project_code(t.project_id),
            "on_sign_share_bp": 7000,
            "condition": {"kind": "none"},
            "version": version_by_project("signing_terms", t.project_id),
            "reason": "核对签约设置",
        },
        # amendments and cancellations: spare agreements and requests each time (path_values)
        ("POST", "/agreements/{agreement_id}/changes"): {"kind": "cancel", "reason": "双方协商解除"},
        ("POST", "/agreement-changes/{change_id}/approve"): {"note": "同意"},
        ("POST", "/agreement-changes/{change_id}/reject"): {"note": "材料不全，请补充"},
        ("POST", "/projects/{project_id}/conditions/check"): {},
        # clearance: spare households at the stage each route needs, spare tenants (path_values)
        ("POST", "/households/{household_id}/vacate"): {
            "vacated_on": today_shanghai().isoformat(),
            "checklist": {"utilities_settled": True, "emptied": True, "keys_handed": True},
            "keys_handed": 2,
            "inspector": "王验收",
        },
        ("POST", "/households/{household_id}/vacate/void"): {"reason": "登记错误"},
        ("POST", "/households/{household_id}/demolition"): {
            "demolished_on": today_shanghai().isoformat(),
            "contractor": "青溪拆除工程公司",
        },
        ("POST", "/households/{household_id}/demolition/void"): {"reason": "登记错误"},
        ("POST", "/tenants/{tenant_id}/clearance"): {
            "cleared_on": today_shanghai().isoformat(),
            "checklist": {"rent_settled": True, "emptied": True},
            "inspector": "王验收",
        },
        ("POST", "/tenants/{tenant_id}/clearance/void"): {"reason": "登记错误"},
    }
    bodies.update(_payment_json(route, t))
    bodies.update(permission_housing.housing_json(route, t.housing, n))
    if (request_body := permission_requests.request_json(route, t.requests)) is not None:
        bodies[key] = request_body
    if t.housing is not None and (run := permission_housing.run_body(route, t.housing)) is not None:
        bodies[key] = run
    bodies[("POST", "/teams/{team_id}/dissolve")] = {"reason": "建错了"}  # a spare team (path_values)
    if key[1] in ("/teams/{team_id}", "/teams/{team_id}/members", "/projects/{project_id}/assignments"):
        team_id, user_id = assignment_of(t.household_id)
        team = team_row(team_id)
        bodies[("PATCH", "/teams/{team_id}")] = {"version": team["version"], "sort": team["sort"]}
        bodies[("PUT", "/teams/{team_id}/members")] = {
            "user_ids": team["members"],
            "version": team["version"],
        }
        bodies[("POST", "/projects/{project_id}/assignments")] = {
            "household_ids": [t.household_id],
            "team_id": team_id,
            "user_id": user_id,
            "reason": "核对包户",
        }
    return bodies.get(key)


def prepare(route: AppRoute, t: Targets, csrf: str | None, *, spare: bool = True) -> Call:
    """A realistic request for ``route``; ``csrf`` None sends no token at all."""
    permitted = spare  # scenario and draft routes make their records only for permitted calls
    spare = spare and (
        route.path.endswith("/void")
        or route.key in SCENARIO_ROUTES
        or route.key in SPARE_HOUSEHOLD_ROUTES | SPARE_CHANGE_ROUTES
        or route.key in SPARE_CLEARANCE_ROUTES
        or route.key in SPARE_TENANT_ROUTES
        or route.key in SPARE_TEAM_ROUTES
        or route.key in permission_housing.SPARE_EVENT_ROUTES
        or route.key in permission_housing.RUN_ROUTES
        or route.key in permission_housing.CONFIRMATION_ROUTES
        or route.key in permission_requests.ACTION_STATE
    )
    url = route.path.format(**path_values(route, t, spare=spare))
    kwargs: dict[str, Any] = {"follow_redirects": False}
    specified = not set(route.params) & set(PLACEHOLDER_PARAMS)
    query: dict[str, Any] = {}
    for name in route.required_query:
        if name == "ids" and "/scenarios/compare" in route.path:  # two saved what-if scenarios
            query[name] = [new_scenario(t.project_id, t.next_serial()) if permitted else i for i in (1, 2)]
            continue
        if name == "version" and route.key == "DELETE /api/v1/projects/{project_id}/scenarios/{scenario_id}":
            query[name] = 1  # the new scenario's version
            continue
        if name not in QUERY_VALUES:
            raise AssertionError(
                f"{route}: no test value for query parameter {name!r}; add one to QUERY_VALUES"
            )
        query[name] = QUERY_VALUES[name]
    if "/scenarios/compare" in route.path and "ids" not in query:  # the pages' ids are optional
        query["ids"] = [new_scenario(t.project_id, t.next_serial()) if permitted else i for i in (1, 2)]
    if route.path == "/api/v1/projects/{project_id}/households":
        query["q"] = "建国"
    if route.path in ("/api/v1/projects/{project_id}/events", "/api/v1/selection-events/{event_id}/events"):
        query["max_seconds"] = 0  # an event stream ends right after its opening event
    if query:
        kwargs["params"] = query
    if route.method == "GET":
        return Call("GET", url, kwargs, specified)
    if route.path == "/api/v1/projects/{project_id}/parcels/import":
        kwargs["files"] = {
            "file": ("宗地.geojson", parcel_geojson(f"ZD{t.next_serial()}"), "application/geo+json")
        }
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    if route.path == "/api/v1/payment-batches/{batch_id}/result":
        kwargs["files"] = {"file": ("回盘.csv", payment_result_file(), "text/csv")}
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    if route.path == "/api/v1/projects/{project_id}/assignments/import":
        kwargs["files"] = {"file": ("包户名单.xlsx", assignment_sheet(t), XLSX_TYPE)}
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    if route.is_api and (files := permission_housing.housing_files(route, t.next_serial())) is not None:
        kwargs["files"] = files
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    if route.is_api and (mp := permission_requests.request_multipart(route, t.requests, PNG)) is not None:
        kwargs["files"], kwargs["data"] = mp
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        return Call(route.method, url, kwargs, specified)
    if route.is_api:
        body = _api_json(route, t)
        specified = specified and body is not None
        kwargs["json"] = body or {}
        if csrf is not None:
            kwargs["headers"] = {"X-CSRF-Token": csrf}
        if route.key == "POST /api/v1/households/{household_id}/visits":
            kwargs.setdefault("headers", {})["Idempotency-Key"] = f"perm-api-{uuid.uuid4()}"
        return Call(route.method, url, kwargs, specified)
    form = _page_form(route, t)
    specified = specified and form is not None
    data = dict(form or {})
    if csrf is not None:
        data["csrf_token"] = csrf
    if route.path == "/projects/{project_id}/parcels":
        kwargs["files"] = {
            "file": ("宗地.geojson", parcel_geojson(f"ZD{t.next_serial()}"), "application/geo+json")
        }
        specified = True
    if route.path == "/payment-batches/{batch_id}/result":
        kwargs["files"] = {"file": ("回盘.csv", payment_result_file(), "text/csv")}
    if route.path == "/projects/{project_id}/assignments/import":
        kwargs["files"] = {"file": ("包户名单.xlsx", assignment_sheet(t), XLSX_TYPE)}
    if not route.is_api and (files := permission_housing.housing_files(route, t.next_serial())) is not None:
        kwargs["files"] = files
    if route.path == "/projects/{project_id}/agreement-templates":
        from anju.agreement.docx_defaults import default_template

        kwargs["files"] = {"file": ("货币补偿协议模板.docx", default_template("cash"), DOCX_TYPE)}
    if route.path == "/households/{household_id}/attachments":
        kwargs["files"] = {"file": ("照片.png", PNG + str(t.next_serial()).encode(), "image/png")}
        data["kind"] = "photo"
        specified = True
    kwargs["data"] = data
    return Call(route.method, url, kwargs, specified)


def send(client: TestClient, call: Call) -> Any:
    return client.request(call.method, call.url, **call.kwargs)


def json_of(r: Any) -> dict[str, Any]:
    """The response's JSON object, or an empty one when the body is not a JSON object."""
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def assert_forbidden(route: AppRoute, r: Any) -> None:
    assert r.status_code == 403, f"{route}: expected 403, got {r.status_code} {r.text[:200]}"
    if route.is_api:
        body = json_of(r)
        assert body.get("code") == "permission_denied", f"{route}: {r.text[:200]}"
        assert FORBIDDEN_ZH in str(body.get("message")), f"{route}: no Chinese refusal: {r.text[:200]}"
    else:
        assert r.headers["content-type"].startswith("text/html"), route
        assert FORBIDDEN_ZH in r.text, f"{route}: no Chinese refusal in page"


# --------------------------------------------------------------- snapshots


FACT_TABLES = (
    "household",
    "member",
    "building",
    "valuation",
    "tenant",
    "homestead",
    "household_fact",
    "attachment",
    "user",
    "team",
    "household_assignment",
    "project",
    "block",
    "parcel",
)


def snapshot() -> dict[str, Any]:
    """Every row of the household-fact and project set-up tables plus the audit record count."""
    with unit_of_work() as db:
        quote = db.get_bind().dialect.identifier_preparer.quote  # "user" is reserved
        out: dict[str, Any] = {
            t: sorted(tuple(map(str, row)) for row in db.execute(text(f"SELECT * FROM {quote(t)}")))
            for t in FACT_TABLES
        }
        out["audit_count"] = db.scalar(text("SELECT COUNT(*) FROM audit_record"))
        out["session_count"] = db.scalar(text("SELECT COUNT(*) FROM user_session"))
    return out


def audit_count() -> int:
    with unit_of_work() as db:
        return int(db.scalar(text("SELECT COUNT(*) FROM audit_record")) or 0)


def xlsx_text(data: bytes) -> str:
    """Every cell of a workbook, one per line."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = []
    for name in wb.sheet_names:
        for row in wb.get_sheet_by_name(name).to_python():
            cells.extend(str(c) for c in row)
    return "\n".join(cells)


# --------------------------------------------------------------- payments (补偿款支付)

# The batch each payment route acts on, by the state it needs (made before any request, so that
# refusals can be compared): a permitted call moves its own batch, so every writing route has one.
PAYMENT_BATCH_STATE = {
    "read": "exported",
    "PUT /api/v1/payment-batches/{batch_id}/items": "draft",
    "POST /payment-batches/{batch_id}/items": "draft",
    "POST /api/v1/payment-batches/{batch_id}/submit": "draft",
    "POST /payment-batches/{batch_id}/submit": "draft",
    "POST /api/v1/payment-batches/{batch_id}/approve": "submitted",
    "POST /payment-batches/{batch_id}/approve": "submitted",
    "POST /api/v1/payment-batches/{batch_id}/reject": "submitted",
    "POST /payment-batches/{batch_id}/reject": "submitted",
    "POST /api/v1/payment-batches/{batch_id}/cancel": "draft",
    "POST /payment-batches/{batch_id}/cancel": "draft",
    "GET /api/v1/payment-batches/{batch_id}/export": "approved",
    "POST /api/v1/payment-batches/{batch_id}/result": "exported",
    "POST /payment-batches/{batch_id}/result": "exported",
}
PAYMENT_LINE_FEN = 100  # every fixture batch pays 1.00 yuan of the due on-signing share


def _payments(hid: int, head: str, code: str, user_id: int) -> tuple[int, dict[str, int]]:
    """A signed household beside ``hid`` (same project, block and assignment) whose agreement has a
    payee, so its on-signing share is due; and one batch of 1.00 yuan per payment route in the
    state that route needs. Approvals are made by ``user_id`` (not the preparer)."""
    from anju.agreement import service as agreement_service
    from anju.core.actor import Actor
    from anju.payment import service as payment_service

    team_id, assigned_user = assignment_of(hid)
    approver = Actor(
        user_id=user_id, username="perm-approver", display_name="权限测试审批人", role="commander"
    )

    def build(db: Any) -> tuple[int, dict[str, int]]:
        h = household_service.get_household(db, scope=ALL_SCOPE, household_id=hid)
        sibling = household_service.create_household(
            db,
            actor=ACTOR,
            project_id=h.project_id,
            block_id=h.block_id,
            data={"code": f"{code}P", "head_name": head, "address": f"{h.address}之四"},
        )
        household_service.add_building(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=sibling.id,
            data={"certificate_no": f"P{code}", "structure": "砖混", "use": "住宅", "legal_area": "70.00"},
        )
        identity_service.assign_households(
            db,
            actor=ACTOR,
            household_ids=[sibling.id],
            team_id=team_id,
            user_id=assigned_user,
            on=date(2026, 11, 1),
        )
        a = agreement_service.sign(
            db,
            actor=ACTOR,
            scope=ALL_SCOPE,
            household_id=sibling.id,
            option="cash",
            sign_on=today_shanghai(),
            payee=agreement_service.Payee(name=head, bank="青溪农商银行", account="6222020200001234"),
        )
        instalment_id = next(i.id for i in agreement_service.instalments(db, a.id) if i.status == "due")
        batches: dict[str, int] = {}
        for key, target in PAYMENT_BATCH_STATE.items():
            b = payment_service.create_batch(
                db,
                actor=ACTOR,
                project_id=h.project_id,
                lines=[payment_service.LineInput(instalment_id, PAYMENT_LINE_FEN)],
                title=f"权限测试 {key}",
            )
            if target != "draft":
                payment_service.submit_batch(db, actor=ACTOR, batch_id=b.id)
            if target in ("approved", "exported"):
                payment_service.approve_batch(db, actor=approver, batch_id=b.id)
            if target == "exported":
                payment_service.export_batch(db, actor=ACTOR, batch_id=b.id, fmt="csv")
            batches[key] = b.id
        return instalment_id, batches

    result: tuple[int, dict[str, int]] = _commit(build)
    return result


def payment_batch_of(route: AppRoute, t: Targets) -> int:
    """The fixture batch a payment route acts on."""
    return t.payment_batches.get(route.key, t.payment_batches["read"])


def payment_result_file() -> bytes:
    """A bank result file (CSV) paying line 1 of a fixture batch."""
    return "\ufeff序号,金额,结果,银行流水号\r\n1,1.00,成功,BK-PERM-1\r\n".encode()


def _payment_form(route: AppRoute, t: Targets) -> dict[str, Any] | None:
    p = route.path
    i = t.instalment_id
    if p == "/projects/{project_id}/payment-batches":
        return {"mode": "selected", "instalment_id": str(i), f"amount_{i}": "1.00", "title": "", "note": ""}
    if p == "/payment-batches/{batch_id}/items":
        version = version_of("payment_batch", payment_batch_of(route, t))
        return {"instalment_id": str(i), f"amount_{i}": "2.00", "version": str(version)}
    if p in ("/payment-batches/{batch_id}/submit", "/payment-batches/{batch_id}/approve"):
        return {"version": "", "note": ""}
    if p in ("/payment-batches/{batch_id}/reject", "/payment-batches/{batch_id}/cancel"):
        return {"reason": "金额有误，请核对", "version": ""}
    if p == "/payment-batches/{batch_id}/result":
        return {"paid_on": ""}
    return None


def _payment_json(route: AppRoute, t: Targets) -> dict[tuple[str, str], dict[str, Any]]:
    line = {"instalment_id": t.instalment_id, "amount_fen": PAYMENT_LINE_FEN}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/projects/{project_id}/payment-batches"): {"items": [line], "title": "权限测试批次"},
        ("POST", "/payment-batches/{batch_id}/submit"): {},
        ("POST", "/payment-batches/{batch_id}/approve"): {"note": "同意"},
        ("POST", "/payment-batches/{batch_id}/reject"): {"reason": "金额有误，请核对"},
        ("POST", "/payment-batches/{batch_id}/cancel"): {"reason": "重复编制"},
    }
    if route.key == "PUT /api/v1/payment-batches/{batch_id}/items":
        bodies[("PUT", "/payment-batches/{batch_id}/items")] = {
            "items": [{**line, "amount_fen": 2 * PAYMENT_LINE_FEN}],
            "version": version_of("payment_batch", payment_batch_of(route, t)),
        }
    return bodies
