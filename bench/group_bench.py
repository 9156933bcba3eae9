"""Group measures (#12 items 3 and 8): what a caller pays for the project's group facts (block sign and
vacate dates with certificate and area weights, office-set measures) rebuilt on every call, as before,
against the per-data-version cache of ``anju.compensation.group_cache``, and the incremental refresh after
one signing.

    .venv/bin/python bench/group_bench.py [--households 2300] [--repeat 30] [--write-results]

A fresh SQLite file under ``bench/out`` holds a project of ``--households`` households in 4 片区 x 5 地块,
each with a head and one or two certified buildings, about 60% signed and 30% vacated (bulk-written
dates), a policy whose items use ``sign_rate(..., basis='area')``, ``vacate_rate(..., basis='证')`` and an
office-set ``measure(...)``, and recorded values for every 片区. Timed (median of ``--repeat`` calls, each
in a fresh session as a request has):

1. the group facts alone: rebuilt (the cache emptied before each call) and from the cache;
2. one household's calculation sheet (``compensation_service.calculate``) with the facts rebuilt and cached;
3. the refresh after one household signs (its date written and committed in another transaction): the
   households whose version moved are read again, only their block is recounted;
4. the project's budget for one option (the bulk evaluator) with a group rebuilt and with the cached object
   (its vectorised rate index and memoised rates are reused with it).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Group measures"

POLICY = """
policy:
  name: 片区指标基准
  effective_on: 2024-01-01
  rounding: {mode: half_up, unit: fen}
  block_levels: [片区, 地块]
options: {cash: 货币补偿}
measures:
  整片腾空率: {label: 整片腾空率, unit: '%', set_by: office, levels: [片区]}
items:
  - id: base
    label: 房屋补偿
    options: [cash]
    formula: "sum(buildings, building.legal_area) * 8000元/㎡"
  - id: area_sign
    label: 按面积签约奖励
    options: [cash]
    formula: "points_above(sign_rate('片区', date('2024-06-30'), basis='area'), 80%) * 500元"
  - id: cert_vacate
    label: 按证腾空奖励
    options: [cash]
    formula: "if vacate_rate('地块', date('2024-07-31'), basis='证') >= 60% then 3000元 else 0元"
  - id: household_sign
    label: 按户签约奖励
    options: [cash]
    formula: "if sign_rate('project', date('2024-06-30')) >= 50% then 1000元 else 0元"
  - id: whole
    label: 整片腾空奖励
    options: [cash]
    formula: "if measure('整片腾空率', '片区', date('2024-07-31')) >= 90% then 2000元 else 0元"
