"""The five-order loop at district scale: 1,000,000 requests (ten years of a large district) and
their ~5,000,000 history rows, then a live server under 50 concurrent clients.

    .venv/bin/python bench/requests_bench.py [--requests 1000000] [--clients 50] [--per-client 20]
                                             [--workers 2] [--write-results]

Builds once (cached under bench/out/) a migrated SQLite file: 10 communities, 100 grids with square
boundaries, 12 departments, 20 categories, then the requests with plain ``executemany`` on the
sqlite3 connection in 50,000-row chunks (one transaction, indexes kept: what a real database has).
Each request walks the five orders (submit, accept, take, publish, verify or auto_close; 8% reopened
once, 6% postponed, 3% rejected, 2% merged; the last 60 days still open in every state), with the
timestamps text SQLAlchemy writes. Then ``anju serve`` on loopback and ``--clients`` keep-alive
connections measure the public board (first page and deeper pages, no login), the indicators JSON
(a random month of the last two years, by grid, community or department) and the open-request map.
Also the office's request list (JSON API by state or grid, and its HTML page) and Open311's GET
/requests (a 90-day window) and GET /requests/{id} (JSON and XML). Median and p95 go into
bench/RESULTS.md with the machine line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from list_bench import free_port, percentile, run_clients, server_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
USERNAME, PASSWORD = "bench_desk", "Bench-Passw0rd!"
END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 Asia/Shanghai
YEARS = 10
CHUNK = 50_000
FMT = "%Y-%m-%d %H:%M:%S.%f"


def _t(d: datetime) -> str:
    return d.strftime(FMT)


def _setup(url: str) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Migrate; communities, grids, departments, categories and the bench user. Returns
    (grid id, community id) pairs, department ids and category ids."""
    from anju.core.actor import Actor
    from anju.db import migrate
    from anju.db.session import unit_of_work
    from anju.grid.models import Community, Grid
    from anju.identity import service as identity_service
    from anju.service_request.models import Department, ServiceCategory

    migrate.upgrade(url)
    now = END
    actor = Actor(user_id=None, username="bench", display_name="基准", role="admin")
    with unit_of_work() as db:
        grids: list[tuple[int, int]] = []
        for c in range(10):
            com = Community(code=f"C{c:02d}", name=f"第{c + 1}社区", created_at=now)
            db.add(com)
            db.flush()
            for g in range(10):
                lng, lat = 120.30 + g * 0.004, 36.05 + c * 0.004
                ring = [
                    [lng, lat],
                    [lng + 0.004, lat],
                    [lng + 0.004, lat + 0.004],
                    [lng, lat + 0.004],
                    [lng, lat],
                ]
                grid = Grid(
                    community_id=com.id,
                    code=f"G{c:02d}{g:02d}",
                    name=f"第{c + 1}社区{g + 1}网格",
                    boundary='{"type":"Polygon","coordinates":[' + str(ring) + "]}",
                    created_at=now,
                )
                db.add(grid)
                db.flush()
                grids.append((grid.id, com.id))
        depts = []
        for d, name in enumerate(
            (
                "城管",
                "住建",
                "市场监管",
                "物业办",
                "环卫",
                "公安",
                "消防",
                "水务",
                "供电",
                "燃气",
                "民政",
                "司法",
            )
        ):
            dep = Department(code=f"D{d:02d}", name=name, created_at=now)
            db.add(dep)
            db.flush()
            depts.append(dep.id)
        cats = []
        for k in range(20):
            cat = ServiceCategory(code=f"K{k:02d}", name=f"诉求类别{k + 1}", department_id=depts[k % 12])
            db.add(cat)
            db.flush()
            cats.append(cat.id)
        identity_service.create_user(
            db, actor=actor, username=USERNAME, display_name="基准受理", password=PASSWORD, role="community"
        )
    return grids, depts, cats


REQ_COLS = (
    "id", "code", "follow_hash", "category_id", "description", "address", "grid_id", "community_id", "attributes",
    "reporter_name", "reporter_phone", "channel", "status", "priority", "department_id", "status_note", "result",
    "close_due_at", "escalation_level", "rating", "resolution", "reopen_count", "sendback_count", "postpone_count",
    "postpone_pending", "submitted_at", "accepted_at", "taken_at", "published_at", "closed_at", "updated_at", "version",
)  # fmt: skip
EV_COLS = ("request_id", "action", "from_status", "to_status", "gb_step", "actor_label", "department_id",
           "reason", "data", "public", "at")  # fmt: skip


