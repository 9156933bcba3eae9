"""Mixed office load: 50 clients for a bounded time against ``anju serve --workers 2`` (SQLite or PostgreSQL).

    .venv/bin/python bench/mixed_bench.py --backend sqlite   [--households 100000] [--duration 60] [--write-results]
    .venv/bin/python bench/mixed_bench.py --backend postgres [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--clients 50] [--writers 5] [--ledger-clients 2] [--hot 20] [--warmup 15] [--workers 2]

The project is the household-list benchmark's (``bench/list_bench.py``): N fictional households (default
100,000, ~343,000 members) written through the census import path. On SQLite the cached
``bench/out/list-bench-N.db`` is copied (online backup API) to ``bench/out/mixed-bench-N.db`` before each
run; on PostgreSQL it is built once into the database ``anju_bench_list_N`` on the server of ``--postgres-url``
(or ``ANJU_BENCH_POSTGRES_URL`` / ``ANJU_TEST_POSTGRES_URL``) and each run works on a fresh copy
(``CREATE DATABASE anju_bench_mixed TEMPLATE ...``), so edits never accumulate between runs.

A server is started on 127.0.0.1 and a free port; every client logs in as a case officer (its own session)
and keeps one HTTP/1.1 keep-alive connection. Clients are closed loops (no think time):
- readers (clients - writers - ledger clients): the household list page (default page and later pages), a
  name search, and a household page (HTML) in turn;
- writers (about a tenth): read a household of a hot set of ``--hot`` households through the JSON API, then
  PATCH its remark with the version read; a 409 (someone else's edit came first) is counted and the
  household re-read and the edit tried again;
- ledger clients (a few): download the project's ledger (台账 xlsx of every household).
After ``--warmup`` seconds (not measured) requests are measured for ``--duration`` seconds: a request is
counted when its answer (or failure) comes inside that window; requests still running at its end are
reported apart. Errors are any 5xx, any other unexpected status (a 409 of anything but an edit included),
a connection error, or no answer within ``--timeout`` seconds (``--ledger-timeout`` for the ledger); the
target is 0. After the run the bench checks that no edit was
lost (each hot household's version rose by exactly the number of PATCHes answered 200 for it) and runs
``anju audit verify`` on the database. Only loopback is used. ``--rebuild`` builds the cached project again (after a schema or
audit-format change; the list benchmark shares the SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SECTION = "## Mixed load"
NOTES = """Runs of 2026-12-05 (01:37-01:48 UTC) with `--duration 180` (a 60 s window saw no ledger export finish on
SQLite: each takes over 3 minutes under this load), after the concurrency changes of issue #8 (BEGIN IMMEDIATE
writers, write gate, 409 instead of 500). Before them the same bench on SQLite gave HTTP 500 "database is locked"
on PATCH and reads that waited over 120 s.
- SQLite: **0 errors** in 16,494 requests (a 60 s run just before: 88.8 req/s, 0 errors); the 409s are all
  `stale_version` (two writers read the same hot household); no lost update; the audit chain verifies.
  No ledger export of the 100,000 households finished inside the 195 s run (both still running at the end).
- PostgreSQL: **33 errors, all "no answer within 60 s"** on GET pages and the API read. A 60 s diagnostic run
  (timestamps added to the samples) showed all of its errors at the same moment, 45 s into the window, i.e.
  requests sent when the clients started (cold per-worker caches, and the two ledger exports starting at the same
  time) that got no answer for 60 s; none later. The same 60 s run without the ledger exporters
  (`--ledger-clients 0`) had 0 errors (41.5 req/s, p95 1.6-1.8 s), so the ledger exports cause the stall. Likely
  (not diagnosed further): each ledger export
  holds one of a worker process's `ANJU_THREADS=2` route threads for its ~190 s, so a process serving both
  exports (connections are spread by `SO_REUSEPORT`) has no thread left for other requests. PostgreSQL's own
  CPU is not in "server CPU" (it shares the 2 cores), part of why throughput is about 40% of SQLite's. The two
  ledger exports that finished took 192 s each.
