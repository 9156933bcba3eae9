"""``anju housing estate-add | import-flats | verify-order`` against a real SQLite file: the order of
an event recomputed and compared (OK, or the first difference after tampering), the standalone
check from a seed and a file of household codes (no database), and refusals that write nothing."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from anju.agreement import service as agreement_service
from anju.cli import app
from anju.compensation import service as compensation_service
from anju.core.actor import Actor
from anju.db import migrate
from anju.db.session import unit_of_work
from anju.demo.policies import POLICY_DIR
from anju.housing import rules
from anju.housing import service as housing_service
from anju.identity.service import DataScope
from tests.factories import ACTOR, build_world
from tests.integration.test_housing_stock import building_rows, flat_list

runner = CliRunner()
SEED = "公证处封存种子 20261220-7731"
OFFICER = Actor(user_id=None, username="jingban", display_name="经办人", role="case_officer")


def _world(settings_env: Path, swap: list[int]) -> tuple[int, list[str]]:
    """The standard world, the demo policy, swap agreements for ``swap`` (in that order), and an estate."""
    from anju.config import get_settings

    settings_env.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(get_settings().effective_database_url)
    with unit_of_work() as db:
        world = build_world(db, households=6)
        compensation_service.publish(
            db,
            actor=ACTOR,
            project_id=world.project_id,
            source=(POLICY_DIR / "shantytown.yaml").read_text(encoding="utf-8"),
        )
        for i in swap:
            agreement_service.sign(
                db,
                actor=OFFICER,
                scope=DataScope.everything(),
                household_id=world.household_ids[i],
                option="swap",
                sign_on=date(2024, 4, 20),
                today=date(2024, 4, 20),
            )
    return world.project_id, [f"H{i + 1:04d}" for i in swap]


def test_estate_and_flat_list_from_the_shell(settings_env: Path, tmp_path: Path) -> None:
    _world(settings_env, [])
    r = runner.invoke(
        app, ["housing", "estate-add", "P1", "qx", "--name", "青溪安置小区", "--by", "case_officer"]
    )
    assert r.exit_code == 0, r.output
    assert "已添加安置小区 QX 青溪安置小区" in r.output
    good, bad = tmp_path / "房源.xlsx", tmp_path / "坏.xlsx"
    good.write_bytes(flat_list(building_rows("3幢", units=2, floors=2)))
    bad.write_bytes(flat_list([["3幢", 1, 1, "101", "A", 90, 95, "", "", ""]]))
    r = runner.invoke(app, ["housing", "import-flats", "P1", "QX", str(bad)])
    assert r.exit_code == 2 and "第 3 行“套内面积”：套内面积 95.00㎡ 大于建筑面积 90.00㎡" in r.output
    r = runner.invoke(app, ["housing", "import-flats", "P1", "QX", str(good), "--check"])
    assert r.exit_code == 0 and "检查通过：4 套房源可以导入" in r.output
    r = runner.invoke(app, ["housing", "import-flats", "P1", "QX", str(good)])
    assert r.exit_code == 0, r.output
    assert "已导入 4 套房源（新建楼栋 1 个，户型 1 个）到 QX 青溪安置小区" in r.output
    r = runner.invoke(app, ["housing", "import-flats", "P1", "QX", str(good)])
    assert r.exit_code == 2 and "房源 3-1-101 已在该小区的房源中" in r.output
    r = runner.invoke(app, ["housing", "import-flats", "P1", "NOPE", str(good)])
    assert r.exit_code == 2 and "本项目没有编号为“NOPE”的安置小区" in r.output
    with unit_of_work(write=False) as db:
        assert db.scalar(text("SELECT COUNT(*) FROM flat")) == 4


def _lottery(project_id: int) -> int:
    with unit_of_work() as db:
        estate = housing_service.create_estate(
            db, actor=OFFICER, project_id=project_id, code="E1", name="一期"
        )
        event = housing_service.create_event(
            db,
            actor=OFFICER,
            project_id=project_id,
            name="摇号选房",
            order_kind="lottery",
            estate_ids=[estate.id],
        )
        housing_service.publish_commitment(
            db,
            actor=OFFICER,
            event_id=event.id,
            seed_source="公证处封存",
            seed_hash=rules.seed_commitment(SEED),
        )
        housing_service.fix_order(db, actor=OFFICER, event_id=event.id, seed=SEED)
        return int(event.id)


def test_verify_order_of_an_event_and_after_tampering(settings_env: Path) -> None:
    project_id, codes = _world(settings_env, [4, 1, 5, 0, 2])
    ev = _lottery(project_id)
    r = runner.invoke(app, ["housing", "verify-order", "--event", str(ev)])
    assert r.exit_code == 0, r.output
    assert f"种子：{SEED}" in r.output and f"种子承诺值：{rules.seed_commitment(SEED)}" in r.output
    assert r.output.strip().endswith("核对一致：5 户的顺序与重新计算的结果相同")
    expected = [p.code for p in rules.lottery_order(SEED, codes)]
    # someone moves the first household to the end in the database
    with unit_of_work() as db:
        db.execute(
            text("UPDATE selection_order_entry SET position = 99 WHERE event_id = :e AND position = 1"),
            {"e": ev},
        )
    r = runner.invoke(app, ["housing", "verify-order", "--event", str(ev)])
    assert r.exit_code == 1, r.output
    assert f"核对不一致：第 1 位应为 {expected[0]}，记录为 {expected[1]}（第 2 位）" in r.output
    r = runner.invoke(app, ["housing", "verify-order", "--event", "999"])
    assert r.exit_code == 2 and "选房活动不存在" in r.output


def test_verify_order_standalone_from_a_seed_and_a_file(settings_env: Path, tmp_path: Path) -> None:
    codes = ["H0005", "H0002", "H0006", "H0001", "H0003"]
    listing = tmp_path / "户编号.txt"
    listing.write_text("# 参加摇号的户\n" + "\n".join(codes) + "\n\n", encoding="utf-8")
    commitment = hashlib.sha256(SEED.encode()).hexdigest()
    r = runner.invoke(
        app,
        ["housing", "verify-order", "--seed", SEED, "--households", str(listing), "--commitment", commitment],
    )
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if "\t" in line]
    by_hand = sorted(codes, key=lambda c: hashlib.sha256(f"{SEED}|{c}".encode()).hexdigest())
    assert [line.split("\t")[1] for line in lines] == by_hand
    assert lines[0] == f"1\t{by_hand[0]}\t{hashlib.sha256(f'{SEED}|{by_hand[0]}'.encode()).hexdigest()}"
    assert "种子与承诺值相符" in r.output and f"名单指纹：{rules.roster_hash(codes)}（5 户）" in r.output
    # one more household takes its place in the order
    listing.write_text("\n".join([*codes, "H0007"]), encoding="utf-8")
    r2 = runner.invoke(app, ["housing", "verify-order", "--seed", SEED, "--households", str(listing)])
    longer = [line.split("\t")[1] for line in r2.output.splitlines() if "\t" in line]
    assert sorted(longer) == sorted([*codes, "H0007"]) and [c for c in longer if c != "H0007"] == by_hand
    # a seed that does not match the commitment
    r = runner.invoke(
        app,
        [
            "housing",
            "verify-order",
            "--seed",
            SEED + "x",
            "--households",
            str(listing),
            "--commitment",
            commitment,
        ],
    )
    assert r.exit_code == 1 and "种子与事先公布的承诺值不符" in r.output
    listing.write_text("H0001\nH0001\n", encoding="utf-8")
    r = runner.invoke(app, ["housing", "verify-order", "--seed", SEED, "--households", str(listing)])
    assert r.exit_code == 2 and "户编号名单有误" in r.output
    r = runner.invoke(app, ["housing", "verify-order", "--seed", SEED])
    assert r.exit_code == 2 and "请给出 --event，或者 --seed 和 --households" in r.output