"""


def _use_database(url: str) -> None:
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    os.environ["ANJU_DATABASE_URL"] = url
    os.environ["ANJU_DATA_DIR"] = str(OUT / "data")
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def build(n: int) -> tuple[str, int, list[int]]:
    """A fresh database with the project; returns (url, project id, household ids)."""
    import random

    from sqlalchemy import update

    from anju.compensation import group_measures
    from anju.compensation import service as compensation_service
    from anju.core.actor import Actor
    from anju.db import migrate
    from anju.db.session import unit_of_work
    from anju.household import service as household_service
    from anju.household.models import Household
    from anju.identity.service import DataScope
    from anju.project import service as project_service

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"group-bench-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    _use_database(url)
    actor = Actor.system("bench")
    rng = random.Random(12)
    everything = DataScope.everything()
    with unit_of_work() as db:
        p = project_service.create_project(
            db, actor=actor, code="GRP", name="片区指标基准项目", kind="state_land"
        )
        leaves: list[int] = []
        areas: list[int] = []
        for a in range(1, 5):
            area = project_service.add_block(
                db, actor=actor, project_id=p.id, code=f"A{a}", name=f"{a}号片区", level="area"
            )
            areas.append(area.id)
            for b in range(1, 6):
                leaf = project_service.add_block(
                    db,
                    actor=actor,
                    project_id=p.id,
                    code=f"A{a}-{b}",
                    name=f"{b}号地块",
                    level="block",
                    parent_id=area.id,
                )
                leaves.append(leaf.id)
        ids: list[int] = []
        for i in range(n):
            h = household_service.create_household(
                db,
                actor=actor,
                project_id=p.id,
                block_id=leaves[i % len(leaves)],
                data={"code": f"G{i:05d}", "head_name": f"户主{i}", "address": f"基准路{i}号"},
            )
            for k in range(1 + (i % 3 == 0)):
                household_service.add_building(
                    db,
                    actor=actor,
                    scope=everything,
                    household_id=h.id,
                    data={
                        "certificate_no": f"C{i}-{k}",
                        "structure": "砖混",
                        "use": "住宅",
                        "legal_area": f"{rng.randint(4000, 15000) / 100:.2f}",
                    },
                )
            ids.append(h.id)
        for hid in ids:
            if rng.random() < 0.6:
                sign = date(2024, 4, 1) + timedelta(days=rng.randint(0, 120))
                vac = sign + timedelta(days=rng.randint(5, 40)) if rng.random() < 0.5 else None
                db.execute(
                    update(Household)
                    .where(Household.id == hid)
                    .values(sign_on=sign, vacate_on=vac, status="signed")
                )
        project_service.bump_households_version(db, p.id)
        compensation_service.publish(db, actor=actor, project_id=p.id, source=POLICY, file_name="bench.yaml")
        for aid in areas:
            group_measures.record(
                db,
                actor=actor,
                project_id=p.id,
                measure_id="整片腾空率",
                block_id=aid,
                effective_on=date(2024, 7, 1),
                value=str(rng.randint(80, 99)),
                reason="基准",
            )
    return url, p.id, ids


def median_ms(repeat: int, call: Callable[[], Any], before: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(n: int, repeat: int) -> list[tuple[str, float, float]]:
    from sqlalchemy import update

    from anju.compensation import budget, group_cache
    from anju.compensation import service as compensation_service
    from anju.db.session import unit_of_work
    from anju.household.models import Household
    from anju.identity.service import DataScope
    from anju.policy import evaluate_bulk
    from anju.project import service as project_service

    _url, pid, ids = build(n)
    everything = DataScope.everything()
    hid = ids[len(ids) // 2]
    rows: list[tuple[str, float, float]] = []

    def facts() -> Any:
        with unit_of_work() as db:
            return compensation_service.group_facts(db, pid)

    def sheet() -> Any:
        with unit_of_work() as db:
            return compensation_service.calculate(db, scope=everything, household_id=hid, option="cash")

    facts()
    rows.append(
        ("group facts of the project", median_ms(repeat, facts, group_cache.clear), median_ms(repeat, facts))
    )
    sheet()
    rows.append(
        (
            "one household's calculation sheet",
            median_ms(repeat, sheet, group_cache.clear),
            median_ms(repeat, sheet),
        )
    )

    # One household signs in another transaction: the next call re-reads it alone.
    signer = iter(i for i in ids if i != hid)

    def sign_one() -> None:
        with unit_of_work() as db:
            db.execute(
                update(Household)
                .where(Household.id == next(signer))
                .values(sign_on=date(2024, 6, 1), version=Household.version + 1)
            )
            project_service.bump_households_version(db, pid)

    facts()
    before = dict(group_cache.STATS)
    incremental = median_ms(repeat, facts, sign_one)
    assert group_cache.STATS["incremental"] - before.get("incremental", 0) == repeat, group_cache.STATS
    rebuilt = median_ms(repeat, facts, lambda: (sign_one(), group_cache.clear()))
    rows.append(("group facts after one household signed", rebuilt, incremental))

    with unit_of_work() as db:
        _pv, entry = budget.project_table(db, project_id=pid)
        checked, table = entry.checked, entry.table
        cached = compensation_service.group_facts(db, pid)

    def fresh_group() -> Any:
        group_cache.clear()
        with unit_of_work() as db:
            return compensation_service.group_facts(db, pid)

    evaluate_bulk(checked, table, "cash", group=cached, jit=False)
    old = median_ms(repeat, lambda: evaluate_bulk(checked, table, "cash", group=fresh_group(), jit=False))
    new = median_ms(repeat, lambda: evaluate_bulk(checked, table, "cash", group=cached, jit=False))
    rows.append(("project budget, one option (numpy bulk)", old, new))
    return rows


def report(n: int, rows: list[tuple[str, float, float]]) -> str:
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"`bench/group_bench.py --households {n}` on SQLite (WAL), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" load average {load:.1f} on the shared 2-core VM. Median milliseconds per call, each call a fresh session"
        " (a request): rebuilt = the group facts read and counted from the whole project on every call (the way"
        " every caller worked before); cached = `anju.compensation.group_cache` (per project data version, refreshed"
        " incrementally).",
        "",
        "| Call | rebuilt (ms) | cached (ms) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for name, a, b in rows:
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.1f}x |")
    lines += [
        "",
        "- A cached call still reads two version counters (the project's household version and the identity of"
        " the recorded measure values), so another worker's write is seen on its next call.",
        "- After one signing the refresh reads every household's version (one narrow query) and the changed"
        " household's row and buildings, and recounts its block only; a change of the block tree rebuilds.",
        "- The budget row includes building the rate index of the group (sorted dates and running weights per"
        " scope) that the cached object keeps; the evaluation itself is the same.",
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace (or add) the "## Group measures" section of bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"^## Group measures\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=2300)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    rows = run(args.households, args.repeat)
    text = report(args.households, rows)
    print(text)
    if args.write_results:
        write_section(text)
        print(f"wrote {SECTION} to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
