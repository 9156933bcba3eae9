"""The hourly condition check runs in every server worker: several checks at once on SQLite,
PostgreSQL and MariaDB decide each conditional agreement exactly once (one audit record, one due
instalment, one move back on the timeline) and the audit chain verifies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.agreement import jobs
from anju.agreement import service as agreement_service
from anju.agreement.models import Agreement, Instalment
from anju.audit import service as audit_service
from anju.audit.models import AuditRecord
from anju.campaign.models import StageChange
from anju.compensation import service as compensation_service
from anju.core.dates import today_shanghai
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.identity.service import DataScope
from tests.conftest import BACKENDS, clear_data_caches, new_database
from tests.factories import ACTOR, build_world

ALL = DataScope.everything()
CHECKERS = 4


@pytest.fixture(params=BACKENDS)
def backend_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of one backend, the settings pointing at it (``unit_of_work`` uses it)."""
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    tmp = tmp_path_factory.mktemp(f"conditions-{request.param}")
    url, handle = new_database(request.param, tmp)
    caches = (get_settings, get_engine, get_sessionmaker)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANJU_DATA_DIR", str(tmp / "data"))
        mp.setenv("ANJU_ENV", "test")
        mp.setenv("ANJU_DATABASE_URL", url)
        for cache in caches:
            cache.cache_clear()
        clear_data_caches()
        (tmp / "data").mkdir()
        migrate.upgrade(url)
        try:
            yield request.param
        finally:
            get_engine().dispose()
            for cache in caches:
                cache.cache_clear()
            if handle is not None:
                handle.drop()


def _world(deadline: date, *, signed: list[int], households: int = 8) -> dict[int, int]:
    """Households 0, 2, 4 ... are block E; sign ``signed`` under a block condition of 75%."""
    with unit_of_work() as db:
        w = build_world(db, households=households)
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )
        agreement_service.set_signing_terms(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            agreement_prefix="P1",
            on_sign_share_bp=7000,
            condition_kind="block_rate",
            condition_rate_bp=7500,
            condition_deadline_on=deadline,
            expected_version=0,
            today=deadline - timedelta(days=30),
        )
        return {
            i: agreement_service.sign(
                db,
                actor=ACTOR,
                scope=ALL,
                household_id=w.household_ids[i],
                option="cash",
                sign_on=deadline - timedelta(days=20 - i),
            ).id
            for i in signed
        }


def _in_parallel(work: Any) -> list[Any]:
    barrier = threading.Barrier(CHECKERS)
    results: list[Any] = [None] * CHECKERS
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CHECKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    return results


def _audits(db: Session, action: str) -> dict[str, int]:
    rows = db.execute(
        select(AuditRecord.entity_id, func.count())
        .where(AuditRecord.entity == "agreement", AuditRecord.action == action)
        .group_by(AuditRecord.entity_id)
    ).all()
    return {str(e): int(n) for e, n in rows}


def test_checks_at_once_make_each_agreement_effective_once(backend_db: str) -> None:
    today = today_shanghai()
    # block E (households 0, 2, 4, 6): 3 of 4 signed = 75%; a West household waits (1 of 4)
    ids = _world(today + timedelta(days=5), signed=[0, 2, 4, 1])
    runs = _in_parallel(jobs.check_all_conditions)
    decided = sorted(i for run in runs for r in run.values() for i in r.effective)
    east = sorted(ids[i] for i in (0, 2, 4))
    assert decided == east  # each decided by exactly one of the checks
    with unit_of_work(write=False) as db:
        assert _audits(db, "effective") == {str(i): 1 for i in east}
        statuses = dict(db.execute(select(Agreement.id, Agreement.status)).all())
        assert statuses == {**dict.fromkeys(east, "effective"), ids[1]: "pending"}
        due = db.execute(
            select(Instalment.agreement_id, func.count())
            .where(Instalment.kind == "on_sign", Instalment.status == "due")
            .group_by(Instalment.agreement_id)
        ).all()
        assert dict(due) == dict.fromkeys(east, 1)
        assert audit_service.verify(db).ok


def test_checks_at_once_after_the_deadline_make_each_agreement_void_once(backend_db: str) -> None:
    today = today_shanghai()
    ids = _world(today - timedelta(days=1), signed=[0, 1, 3])  # E: 1 of 4, W: 2 of 4; deadline passed
    runs = _in_parallel(jobs.check_all_conditions)
    decided = sorted(i for run in runs for r in run.values() for i in r.void)
    assert decided == sorted(ids.values())
    with unit_of_work(write=False) as db:
        assert _audits(db, "void") == {str(i): 1 for i in ids.values()}
        assert {s for (s,) in db.execute(select(Agreement.status))} == {"void"}
        backs = db.execute(
            select(StageChange.household_id, func.count())
            .where(StageChange.from_stage == "signed", StageChange.to_stage == "negotiating")
            .group_by(StageChange.household_id)
        ).all()
        assert sorted(n for _h, n in backs) == [1, 1, 1]
        assert audit_service.verify(db).ok


def test_leaders_approving_one_request_at_once_apply_it_once(backend_db: str) -> None:
    from anju.agreement.models import AgreementSnapshot
    from anju.core.actor import Actor
    from anju.errors import Conflict
    from anju.household import service as household_service

    today = today_shanghai()
    with unit_of_work() as db:
        w = build_world(db, households=2)
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=w.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )
        a = agreement_service.sign(
            db, actor=ACTOR, scope=ALL, household_id=w.household_ids[0], option="cash", sign_on=today
        )
        f = household_service.get_household_file(db, scope=ALL, household_id=w.household_ids[0])
        household_service.update_building(
            db, actor=ACTOR, scope=ALL, building_id=f.buildings[0].building.id, data={"legal_area": "90.00"}
        )
        officer = Actor(
            user_id=w.users["case_officer"], username="case_officer", display_name="经办", role="case_officer"
        )
        change_id = agreement_service.request_change(
            db, actor=officer, scope=ALL, agreement_id=a.id, kind="amend", reason="复测"
        ).id
        agreement_id, leader_id = a.id, w.users["commander"]
    leader = Actor(user_id=leader_id, username="commander", display_name="指挥长", role="commander")

    def approve() -> str:
        try:
            with unit_of_work() as db:
                agreement_service.approve_change(db, actor=leader, scope=ALL, change_id=change_id)
            return "approved"
        except Conflict as exc:
            return exc.code

    outcomes = _in_parallel(approve)
    assert sorted(outcomes) == ["already_decided"] * (CHECKERS - 1) + ["approved"]
    with unit_of_work(write=False) as db:
        revisions = db.scalars(
            select(AgreementSnapshot.revision).where(AgreementSnapshot.agreement_id == agreement_id)
        ).all()
        assert sorted(revisions) == [1, 2]
        kinds = db.scalars(select(Instalment.kind).where(Instalment.agreement_id == agreement_id)).all()
        assert sorted(kinds) == ["adjustment", "after_vacate", "on_sign"]
        assert _audits(db, "amend") == {str(agreement_id): 1}
        assert audit_service.verify(db).ok
