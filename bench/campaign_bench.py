"""Campaign progress and big-screen data under 50 concurrent clients, next to /healthz, on SQLite or PostgreSQL.

    .venv/bin/python bench/campaign_bench.py --backend sqlite   [--households 100000] [--duration 30] [--write-results]
    .venv/bin/python bench/campaign_bench.py --backend postgres [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--clients 50] [--warmup 10] [--workers 2] [--rebuild]
    PYTHONPATH=<another checkout>/src .venv/bin/python bench/campaign_bench.py --service-timings-only  (older code)

Builds once (cached: ``bench/out/campaign-bench-N.db`` on SQLite, the database ``anju_bench_campaign_N`` on the
PostgreSQL server) a project of N fictional households (default 100,000) in 4 villages of 5 groups, 4 大组 of 5
小组 with every household assigned (包户), 30 days of signing history drawn from a Weibull time to sign
(about 70% signed, some vacated, demolished and paid), a stage timeline row per signing and per household in
negotiation, and one visit per household with one or two concern tags. The rows are written with bulk inserts
(a benchmark fixture, not the application's write path; ~1 minute).

Then, in this process, the service calls are timed with every cache off, after a stage write (the household
facts and results computed again: what each worker pays on its next request after a write to the project) and
from the cache. Then ``anju serve --workers 2`` is started on loopback and
``--clients`` keep-alive clients (asyncio, each logged in as a case officer) cycle three requests back to back:
``GET /api/v1/projects/{id}/progress?on=D``, ``GET /api/v1/projects/{id}/bigscreen?on=D`` and ``GET /healthz`` (the
trivial endpoint of the same server, measured in the same run). After ``--warmup`` seconds, requests answered in
the next ``--duration`` seconds are counted: median, p95, throughput per kind, and each p95 over /healthz's.
Target (issue #9): p95 < 100 ms for the progress and big-screen data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SECTION = "## Campaign progress"
ON = date(2026, 12, 4)  # the day the numbers are asked for (day 30 of the campaign)
LAUNCH = ON - timedelta(days=29)
USERNAME, PASSWORD = "bench_commander", "Bench-Passw0rd!"
NOTES = """Runs of 2026-12-05 (PostgreSQL 08:05-08:07, SQLite 08:07-08:09 UTC) on the shared 2-core VM (Intel Xeon,
2 vCPU, 23 GB) while other sessions ran test suites and browser tests (load average in each table; the benchmark
client runs in the same VM). Reading the numbers:
- Target p95 < 100 ms: not met, and not by the data endpoints' fault. The clients are a closed loop without
  think time, so every request waits about clients / throughput (Little's law) whatever it asks: 50 clients at
  ~550 requests/s (SQLite) give ~70 ms median and ~220 ms p95, at ~350/s (PostgreSQL) ~135 ms and ~245 ms,
  for `GET /healthz` (no work at all) as much as for the data. The honest measure is the ratio to /healthz in
  the same run: p95 0.94-1.00x (SQLite) and 1.02-1.07x (PostgreSQL); the medians within 5% (PostgreSQL big
  screen 14%). The VM saturates before the endpoints matter (server CPU 31-36 s of 60 s; the rest went to the
  client and the other sessions). Real big screens refetch on a change event, not back to back.
- A cache hit is 2-3 ms in-process (the session check, the project row, the household-data version and the
  highest stage-change and visit ids). A write to the project's households, stages, teams or assignments
  makes each worker compute the household facts and results again on its next request ("after a stage
  write"); the concern counts (per highest visit id) and the completion estimates (per signing history) stay.
- Cold cache before/after the rewrite of the computation (columns read as integers the database computes,
  int64 arrays, bincount / cumulative sums, no Python loop over households; the garbage collector paused while
  the 100,000-row results exist). Same database, same VM, the old code (commit 547a859) and the new one timed
  back to back with this script's `--service-timings-only` (median of 5, ms; load average 3-5):

  | call | SQLite before | SQLite after | PostgreSQL before | PostgreSQL after |
  |---|---|---|---|---|
  | progress, after a stage write | 2,637 | 470 | 1,658 | 455 |
  | big screen, after a stage write | 3,690 | 487 | 2,481 | 409 |
  | daily series, after a stage write | 2,545 | 555 | 2,091 | 498 |
  | progress, every cache off | 2,621 | 785 | 1,800 | 724 |
  | big screen, every cache off | 10,770 | 1,613 | 7,056 | 1,369 |

  The forecast is not comparable one to one: the project's completion is now the latest of its villages'
  (each fitted on its own), so the big screen fits four groups where it fitted one.
- The < 300 ms target for a miss at 100,000 households on SQLite is not reached on this loaded VM: ~0.45-0.5 s
  wall, ~0.41 s of CPU at load average 5. Of that, SQLite evaluating the three queries is ~0.3 s (households
  ~170 ms: a scan of the wide rows with four date conversions; stage timeline ~100 ms; assignments ~55 ms),
  numpy and the counting ~50 ms, the rest the per-call queries. Further steps, not taken: a covering index
  for the campaign columns of `household` (a migration), or updating the cached arrays incrementally.
- On PostgreSQL the bulk-loaded database needs `ANALYZE` (the build runs it): without statistics the
  concern-tag query ran for over 6 minutes."""


# ------------------------------------------------------------------ the project


def _use_database(url: str) -> None:
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    os.environ["ANJU_DATABASE_URL"] = url
    os.environ["ANJU_DATA_DIR"] = str(OUT / "data")
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _populate(url: str, n: int) -> None:
    """Migrate and fill the benchmark project (bulk inserts; see the module docstring)."""
    import numpy as np
    from sqlalchemy import insert, update

    from anju.campaign import rules as campaign_rules
    from anju.campaign.models import StageChange, Visit, VisitConcern
    from anju.core.actor import Actor
    from anju.db import migrate
    from anju.db.session import unit_of_work
    from anju.household.models import Household
    from anju.identity import service as identity_service
    from anju.identity.models import HouseholdAssignment, Team
    from anju.project import service as project_service
    from anju.project.models import Project

    migrate.upgrade(url)
    _use_database(url)
    actor = Actor.system("bench")
    rng = np.random.default_rng(9)
    with unit_of_work() as db:
        p = project_service.create_project(
            db, actor=actor, code="CAMP", name="攻坚基准项目", kind="collective_land"
        )
        db.execute(
            update(Project)
            .where(Project.id == p.id)
            .values(launched_on=LAUNCH, deadline_on=ON + timedelta(days=30), target_sign_rate=100)
        )
        groups: list[int] = []
        for v in range(1, 5):
            village = project_service.add_block(
                db, actor=actor, project_id=p.id, code=f"V{v}", name=f"{v}号村", level="village"
            )
            for g in range(1, 6):
                b = project_service.add_block(
                    db,
                    actor=actor,
                    project_id=p.id,
                    code=f"V{v}-{g}",
                    name=f"{g}组",
                    level="group",
                    parent_id=village.id,
                )
                groups.append(b.id)
        squads: list[int] = []
        for v in range(1, 5):
            gid = db.execute(
                insert(Team)
                .values(project_id=p.id, parent_id=None, kind="group", name=f"第{v}大组", sort=v, version=1)
                .returning(Team.id)
            ).scalar_one()
            for s in range(1, 6):
                sid = db.execute(
                    insert(Team)
                    .values(
                        project_id=p.id,
                        parent_id=gid,
                        kind="squad",
                        name=f"第{v}大组{s}小组",
                        sort=s,
                        version=1,
                    )
                    .returning(Team.id)
                ).scalar_one()
                squads.append(int(sid))
        identity_service.create_user(
            db,
            actor=actor,
            username=USERNAME,
            display_name="基准指挥长",
            password=PASSWORD,
            role="case_officer",
        )
        project_id = p.id

    # Time to sign from the launch: Weibull(scale 22 days, shape 1.4); observed up to day 30.
    days = np.ceil(22 * (-np.log(rng.uniform(size=n))) ** (1 / 1.4)).astype(int)
    block_of = rng.integers(0, len(groups), size=n)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳秀建国明华英军平"
    for start in range(0, n, 10_000):
        rows = []
        for i in range(start, min(n, start + 10_000)):
            d = int(days[i])
            signed = d <= 30
            sign_on = LAUNCH + timedelta(days=d - 1) if signed else None
            vacate_on = demolish_on = paid_on = None
            status = ("surveyed", "valued", "negotiating", "negotiating")[i % 4]
            if sign_on is not None:
                status = "signed"
                if rng.uniform() < 0.5 and sign_on + timedelta(days=3) <= ON:
                    vacate_on, status = sign_on + timedelta(days=3), "vacated"
                    if rng.uniform() < 0.3 and vacate_on + timedelta(days=2) <= ON:
                        demolish_on, status = vacate_on + timedelta(days=2), "demolished"
                if rng.uniform() < 0.6 and sign_on + timedelta(days=2) <= ON:
                    paid_on = sign_on + timedelta(days=2)
            head = (
                surnames[i % len(surnames)] + given[(i // 20) % len(given)] + given[(i // 200) % len(given)]
            )
            rows.append(
                {
                    "project_id": project_id,
                    "block_id": groups[int(block_of[i])],
                    "code": f"C{i + 1:06d}",
                    "head_name": head,
                    "address": f"基准村{i + 1}号",
                    "status": status,
                    "sign_on": sign_on,
                    "vacate_on": vacate_on,
                    "demolish_on": demolish_on,
                    "paid_on": paid_on,
                    "search_text": f"c{i + 1:06d} {head}",
                    "version": 1,
                    "created_at": datetime(2026, 10, 1, tzinfo=UTC),
                    "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
                }
            )
        with unit_of_work() as db:
            ids = list(
                db.execute(
                    insert(Household).returning(Household.id, sort_by_parameter_order=True), rows
                ).scalars()
            )
            assignments = [
                {
                    "household_id": hid,
                    "team_id": squads[int(block_of[start + k])],
                    "user_id": None,
                    "assigned_on": LAUNCH,
                    "active": True,
                    "reason": "",
                }
                for k, hid in enumerate(ids)
            ]
            db.execute(insert(HouseholdAssignment), assignments)
            changes, visits = [], []
            for k, hid in enumerate(ids):
                row = rows[k]
                if row["sign_on"] is not None:
                    at = datetime.combine(row["sign_on"], datetime.min.time(), tzinfo=UTC) + timedelta(
                        hours=int(rng.integers(1, 15)), minutes=int(rng.integers(0, 60))
                    )  # 09:00-22:59 office time on the signing day
                    changes.append(
                        {
                            "project_id": project_id,
                            "household_id": hid,
                            "from_stage": "negotiating",
                            "to_stage": "signed",
                            "reached_on": row["sign_on"],
                            "at": at,
                            "by_name": "基准",
                            "note": "",
                        }
                    )
                elif row["status"] == "negotiating":
                    reached = LAUNCH + timedelta(days=int(rng.integers(0, 30)))
                    changes.append(
                        {
                            "project_id": project_id,
                            "household_id": hid,
                            "from_stage": "surveyed",
                            "to_stage": "negotiating",
                            "reached_on": reached,
                            "at": datetime.combine(reached, datetime.min.time(), tzinfo=UTC)
                            + timedelta(hours=3),
                            "by_name": "基准",
                            "note": "",
                        }
                    )
                visited = datetime.combine(LAUNCH, datetime.min.time(), tzinfo=UTC) + timedelta(
                    minutes=int(rng.integers(0, 29 * 24 * 60))
                )
                visits.append(
                    {
                        "project_id": project_id,
                        "household_id": hid,
                        "team_id": assignments[k]["team_id"],
                        "idempotency_key": f"bench-{hid}",
                        "visited_at": visited,
                        "off_hours": False,
                        "duration_min": 30,
                        "attitude": ("support", "wait", "resist")[hid % 3],
                        "created_at": visited,
                    }
                )
            if changes:
                db.execute(insert(StageChange), changes)
            visit_ids = list(
                db.execute(insert(Visit).returning(Visit.id), visits).scalars()
            )  # order not needed
            tags = list(campaign_rules.CONCERN_TAGS)
            concerns = [
                {"visit_id": vid, "project_id": project_id, "tag": tags[int(t)]}
                for vid in visit_ids
                for t in rng.choice(len(tags), size=int(rng.integers(1, 3)), replace=False)
            ]
            db.execute(insert(VisitConcern), concerns)
        print(f"  {min(n, start + 10_000):,} households", file=sys.stderr)


def sqlite_database(n: int, rebuild: bool) -> str:
    path = OUT / f"campaign-bench-{n}.db"
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    if not path.exists():
        t = time.perf_counter()
        _use_database(url)
        try:
            _populate(url, n)
        except BaseException:
            from anju.db.session import get_engine

            get_engine().dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            raise
        print(f"built {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return url


def postgres_database(server_url: str, n: int, rebuild: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"anju_bench_campaign_{n}"
    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")

    def url_of(db: str) -> str:
        return server.set(database=db).render_as_string(hide_password=False)

    try:
        with admin.connect() as c:
            if rebuild:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                building = name + "_building"
                c.execute(text(f"DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                c.execute(text(f"CREATE DATABASE {building} ENCODING 'UTF8'"))
                t = time.perf_counter()
                _use_database(url_of(building))
                _populate(url_of(building), n)
                from anju.db.session import get_engine

                get_engine().dispose()
                built = create_engine(make_url(url_of(building)), isolation_level="AUTOCOMMIT")
                with built.connect() as b:
                    b.execute(
                        text("ANALYZE")
                    )  # planner statistics after the bulk load (autovacuum comes later)
                built.dispose()
                c.execute(text(f"ALTER DATABASE {building} RENAME TO {name}"))
                print(f"built {name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    finally:
        admin.dispose()
    return url_of(name)


def project_id_of(url: str) -> int:
    from sqlalchemy import select

    from anju.db.session import get_engine, unit_of_work
    from anju.project.models import Project

    _use_database(url)
    with unit_of_work() as db:
        pid = int(db.scalar(select(Project.id).where(Project.code == "CAMP")) or 0)
    get_engine().dispose()
    return pid


# ------------------------------------------------------------------ in-process timings


def service_timings(url: str, project_id: int, repeat: int = 5) -> list[tuple[str, float, float, float]]:
    """(call, median ms computed with every cache off, median ms after a stage write, median ms of a
    cache hit) for the service calls.

    "After a stage write" is what a worker pays on its next request after any write to the project's
    households, stages, teams or assignments: the household facts and the results are computed again,
    the concern counts (kept per highest visit id) and the completion estimates (kept per signing
    history) are not. Works with the code before the campaign progress rewrite too (``--label``),
    whose caches lived in ``anju.campaign.service.progress``.
    """
    import sys as _sys

    from anju.campaign import service as campaign_service
    from anju.db.session import get_engine, unit_of_work
    from anju.identity.service import DataScope

    caches = (
        _sys.modules.get("anju.campaign.service.progress_facts")
        or _sys.modules["anju.campaign.service.progress"]
    )
    forecast_module = _sys.modules["anju.campaign.service.forecast"]
    _use_database(url)
    everyone = DataScope.everything()
    calls = {
        "progress": lambda db: campaign_service.progress(db, scope=everyone, project_id=project_id, on=ON),
        "big screen": lambda db: campaign_service.big_screen(db, project_id=project_id, on=ON),
        "daily series": lambda db: campaign_service.daily_series(
            db, scope=everyone, project_id=project_id, until=ON
        ),
        "forecast (project and 24 blocks)": lambda db: campaign_service.forecast(
            db, project_id=project_id, on=ON
        ),
    }

    def timed(call: Any) -> float:
        with unit_of_work() as db:
            t = time.perf_counter()
            call(db)
            return (time.perf_counter() - t) * 1000

    out = []
    for name, call in calls.items():
        cold, written, warm = [], [], []
        for _ in range(repeat):
            caches.CACHE_ENABLED = False
            forecast_module._cache.clear()
            cold.append(timed(call))
            caches.CACHE_ENABLED = True
            caches.clear_progress_caches()
            timed(call)  # fill every cache
            warm.append(timed(call))
            caches._facts_cache.clear()  # what a write to the project's households invalidates
            caches._result_cache.clear()
            written.append(timed(call))
        out.append((name, statistics.median(cold), statistics.median(written), statistics.median(warm)))
    get_engine().dispose()
    return out


# ------------------------------------------------------------------ load


def start_server(url: str, workers: int, log: Path, wait: float = 600) -> tuple[subprocess.Popen[bytes], int]:
    """``anju serve`` on loopback and a free port, waited for (up to ``wait`` s: a loaded VM starts slowly)."""
    import httpx
    from list_bench import free_port

    port = free_port()
    env = dict(os.environ, ANJU_DATABASE_URL=url, ANJU_DATA_DIR=str(OUT / "data"))
    cmd = [str(Path(sys.executable).parent / "anju"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                time.sleep(5)  # let the other workers finish starting too
                return server, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit(f"server did not start (see {log})")
        time.sleep(0.5)


async def run_load(
    port: int, project_id: int, clients: int, warmup: float, duration: float
) -> dict[str, Any]:
    from mixed_bench import login, request

    paths = {
        "progress": f"/api/v1/projects/{project_id}/progress?on={ON.isoformat()}",
        "big screen": f"/api/v1/projects/{project_id}/bigscreen?on={ON.isoformat()}",
        "healthz (trivial)": "/healthz",
    }
    kinds = list(paths)
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    errors: Counter[str] = Counter()
    sessions = [await login(port, USERNAME, PASSWORD) for _ in range(clients)]
    t0 = time.monotonic()
    measure_from, stop_at = t0 + warmup, t0 + warmup + duration

    async def client(i: int, cookie: str) -> None:
        conn = await asyncio.open_connection("127.0.0.1", port)
        j = i
        try:
            while time.monotonic() < stop_at:
                kind = kinds[j % len(kinds)]
                j += 1
                t = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        request(conn, "GET", paths[kind], {"Cookie": cookie}), 60
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    if measure_from <= time.monotonic() <= stop_at:
                        errors[f"{kind}: {exc.__class__.__name__}"] += 1
                    conn[1].close()
                    conn = await asyncio.open_connection("127.0.0.1", port)
                    continue
                elapsed = (time.perf_counter() - t) * 1000
                if measure_from <= time.monotonic() <= stop_at:
                    if status == 200:
                        timings[kind].append(elapsed)
                    else:
                        errors[f"{kind}: HTTP {status}"] += 1
        finally:
            conn[1].close()

    await asyncio.gather(*(client(i, cookie) for i, (cookie, _csrf) in enumerate(sessions)))
    return {"timings": timings, "errors": errors}


def report(
    args: argparse.Namespace,
    load: dict[str, Any],
    timings: list[tuple[str, float, float, float]],
    extra: dict[str, str],
) -> str:
    from import_bench import machine
    from list_bench import percentile

    rows = []
    trivial = load["timings"].get("healthz (trivial)") or []
    base_p95 = percentile(trivial, 95) if trivial else 0.0
    for kind, values in load["timings"].items():
        if not values:
            rows.append(f"| {kind} | 0 | - | - | - | - |")
            continue
        p95 = percentile(values, 95)
        ratio = f"{p95 / base_p95:.2f}" if base_p95 else "-"
        rows.append(
            f"| {kind} | {len(values):,} | {len(values) / args.duration:,.1f} | "
            f"{statistics.median(values):,.1f} ms | {p95:,.1f} ms | {ratio} |"
        )
    cache_rows = [
        f"| {name} | {cold:,.0f} ms | {written:,.0f} ms | {warm:,.2f} ms |"
        for name, cold, written, warm in timings
    ]
    errors = load["errors"]
    lines = [
        f"### {args.backend_label}",
        "",
        f"{args.households:,} households in one project ({extra['facts']}); `anju serve --workers {args.workers}` on loopback; "
        f"{args.clients} keep-alive clients cycling the three requests back to back, {args.warmup:.0f} s warm-up then "
        f"**{args.duration:.0f} s measured**; errors: {sum(errors.values())}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in errors.most_common())})" if errors else "")
        + f"; server CPU {extra['cpu']}; load average before/after {extra['load']}.",
        "",
        "| request | answered | per s | median | p95 | p95 / healthz p95 |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "The same service calls in one process on this database (median of 5; load average "
        f"{extra['service_load']}): computed with every cache off, computed after a stage write (what each "
        "worker pays once on its next request: the household facts and the results again, the concern counts "
        "and completion estimates still kept), and answered from the cache.",
        "",
        "| call | every cache off | after a stage write | cache hit |",
        "|---|---|---|---|",
        *cache_rows,
        "",
        f"Machine: {machine()}.",
    ]
    return "\n".join(lines) + "\n"


def write_results(args: argparse.Namespace, text: str) -> None:
    from import_bench import replace_section

    path = ROOT / "bench" / "RESULTS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    parts: dict[str, str] = {}
    if SECTION in old:
        body = old.split(SECTION, 1)[1].split("\n## ", 1)[0]
        for chunk in body.split("\n### ")[1:]:
            title = chunk.split("\n", 1)[0].strip()
            parts[title] = "### " + chunk.strip("\n") + "\n"
    parts[args.backend_label] = text
    if NOTES:
        parts["Notes"] = "### Notes\n\n" + NOTES.strip("\n") + "\n"
    order = [k for k in ("SQLite (WAL)", "PostgreSQL", "Notes") if k in parts]
    intro = (
        f"{SECTION}\n\n"
        "Command: `.venv/bin/python bench/campaign_bench.py --backend sqlite --write-results` and `--backend postgres` "
        "(defaults: 100,000 households, 50 clients, 10 s warm-up, 30 s measured, `--workers 2`). The progress "
        "(`GET /api/v1/projects/{id}/progress?on=`) and big-screen data (`GET /api/v1/projects/{id}/bigscreen?on=`) "
        "of issue #9 next to `GET /healthz` of the same server in the same run. Target: p95 < 100 ms. The clients "
        "send back to back (no think time): a saturated server.\n"
    )
    replace_section(path, SECTION, intro + "\n" + "\n".join(parts[k] for k in order))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ANJU_BENCH_POSTGRES_URL")
        or os.environ.get("ANJU_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="build the cached project again")
    parser.add_argument("--no-service-timings", action="store_true", help="skip the in-process cache timings")
    parser.add_argument(
        "--service-timings-only",
        action="store_true",
        help="only the in-process timings (e.g. of another checkout: PYTHONPATH=<its src>), no server",
    )
    parser.add_argument(
        "--write-results", action="store_true", help="update this backend's part of RESULTS.md"
    )
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 100))
    args.backend_label = "SQLite (WAL)" if args.backend == "sqlite" else "PostgreSQL"
    from list_bench import server_cpu_seconds

    OUT.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        url = sqlite_database(args.households, args.rebuild)
    else:
        url = postgres_database(args.postgres_url, args.households, args.rebuild)
    project_id = project_id_of(url)
    service_load = f"{os.getloadavg()[0]:.1f}"
    timings = [] if args.no_service_timings else service_timings(url, project_id)
    service_load += f" / {os.getloadavg()[0]:.1f}"
    for name, cold, written, warm in timings:
        print(
            f"{name}: caches off {cold:,.0f} ms, after a stage write {written:,.0f} ms, cache hit {warm:,.2f} ms",
            file=sys.stderr,
        )
    if args.service_timings_only:
        return
    log = OUT / f"campaign-bench-{args.backend}-server.log"
    server, port = start_server(url, args.workers, log)
    load_before = os.getloadavg()[0]
    cpu: list[float] = []
    try:

        async def both() -> dict[str, Any]:
            async def marks() -> None:
                await asyncio.sleep(args.warmup + 50 * 0.05)  # logins come first (about 50 ms each)
                cpu.append(server_cpu_seconds(server.pid))
                await asyncio.sleep(args.duration)
                cpu.append(server_cpu_seconds(server.pid))

            mark = asyncio.create_task(marks())
            result = await run_load(port, project_id, args.clients, args.warmup, args.duration)
            mark.cancel()
            return result

        load = asyncio.run(both())
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    spent = cpu[1] - cpu[0] if len(cpu) == 2 else 0.0
    extra = {
        "facts": "20 blocks in 4 villages, 4 大组 of 5 小组, ~70% signed over 30 days, one visit per household",
        "cpu": f"{spent:.0f} s of {2 * args.duration:.0f} s (2 cores)" if spent else "not measured",
        "load": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
        "service_load": service_load,
    }
    text = report(args, load, timings, extra)
    print(text)
    if args.write_results:
        write_results(args, text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    random.seed(1)
    main()