def _generate(n: int, first: int, total: int, rng: random.Random, grids: list[tuple[int, int]], depts: list[int],
              cats: list[int]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:  # fmt: skip
    """``n`` requests from id ``first`` of ``total`` spread evenly over ten years, and their history rows."""
    reqs: list[tuple[object, ...]] = []
    evs: list[tuple[object, ...]] = []
    span = YEARS * 365 * 86400
    h = timedelta(hours=1)
    for i in range(first, first + n):
        sub = END - timedelta(seconds=span * (1 - (i - 1) / total) + rng.random() * 3600)
        grid, com = grids[rng.randrange(len(grids))]
        k = rng.randrange(len(cats))
        cat, dept = cats[k], depts[k % len(depts)]  # the category's department
        age_days = (END - sub).days
        ev = [("submit", "", "submitted", "信息收集", sub)]
        r = rng.random()
        accepted = taken = published = closed = close_due = None
        rating = None
        status, reopen, postpone, result = "submitted", 0, 0, ""
        if r < 0.03:
            status = "rejected"
            ev.append(("reject", "submitted", "rejected", "不予立案", sub + 2 * h))
        elif r < 0.05:
            status = "merged"
            ev.append(("merge", "submitted", "merged", "不予立案", sub + 2 * h))
        else:
            open_stage = 5 if age_days > 60 else rng.randrange(1, 6)
            accepted = sub + h * rng.randint(1, 8)
            close_due = accepted + timedelta(days=rng.choice((3, 5, 7, 15)))
            ev.append(("accept", "submitted", "dispatched", "立案派遣", accepted))
            status = "dispatched"
            if open_stage >= 2:
                taken = accepted + h * rng.randint(1, 6)
                ev.append(("take", "dispatched", "in_progress", "处置", taken))
                status = "in_progress"
                t = taken
                if rng.random() < 0.06:
                    postpone = 1
                    ev.append(("postpone", "in_progress", "in_progress", "", t + h))
                    ev.append(("postpone_approve", "in_progress", "in_progress", "", t + 2 * h))
                    close_due = close_due + timedelta(days=7)
                if open_stage >= 3:
                    published = t + h * rng.randint(4, 200)
                    ev.append(("publish", "in_progress", "published", "反馈", published))
                    status, result = "published", "已到现场处置完毕，恢复正常。"
                    if rng.random() < 0.08:
                        reopen = 1
                        ev.append(("reopen", "published", "in_progress", "核查不通过", published + 10 * h))
                        published = published + h * rng.randint(20, 100)
                        ev.append(("publish", "in_progress", "published", "反馈", published))
                    if open_stage >= 4:
                        if rng.random() < 0.85:
                            closed = published + h * rng.randint(1, 48)
                            rating = rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
                            ev.append(("verify", "published", "closed", "核查结案", closed))
                        else:
                            closed = published + timedelta(days=3)
                            ev.append(("auto_close", "published", "closed", "核查结案", closed))
                        status = "closed"
        last = ev[-1][4]
        reqs.append((
            i, f"R{i:08d}", "", cat, "", f"幸福路 {i % 500 + 1} 号", grid, com, "{}", "居民", "", "public", status,
            "routine", dept if accepted else None, "", result, _t(close_due) if close_due else None, 0, rating,
            "solved" if rating else "", reopen, 0, postpone, 0, _t(sub), _t(accepted) if accepted else None,
            _t(taken) if taken else None, _t(published) if published else None, _t(closed) if closed else None,
            _t(last), 1,
        ))  # fmt: skip
        for action, before, after, step, at in ev:
            evs.append((i, action, before, after, step, "居民", dept, "", "{}", 1, _t(at)))
    return reqs, evs


STATES = ("submitted", "dispatched", "in_progress", "published", "closed")
FORMATS = ("json", "xml")


def _window(rng: random.Random) -> tuple[str, str]:
    """A 90-day window (Open311's longest) ending on a random day of the last two years."""
    end = END - timedelta(days=rng.randint(0, 700))
    return (end - timedelta(days=89)).strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")


def build_database(n: int) -> str:
    """The cached SQLite file with ``n`` requests; its URL."""
    db_path = OUT / f"requests-bench-{n}.db"
    url = f"sqlite:///{db_path}"
    os.environ["ANJU_DATA_DIR"] = str(OUT / "data")
    os.environ["ANJU_DATABASE_URL"] = url
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    OUT.mkdir(parents=True, exist_ok=True)
    if db_path.exists():
        return url
    t0 = time.perf_counter()
    try:
        grids, depts, cats = _setup(url)
        get_engine().dispose()
        con = sqlite3.connect(db_path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        rng = random.Random(2026)
        q_req = f"INSERT INTO service_request ({','.join(REQ_COLS)}) VALUES ({','.join('?' * len(REQ_COLS))})"
        q_ev = f"INSERT INTO request_event ({','.join(EV_COLS)}) VALUES ({','.join('?' * len(EV_COLS))})"
        events = 0
        with con:
            for start in range(0, n, CHUNK):
                reqs, evs = _generate(min(CHUNK, n - start), start + 1, n, rng, grids, depts, cats)
                con.executemany(q_req, reqs)
                con.executemany(q_ev, evs)
                events += len(evs)
        con.execute("ANALYZE")
        con.close()
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)  # never reuse a half-built database
        raise
    print(
        f"built {db_path.name}: {n:,} requests, {events:,} events in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=20, help="requests per client")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    clients = max(1, min(args.clients, 64))
    t0 = time.perf_counter()
    url = build_database(args.requests)
    build_s = time.perf_counter() - t0
    port = free_port()
    env = dict(os.environ, ANJU_DATABASE_URL=url, ANJU_DATA_DIR=str(OUT / "data"))
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "anju"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(OUT / "requests-bench-server.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    months = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13) if (y, m) <= (2026, 11)]
    groups = ("grid", "community", "department")
    n_requests = args.requests
    kinds = {
        "public board, page 1": lambda: "/public/board",
        "public board, pages 2-50": lambda: f"/public/board?page={rng.randint(2, 50)}",
        "indicators JSON": lambda: (
            f"/api/v1/service-requests/indicators?group={rng.choice(groups)}&month={rng.choice(months)}"
        ),
        "open-request map": lambda: "/api/v1/service-requests/open-map",
        # the office's list: JSON API (a state, or a grid; then a deeper page by the keyset cursor)
        # and its HTML page (open requests, newest first)
        "request list API": lambda: (
            f"/api/v1/service-requests?status={rng.choice(STATES)}&limit=50"
            if rng.random() < 0.5
            else f"/api/v1/service-requests?grid_id={rng.randint(1, 100)}&limit=50"
        ),
        "request list page": lambda: "/service-requests?tab=open",
        # Open311 GeoReport v2: a 90-day window of the last two years, and one request by id
        "Open311 GET requests": lambda: (
            "/open311/v2/requests.json?start_date={}T00:00:00%2B08:00&end_date={}T00:00:00%2B08:00".format(
                *_window(rng)
            )
        ),
        "Open311 GET request": lambda: (
            f"/open311/v2/requests/R{rng.randint(1, n_requests):08d}.{rng.choice(FORMATS)}"
        ),
    }
    try:
        deadline = time.monotonic() + 180  # a loaded VM starts two workers slowly
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        login = httpx.post(base + "/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD})
        login.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        warm = {k: f for k, f in kinds.items()}
        asyncio.run(run_clients(port, cookie, warm, clients=clients, requests=len(warm), seed=1))
        cpu_before = server_cpu_seconds(server.pid)
        timings, wall = asyncio.run(
            run_clients(port, cookie, kinds, clients=clients, requests=args.per_client, seed=5)
        )
        cpu = server_cpu_seconds(server.pid) - cpu_before
        # Each kind alone (one client, 5 in a row): what a request costs without the queue of the 50.
        alone: dict[str, float] = {}
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=60) as one:
            for name, make in {"healthz": lambda: "/healthz", **kinds}.items():
                times = []
                for _ in range(5):
                    t1 = time.perf_counter()
                    one.get(make()).raise_for_status()
                    times.append((time.perf_counter() - t1) * 1000)
                alone[name] = statistics.median(times)
    finally:
        server.terminate()
        server.wait(timeout=10)
    everything = [v for values in timings.values() for v in values]
    from import_bench import machine, replace_section

    load = os.getloadavg()
    lines = [
        "## Service requests (1,000,000)",
        "",
        f"Machine: {machine()}; load average {load[0]:.1f}; SQLite (WAL); `anju serve --workers {args.workers}` "
        f"on loopback; {args.requests:,} requests over ten years with their history; {clients} concurrent "
        f"clients x {args.per_client} requests ({len(everything):,} requests in {wall:.1f} s, "
        f"{len(everything) / wall:,.0f} req/s; server CPU {cpu * 1000 / max(1, len(everything)):.1f} ms per "
        f"request). Database build (cached afterwards): {build_s:.0f} s.",
        "",
        "| request | median | p95 | alone (median of 5) |",
        "|---|---|---|---|",
        *(
            f"| {k} | {statistics.median(v):.0f} ms | {percentile(v, 95):.0f} ms | {alone[k]:.0f} ms |"
            for k, v in timings.items()
        ),
        f"| all | {statistics.median(everything):.0f} ms | **{percentile(everything, 95):.0f} ms** | |",
        f"| /healthz (the floor) | | | {alone['healthz']:.0f} ms |",
        "",
        f"Command: `.venv/bin/python bench/requests_bench.py --requests {args.requests} --clients {clients} "
        f"--per-client {args.per_client} --workers {args.workers} --write-results`.",
        "",
        "The concurrent columns are mostly queueing: 50 clients on 2 workers wait for each other (Little's law:",
        'latency ~ clients / throughput), so they rise and fall with the machine\'s load; the "alone" column is',
        "the cost of one request of the kind with nobody else asking. Single requests on this file go to the",
        "indexes of migration 0018 (close_due_at, closed_at, published_at, (status, grid_id)); the open-request",
        "map groups by an expression so SQLite reads the few open rows rather than walking the grid index.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        replace_section(ROOT / "bench" / "RESULTS.md", "## Service requests (1,000,000)", text)


if __name__ == "__main__":
    main()
