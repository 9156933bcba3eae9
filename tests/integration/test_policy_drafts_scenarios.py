"""Policy drafts edited in a form and named what-if scenarios, on every configured database."""

from __future__ import annotations

import io
import json

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation import drafts, scenarios
from anju.compensation import service as compensation_service
from anju.demo.policies import POLICY_DIR
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.policy import edit
from tests.factories import ACTOR, build_world

SOURCE = (POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8")
# 6 households of one 88.50 ㎡ building each: 3 元/㎡ more relocation is 265.50 元 each under cash
RELOCATION_DELTA = 6 * 8_850 * 3


def _world(db: Session, households: int = 6) -> int:
    w = build_world(db, households=households)
    compensation_service.publish(db, actor=ACTOR, project_id=w.project_id, source=SOURCE, file_name="s.yaml")
    return w.project_id


def test_scenario_saved_rerun_renamed_and_archived_with_audit(db: Session) -> None:
    pid = _world(db)
    before = audit_service.count(db)
    sc = scenarios.create_scenario(
        db,
        actor=ACTOR,
        project_id=pid,
        name="  搬迁费 18 元 ",
        option="cash",
        overrides={"relocation_rate": "18", "transition_rate": "12", "house_rate[brick_concrete,B]": ""},
    )
    # only values that differ from the plan are kept; the name is trimmed
    assert (sc.name, sc.version, json.loads(sc.overrides)) == ("搬迁费 18 元", 1, {"relocation_rate": "18"})
    assert audit_service.count(db) == before + 1
    run = scenarios.run_scenario(db, project_id=pid, scenario=sc)
    assert run.delta == RELOCATION_DELTA
    assert run.households == 6 and run.households_affected == 6
    assert run.by_item["relocation_cash"][1] - run.by_item["relocation_cash"][0] == RELOCATION_DELTA
    assert all(b == n for k, (b, n) in run.by_item.items() if k != "relocation_cash")
    assert sum(n for _b, n in run.by_block.values()) == run.new_total
    assert run.ignored == []

    with pytest.raises(Conflict) as dup:
        scenarios.create_scenario(
            db, actor=ACTOR, project_id=pid, name="搬迁费 18 元", option="cash", overrides={}
        )
    assert dup.value.code == "duplicate_name"
    assert [s.id for s in scenarios.scenarios(db, pid)] == [sc.id]
    assert audit_service.count(db) == before + 1

    renamed = scenarios.update_scenario(
        db, actor=ACTOR, project_id=pid, scenario_id=sc.id, version=1, name="搬迁费 18 元（方案甲）"
    )
    assert (renamed.version, renamed.name) == (2, "搬迁费 18 元（方案甲）")
    assert audit_service.count(db) == before + 2
    with pytest.raises(Conflict) as stale:
        scenarios.update_scenario(
            db, actor=ACTOR, project_id=pid, scenario_id=sc.id, version=1, name="又一个"
        )
    assert stale.value.http_status == 409 and "第 2 版" in stale.value.message_zh
    assert scenarios.get_scenario(db, project_id=pid, scenario_id=sc.id).name == "搬迁费 18 元（方案甲）"

    scenarios.archive_scenario(db, actor=ACTOR, project_id=pid, scenario_id=sc.id, version=2)
    assert audit_service.count(db) == before + 3
    assert scenarios.scenarios(db, pid) == []
    assert [s.id for s in scenarios.scenarios(db, pid, archived=True)] == [sc.id]
    with pytest.raises(Conflict):
        scenarios.archive_scenario(db, actor=ACTOR, project_id=pid, scenario_id=sc.id, version=3)
    # an archived scenario is still readable and re-runs; its name can be used again
    assert scenarios.run_scenario(db, project_id=pid, scenario=sc).delta == RELOCATION_DELTA
    again = scenarios.create_scenario(
        db, actor=ACTOR, project_id=pid, name="搬迁费 18 元（方案甲）", option="cash", overrides={}
    )
    assert again.id != sc.id


def test_bad_overrides_are_refused_and_nothing_is_written(db: Session) -> None:
    pid = _world(db, households=2)
    before = audit_service.count(db)
    with pytest.raises(ValidationFailed) as exc:
        scenarios.create_scenario(
            db,
            actor=ACTOR,
            project_id=pid,
            name="坏的",
            option="cash",
            overrides={"no_such": "1", "relocation_rate": "十八", "transition_rate": "-1"},
        )
    assert exc.value.details == [
        {"field": "no_such", "message": "方案中没有这个参数"},
        {"field": "relocation_rate", "message": "“十八”不是有效的数字"},
        {"field": "transition_rate", "message": "应为不小于0的数字"},
    ]
    with pytest.raises(ValidationFailed):
        scenarios.create_scenario(db, actor=ACTOR, project_id=pid, name="x", option="lottery", overrides={})
    with pytest.raises(ValidationFailed):
        scenarios.create_scenario(db, actor=ACTOR, project_id=pid, name="   ", option="cash", overrides={})
    assert scenarios.scenarios(db, pid) == []
    assert audit_service.count(db) == before
    with pytest.raises(NotFound):
        scenarios.get_scenario(db, project_id=pid + 1000, scenario_id=1)


def test_compare_and_export(db: Session) -> None:
    pid = _world(db)
    a = scenarios.create_scenario(
        db, actor=ACTOR, project_id=pid, name="甲", option="cash", overrides={"relocation_rate": "18"}
    )
    b = scenarios.create_scenario(
        db, actor=ACTOR, project_id=pid, name="乙", option="swap", overrides={"relocation_rate": "18"}
    )
    c = scenarios.create_scenario(db, actor=ACTOR, project_id=pid, name="丙", option="cash", overrides={})
    runs = scenarios.compare(db, project_id=pid, scenario_ids=[b.id, a.id, c.id])
    assert [r.name for r in runs] == ["乙", "甲", "丙"]
    assert [r.delta for r in runs] == [
        2 * RELOCATION_DELTA,
        RELOCATION_DELTA,
        0,
    ]  # swap pays relocation twice
    assert [r.households_affected for r in runs] == [6, 6, 0]
    for bad in ([a.id], [a.id, a.id], [a.id, b.id, c.id, a.id + 100, a.id + 101]):
        with pytest.raises(ValidationFailed):
            scenarios.compare(db, project_id=pid, scenario_ids=bad)
    data = scenarios.export_xlsx(runs, block_names={}, knobs=scenarios.knob_labels(db, project_id=pid))
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert wb.sheet_names == ["汇总", "按项目", "按区块", "参数"]
    summary = wb.get_sheet_by_name("汇总").to_python()
    assert summary[0] == ["指标", "乙", "甲", "丙"]
    assert summary[7][0] == "比原方案增减（元）"
    assert summary[7][1:] == [
        2 * RELOCATION_DELTA / 100,
        RELOCATION_DELTA / 100,
        0.0,
    ]
    params = wb.get_sheet_by_name("参数").to_python()
    assert params[1] == ["搬迁费", "元/㎡", "15", "18", "18", "—"]


def test_draft_form_save_diff_and_publish(db: Session) -> None:
    pid = _world(db, households=2)
    with pytest.raises(NotFound):
        drafts.get_draft(db, project_id=pid)
    before = audit_service.count(db)
    d1 = drafts.start_draft(db, actor=ACTOR, project_id=pid)
    assert (d1.number, d1.based_on, d1.source) == (1, 1, SOURCE)
    rate = next(f for f in drafts.form_fields(d1.source) if f.name == "relocation_rate")
    values = {f.key: f.value for f in drafts.form_fields(d1.source)} | {rate.key: "18"}
    d2 = drafts.save_form(db, actor=ACTOR, project_id=pid, parent_number=1, values=values)
    assert (d2.number, d2.parent_id, d2.note) == (2, d1.id, "修改搬迁费")
    assert d2.source == SOURCE.replace(
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 15,",
        "relocation_rate: {label: 搬迁费, unit: 元/㎡, value: 18,",
    )
    assert audit_service.count(db) == before + 2
    pv, changes = drafts.draft_diff(db, project_id=pid, number=2)
    assert pv is not None and pv.version == 1
    assert [(c.kind, c.name) for c in changes] == [("parameter", "relocation_rate")]

    # an older draft cannot be saved on (someone saved in between); nothing is written
    with pytest.raises(Conflict) as stale:
        drafts.save_form(db, actor=ACTOR, project_id=pid, parent_number=1, values={rate.key: "20"})
    assert stale.value.http_status == 409
    # a value the checker refuses comes back on its field; nothing is written
    upto = next(f for f in drafts.form_fields(d2.source) if f.kind == "day" and "第1个时间窗" in f.detail)
    with pytest.raises(ValidationFailed) as bad:
        drafts.save_form(db, actor=ACTOR, project_id=pid, parent_number=2, values={upto.key: "99999"})
    assert [d["field"] for d in bad.value.details] == [upto.key]
    with pytest.raises(ValidationFailed) as nothing:
        drafts.save_form(db, actor=ACTOR, project_id=pid, parent_number=2, values={rate.key: "18.00"})
    assert nothing.value.code == "nothing_changed"
    with pytest.raises(compensation_service.PolicyInvalid):
        drafts.save_yaml(db, actor=ACTOR, project_id=pid, parent_number=2, source=d2.source + "\nbogus: 1\n")
    assert [d.number for d in drafts.drafts(db, pid)] == [2, 1]
    assert audit_service.count(db) == before + 2

    pv2 = drafts.publish_draft(db, actor=ACTOR, project_id=pid, number=2)
    assert pv2.version == 2 and pv2.source == d2.source
    assert edit.fields(pv2.source)[0].value == edit.fields(SOURCE)[0].value