- Also seen while building the bench: within 10 minutes of a census import (listing.REFRESH_OVERLAP) every
  household edit makes each worker re-read the whole search text (all households' `updated_at` are recent):
  a name search then took 1.9-3.7 s on PostgreSQL instead of ~0.2 s. The runs above used projects built more
  than 10 minutes earlier."""
FRAGMENTS = [f + g for f in "王李张刘陈杨黄赵吴周" for g in "伟芳秀建国明华英"]


# ------------------------------------------------------------------ databases


def _use_database(url: str) -> None:
    """Point Anju's settings (and its cached engine) at ``url`` in this process."""
    from anju.config import get_settings
    from anju.db.session import get_engine, get_sessionmaker

    os.environ["ANJU_DATABASE_URL"] = url
    os.environ["ANJU_DATA_DIR"] = str(OUT / "data")
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def sqlite_database(n: int) -> str:
    """A fresh copy of the list benchmark's SQLite file (built once by ``list_bench``); returns its URL."""
    from list_bench import build_database

    base_url, _project, _block = build_database(n)
    base = Path(base_url.removeprefix("sqlite:///"))
    target = OUT / f"mixed-bench-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src, dst = sqlite3.connect(base), sqlite3.connect(target)
    try:
        src.backup(dst)  # consistent copy, whatever state the source's WAL is in
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()
    return f"sqlite:///{target}"


def postgres_database(server_url: str, n: int, *, rebuild: bool = False) -> str:
    """A fresh copy of the benchmark project on PostgreSQL (the base built once); returns its URL."""
    import list_bench
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base_name, run_name = f"anju_bench_list_{n}", "anju_bench_mixed"
    server = make_url(server_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")

    def url_of(name: str) -> str:
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        with admin.connect() as c:
            if rebuild:
                c.execute(text(f"DROP DATABASE IF EXISTS {base_name} WITH (FORCE)"))
            exists = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": base_name})
            if not exists:
                # Built under another name and renamed when complete: a half-built base is never reused.
                building = base_name + "_building"
                c.execute(text(f"DROP DATABASE IF EXISTS {building}"))
                c.execute(text(f"CREATE DATABASE {building} ENCODING 'UTF8'"))
                t = time.perf_counter()
                _use_database(url_of(building))
                list_bench._populate(url_of(building), n)
                from anju.db.session import get_engine

                get_engine().dispose()
                c.execute(text(f"ALTER DATABASE {building} RENAME TO {base_name}"))
                print(f"built {base_name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            c.execute(text(f"DROP DATABASE IF EXISTS {run_name} WITH (FORCE)"))
            c.execute(text(f"CREATE DATABASE {run_name} TEMPLATE {base_name}"))
    finally:
        admin.dispose()
    return url_of(run_name)


def project_facts(url: str, hot: int, seed: int) -> tuple[int, list[int], list[int]]:
    """(project id, every live household id, the hot households the writers edit)."""
    from sqlalchemy import select

    from anju.db.session import get_engine, unit_of_work
    from anju.household.models import Household
    from anju.project.models import Project

    _use_database(url)
    with unit_of_work() as db:
        project_id = int(db.scalar(select(Project.id).where(Project.code == "LIST")) or 0)
        ids = list(
            db.scalars(select(Household.id).where(Household.project_id == project_id).order_by(Household.id))
        )
    get_engine().dispose()
    if not ids:
        raise SystemExit("the benchmark project has no households")
    return project_id, ids, random.Random(seed).sample(ids, min(hot, len(ids)))


# ------------------------------------------------------------------ HTTP


class HttpError(Exception):
    """A connection failure or timeout (counted as an error)."""


async def request(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 request on an open connection; returns (status, body)."""
    reader, writer = conn
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method not in ("GET", "HEAD"):
        head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    raw = await reader.readuntil(b"\r\n\r\n")
    status = int(raw.split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in raw.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        data = b"".join(p[:-2] for p in parts)
    else:
        data = await reader.readexactly(length)
    if close:
        raise ConnectionResetError("server closed the connection")  # caller reconnects; status still counted
    return status, data


@dataclass
class Stats:
    """What one request kind saw."""

    ok_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)  # 409s of edits, by error code
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Run:
    """Shared state of one run."""

    port: int
    project_id: int
    ids: list[int]
    hot: list[int]
    measure_from: float
    stop_at: float
    timeout: float
    ledger_timeout: float
    stats: dict[str, Stats] = field(default_factory=dict)
    patched: Counter[int] = field(default_factory=Counter)  # PATCHes answered 200, warm-up included
    unanswered: Counter[int] = field(default_factory=Counter)  # PATCHes cut off at the end (may have applied)
    in_flight: Counter[str] = field(default_factory=Counter)  # requests still running at the end, by kind
    samples: dict[str, list[str]] = field(default_factory=dict)  # first few error descriptions per kind

    def note(
        self,
        kind: str,
        elapsed_ms: float,
        status: int | None,
        error: str = "",
        conflict: str = "",
    ) -> None:
        """Record one request if it was answered (or failed) inside the measured window."""
        if not self.measure_from <= time.monotonic() <= self.stop_at:
            return
        s = self.stats.setdefault(kind, Stats())
        if status is not None:
            s.statuses[status] += 1
        if error:
            s.errors[error] += 1
            self.samples.setdefault(kind, [])
            if len(self.samples[kind]) < 5:
                self.samples[kind].append(f"{error} (at {time.monotonic() - self.measure_from:.0f} s)")
        elif conflict:
            s.conflicts[conflict] += 1
        else:
            s.ok_ms.append(elapsed_ms)


class Client:
    """One logged-in user on one keep-alive connection."""

    def __init__(self, run: Run, cookie: str, csrf: str) -> None:
        self.run, self.cookie, self.csrf = run, cookie, csrf
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.busy = ""  # the kind of the request under way ("" between requests)
        self.patching: int | None = None  # the household a PATCH under way edits

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        *,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int | None, bytes]:
        """Send one request, time it and record the outcome; returns (status or None on failure, body)."""
        headers = {"Cookie": self.cookie}
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            headers |= {"Content-Type": "application/json", "X-CSRF-Token": self.csrf}
        timeout = self.run.ledger_timeout if kind == "ledger export" else self.run.timeout
        t = time.perf_counter()
        self.busy = kind
        try:
            if self.conn is None:
                self.conn = await asyncio.open_connection("127.0.0.1", self.run.port)
            status, data = await asyncio.wait_for(
                request(self.conn, method, path, headers, payload), timeout=timeout
            )
        except TimeoutError:  # before OSError, of which it is a subclass
            self._drop()
            self.run.note(kind, 0, None, f"no answer within {timeout:.0f} s (a stall)")
            return None, b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._drop()
            waited = time.perf_counter() - t
            self.run.note(
                kind,
                0,
                None,
                f"connection: {exc.__class__.__name__} {exc} after {waited:.1f} s"[:200],
            )
            return None, b""
        finally:
            self.busy = ""
        elapsed = (time.perf_counter() - t) * 1000
        if status in expect:
            self.run.note(kind, elapsed, status)
        elif status == 409 and method == "PATCH":
            try:
                code = str(json.loads(data).get("code", "?"))
            except ValueError:
                code = "?"
            self.run.note(kind, elapsed, status, conflict=code)
        else:
            text = data[:160].decode("utf-8", "replace").replace("\n", " ")
            self.run.note(kind, elapsed, status, f"HTTP {status}: {text}")
        return status, data

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None

    async def reader(self, seed: int) -> None:
        """List pages, searches and household pages in turn until the end of the run."""
        rng = random.Random(seed)
        page = f"/projects/{self.run.project_id}/households"
        steps = [
            ("household list", lambda: page if rng.random() < 0.3 else f"{page}?page={rng.randint(2, 500)}"),
            ("name search", lambda: f"{page}?q={quote(rng.choice(FRAGMENTS))}"),
            ("household page", lambda: f"/households/{rng.choice(self.run.ids)}"),
        ]
        i = rng.randrange(len(steps))
        while time.monotonic() < self.run.stop_at:
            kind, path = steps[i % len(steps)]
            await self.call(kind, "GET", path())
            i += 1

    async def writer(self, seed: int) -> None:
        """Read a hot household, PATCH its remark with the version read; on 409 re-read and retry."""
        rng = random.Random(seed)
        n = 0
        while time.monotonic() < self.run.stop_at:
            hid = rng.choice(self.run.hot)
            for _attempt in range(5):
                status, data = await self.call("household read (API)", "GET", f"/api/v1/households/{hid}")
                if status != 200:
                    break
                version = json.loads(data)["version"]
                n += 1
                body = {"remark": f"基准测试编辑 {seed}-{n}", "version": version, "reason": "混合负载基准"}
                self.patching = hid
                status, _ = await self.call("edit (PATCH)", "PATCH", f"/api/v1/households/{hid}", body)
                self.patching = None
                if status == 200:
                    self.run.patched[hid] += 1
                if status != 409:
                    break

    async def exporter(self) -> None:
        """Download the whole project's ledger again and again."""
        while time.monotonic() < self.run.stop_at:
            await self.call("ledger export", "GET", f"/projects/{self.run.project_id}/ledger.xlsx")

    async def close(self) -> None:
        self._drop()


async def login(port: int, username: str, password: str) -> tuple[str, str]:
    """Log in through the JSON API; returns (cookie header, CSRF token)."""
    conn = await asyncio.open_connection("127.0.0.1", port)
    try:
        body = json.dumps({"username": username, "password": password}).encode()
        writer = conn[1]
        writer.write(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        raw = await conn[0].readuntil(b"\r\n\r\n")
        cookies = [
            line.split(b":", 1)[1].split(b";", 1)[0].strip().decode()
            for line in raw.split(b"\r\n")[1:]
            if line.lower().startswith(b"set-cookie:")
        ]
        length = next(
            int(line.split(b":", 1)[1])
            for line in raw.split(b"\r\n")[1:]
            if line.lower().startswith(b"content-length:")
        )
        data = json.loads(await conn[0].readexactly(length))
        if not raw.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"login failed: {raw[:40]!r} {data}")
        return "; ".join(cookies), str(data["csrf_token"])
    finally:
        conn[1].close()


# ------------------------------------------------------------------ server and report


def start_server(url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``anju serve`` on loopback and a free port, waited for until /healthz answers."""
    import httpx
    from list_bench import free_port

    port = free_port()
    env = dict(os.environ, ANJU_DATABASE_URL=url, ANJU_DATA_DIR=str(OUT / "data"))
    cmd = [str(Path(sys.executable).parent / "anju"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit(f"server did not start (see {log})")
        time.sleep(0.3)


def versions(url: str, ids: list[int]) -> dict[int, int]:
    """Current ``version`` of the given households."""
    from sqlalchemy import select

    from anju.db.session import get_engine, unit_of_work
    from anju.household.models import Household

    _use_database(url)
    with unit_of_work() as db:
        found = {
            int(i): int(v)
            for i, v in db.execute(select(Household.id, Household.version).where(Household.id.in_(ids)))
        }
    get_engine().dispose()
    return found


def audit_verify(url: str) -> str:
    """``anju audit verify`` on the database after the run: its last output line."""
    env = dict(os.environ, ANJU_DATABASE_URL=url, ANJU_DATA_DIR=str(OUT / "data"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "anju"), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return ("OK: " if done.returncode == 0 else f"FAILED (exit {done.returncode}): ") + (
        lines[-1] if lines else ""
    )


def report(args: argparse.Namespace, run: Run, extra: dict[str, str]) -> str:
    """The markdown section for one backend."""
    from import_bench import machine
    from list_bench import percentile

    rows = []
    total = errors = conflicts = 0
    conflict_codes: Counter[str] = Counter()
    for kind in (
        "household list",
        "name search",
        "household page",
        "household read (API)",
        "edit (PATCH)",
        "ledger export",
    ):
        s = run.stats.get(kind)
        if s is None:
            continue
        n = len(s.ok_ms) + sum(s.conflicts.values()) + sum(s.errors.values())
        total += n
        errors += sum(s.errors.values())
        conflicts += sum(s.conflicts.values())
        if s.conflicts:
            conflict_codes.update(s.conflicts)
        med = f"{statistics.median(s.ok_ms):,.0f} ms" if s.ok_ms else "-"
        p95 = f"{percentile(s.ok_ms, 95):,.0f} ms" if s.ok_ms else "-"
        rows.append(
            f"| {kind} | {n:,} | {n / args.duration:,.1f} | {med} | {p95} | "
            f"{sum(s.conflicts.values()) if kind == 'edit (PATCH)' else '-'} | {sum(s.errors.values())} |"
        )
    lines = [
        f"### {args.backend_label}",
        "",
        f"{extra['size']}; `anju serve --workers {args.workers}` on loopback; {args.clients} clients "
        f"({args.clients - args.writers - args.ledger_clients} readers, {args.writers} writers on {args.hot} hot households, "
        f"{args.ledger_clients} ledger exporters), {args.warmup:.0f} s warm-up then **{args.duration:.0f} s measured**: "
        f"{total:,} requests = **{total / args.duration:,.1f} req/s**; **errors: {errors}**; 409 conflicts: {conflicts} "
        f"({', '.join(f'{c}: {k}' for c, k in conflict_codes.most_common()) or 'none'}); "
        f"server CPU {extra['cpu']}; load average before/after {extra['load']}.",
        "",
        "| request | requests | per s | median | p95 | 409 | errors |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Lost updates: {extra['lost']}. Audit chain after the run: {extra['audit']}.",
    ]
    if run.in_flight:
        lines += [
            "",
            "Still running when the window closed (not counted; each younger than its timeout): "
            + ", ".join(f"{kind} {n}" for kind, n in run.in_flight.most_common())
            + ".",
        ]
    if run.samples:
        lines += ["", "Errors seen (first of each kind):"]
        lines += [f"- {kind}: {'; '.join(v)}" for kind, v in run.samples.items()]
    lines += ["", f"Machine: {machine()}."]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--writers", type=int, default=5, help="clients that edit (about a tenth)")
    parser.add_argument("--ledger-clients", type=int, default=2)
    parser.add_argument("--hot", type=int, default=20, help="households the writers edit")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="a page or edit slower than this is an error"
    )
    parser.add_argument(
        "--ledger-timeout", type=float, default=600.0, help="a ledger export slower than this is an error"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--write-results", action="store_true", help="update this backend's part of RESULTS.md"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the cached project (schema or audit change)"
    )
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 100))  # a local benchmark, not a load generator
    args.backend_label = "SQLite (WAL)" if args.backend == "sqlite" else "PostgreSQL"
    from list_bench import PASSWORD, USERNAME, server_cpu_seconds

    OUT.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        if args.rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{OUT / f'list-bench-{args.households}.db'}{suffix}").unlink(missing_ok=True)
        url = sqlite_database(args.households)
    else:
        url = postgres_database(args.postgres_url, args.households, rebuild=args.rebuild)
    project_id, ids, hot = project_facts(url, args.hot, seed=3)
    before = versions(url, hot)
    log = OUT / f"mixed-bench-{args.backend}-server.log"
    server, port = start_server(url, args.workers, log)
    load_before = os.getloadavg()[0]
    try:
        run = Run(
            port=port,
            project_id=project_id,
            ids=ids,
            hot=hot,
            measure_from=0,
            stop_at=0,
            timeout=args.timeout,
            ledger_timeout=args.ledger_timeout,
        )

        cpu_box: list[float] = []

        async def main_async() -> None:
            # Logins (sequential, not measured) come first; the warm-up starts when everyone is in.
            sessions = [await login(port, USERNAME, PASSWORD) for _ in range(args.clients)]
            t0 = time.monotonic()
            run.measure_from = t0 + args.warmup
            run.stop_at = run.measure_from + args.duration
            everyone = [Client(run, cookie, csrf) for cookie, csrf in sessions]
            tasks = []
            for i, c in enumerate(everyone):
                if i < args.writers:
                    tasks.append(asyncio.create_task(c.writer(1000 + i)))
                elif i < args.writers + args.ledger_clients:
                    tasks.append(asyncio.create_task(c.exporter()))
                else:
                    tasks.append(asyncio.create_task(c.reader(2000 + i)))

            async def cpu_marks() -> None:
                await asyncio.sleep(max(0.0, run.measure_from - time.monotonic()))
                cpu_box.append(server_cpu_seconds(server.pid))
                await asyncio.sleep(max(0.0, run.stop_at - time.monotonic()))
                cpu_box.append(server_cpu_seconds(server.pid))

            try:
                await cpu_marks()
                # Requests still running at the end are left unanswered (younger than their
                # timeout, or they would have been counted as errors); a PATCH among them may
                # still apply, which the lost-update check allows for.
                for c in everyone:
                    if c.busy:
                        run.in_flight[c.busy] += 1
                    if c.patching is not None:
                        run.unanswered[c.patching] += 1
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                for c in everyone:
                    await c.close()

        asyncio.run(main_async())
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    load_after = os.getloadavg()[0]
    after = versions(url, hot)

    def lost_on(h: int) -> bool:
        return not run.patched[h] <= after[h] - before[h] <= run.patched[h] + run.unanswered[h]

    lost = sum(1 for h in hot if lost_on(h))
    lost_text = (
        "0 (every hot household's version rose by exactly its PATCHes answered 200, give or take one cut off at the end)"
        if lost == 0
        else (
            f"**{lost} households whose version does not match the successful PATCHes**: "
            + ", ".join(
                f"#{h}: +{after[h] - before[h]} vs {run.patched[h]} (+{run.unanswered[h]} unanswered)"
                for h in hot
                if lost_on(h)
            )
        )
    )
    cpu = cpu_box[1] - cpu_box[0] if len(cpu_box) == 2 else 0.0
    members = "" if args.households != 100_000 else " (~343,000 members)"
    extra = {
        "size": f"{args.households:,} households{members} in one project",
        "cpu": f"{cpu:.0f} s of {2 * args.duration:.0f} s (2 cores)",
        "load": f"{load_before:.1f} / {load_after:.1f}",
        "lost": lost_text,
        "audit": audit_verify(url),
    }
    text = report(args, run, extra)
    print(text)
    if args.write_results:
        write_results(args, text)


def write_results(args: argparse.Namespace, text: str) -> None:
    """Replace this backend's sub-section of ``## Mixed load`` in RESULTS.md, keeping the other backend's."""
    from import_bench import replace_section

    path = ROOT / "bench" / "RESULTS.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    parts: dict[str, str] = {}
    if SECTION in old:
        body = old.split(SECTION, 1)[1]
        body = body.split("\n## ", 1)[0]
        for chunk in body.split("\n### ")[1:]:
            title = chunk.split("\n", 1)[0].strip()
            parts[title] = "### " + chunk.strip("\n") + "\n"
    parts[args.backend_label] = text
    if NOTES:
        parts["Notes"] = "### Notes\n\n" + NOTES.strip("\n") + "\n"
    order = [k for k in ("SQLite (WAL)", "PostgreSQL", "Notes") if k in parts]
    intro = (
        f"{SECTION}\n\n"
        "Command: `.venv/bin/python bench/mixed_bench.py --backend sqlite --write-results` and `--backend postgres` "
        "(defaults: 100,000 households, 50 clients of which 5 writers and 2 ledger exporters, 15 s warm-up, 60 s measured, "
        "`--workers 2`). Target (issue #8): 0 errors (5xx, other unexpected statuses, connection errors, timeouts); 409s "
        "from concurrent edits of the same household are expected and counted apart. Latencies are of the requests "
        "answered as expected (200); the clients send back to back (no think time), so they measure a saturated server. "
        "409s of edits are listed by code: `stale_version` (another edit of the household came first) and `busy` (the "
        "write waited too long for the write lock or the write gate).\n"
    )
    replace_section(path, SECTION, intro + "\n" + "\n".join(parts[k] for k in order))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    main()
