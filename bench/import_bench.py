"""Census import throughput next to the raw python-calamine read of the same file, in one run.

    .venv/bin/python bench/import_bench.py [--households 100000] [--runs 3] [--profile] [--write-results]

Generates (once, cached under bench/out/) a census xlsx of N fictional households with members,
buildings, valuations, homesteads and tenants; then, in this one process and ``--runs`` times,
alternating so that machine noise hits both alike:
  1. raw read: open the file with python-calamine and convert every sheet to Python rows;
  2. full import: read + validate every cell + bulk write + audit, on a fresh migrated SQLite
     file, committed.
Reports the median of the runs for both (and each run), and the ratio of the medians.
Target (issue #2): the full import takes at most 3x the raw read.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
NOTES = """Session 5 (2026-12-05, 09:53-10:29 UTC, issue #13 item 12), rerun after the splits (the census import's code is
unchanged but for a row number kept on member and building rows for corrections; `anju.core.uploads` and the policy
packages were split without changing code): the table above was measured on a **heavily loaded** VM (load average
17-22 on 2 cores while nine agents ran test suites; generating the file took 1,089 s instead of ~100 s), so its times
are 3-10x the quiet-machine ones and swing wildly from run to run (raw reads 29.5-101.9 s). Read and import
alternate, so the load hit both, and the ratio of the medians (2.59x) stays under the target; it is not a
measurement of a speed-up. The last quiet-machine measurement is session 4's: raw read 10.14 s, import 30.03 s,
**2.96x**. Rerun on a quiet machine before drawing conclusions from this section.
Session 4 (2026-12-05, 02:12 UTC, quiet machine, load 0.6), rerun after issue #8 put the upload inspection
(zip sizes, sheet extents by a streaming scan of cell references, in a forked process one sheet ahead of the
reader), the HMAC audit chain and the write-lock changes on this path: raw read 10.14 s, import 30.03 s, ratio
**2.96x** (runs 10.0/28.5, 10.1/30.0, 10.5/31.3 s): unchanged, the target still holds with the same thin margin.

Notes: the target (≤ 3x) is **met, narrowly**: 2.96x on a quiet machine (session 4), and 2.96x in the run before it
(medians of three; single runs of the final code 2.83x-3.14x on this shared VM, which swings ±10% from run to
run). With one change less (the date text below) two medians measured 3.06x and 3.29x, so the margin is thin.
Session 2 ended at 4.99x; the helper's part of session 3 reached 3.31x, then the changes marked (late) below.
Session 3 (2026-11-23), what changed (stored rows and audit records are unchanged: a 300-household import digested
before and after is identical, and so are the error lists of files with hundreds of corrupted cells):
- validation column by column (`anju.household.column_cleaning`): each distinct value of a column is judged once
  (per value type, so 1, 1.0, True, Decimal("1.00") and -0.0 keep their own verdicts); values, messages and their
  order equal `rules.clean` (a hypothesis test compares them); GB 11643 check digit from the ASCII codes;
- reading: python-calamine parses the next sheet on a second thread (it releases the GIL) while the main thread
  converts and checks the previous one, and 成员 is read last so its long parse overlaps the other sheets' checks.
  The import's "read" phase below therefore includes checking the sheets; "validate" is only the final sort;
- writing on SQLite: multi-row INSERTs of 500 rows (`executemany` retakes the GIL after every row and starved the
  insert thread), and a 256 MiB page cache while writing (the identity-digest index takes random keys);
- a big import (5,000+ households) forks one child process (`anju.core.forked`) that encrypts the identity
  numbers (nonces from one `os.urandom` call: the system call cost more than AES-GCM here) and then builds the
  audit snapshots as canonical JSON (handed to `record_many` as `changes_json`) while the parent builds the
  other columns and the insert thread stores the rows;
- (late) the import pauses Python's cyclic garbage collector while it runs (py-spy: 18% of the importing thread's
  samples were collections walking millions of fresh rows with nothing to free; the raw read is left as it is,
  although it too spends ~5% in the collector: 10.4-10.7 s with it, 9.9-10.2 s without, measured once each);
- (late) the identity-number check parses each distinct birth date once, sums the check-digit weights once per
  distinct region / date / serial part, and reads today's date once per day (4.4 -> 3.4 µs per number).
Where the time goes now (instrumented 100,000-household runs): reading and checking 16.5-17.5 s (main thread:
checks 10.7 s, of which 成员 6.0 s; `to_python` and picking rows ~4 s; waiting for the parse thread 2.6 s);
writing 14-16 s (building columns and INSERT parameters ~5 s; waiting for the child, identities ~2 s then
snapshots ~7 s, 2-6 s; SQLite on the insert thread ~10 s CPU, 4-6 s of it the 343,008 members and their random
digest index; audit insert ~2.5 s); commit 2.3-2.7 s. This VM was shared with CPU-heavy policy benchmarks during
the session, so single imports varied by ±15%; the child and the insert thread need the second core.
Tried and dropped: two parse threads (no gain), 5,000-row INSERTs (no gain over 500), a lower GIL switch
interval (no gain), the snapshots split over two children (slower: four busy processes and threads on 2 cores).
Also measured late in the session: SQLite's automatic WAL checkpoint takes ~1.9 s of the 2.3-2.8 s commit (it
copies the import's pages from the WAL into the database file); handing it to a background checkpoint would
move that cost out of the request, not remove it, so it is left in. (late) Python's default sqlite3
adapters turned ~800k date/datetime parameters into text one call at a time on the insert thread (SQLAlchemy
leaves them to the driver on SQLite); the write now hands over the same text (`isoformat()`, `isoformat(" ")`),
converted once per distinct value (a test compares the stored text on SQLite and the values elsewhere).
Next steps: the 成员 check (6 s; e.g. clean its cells in a forked child while this process checks the other
sheets, or a faster identity-number judge, ~5 µs each), faster snapshot text and JSON (the child is the write's
long pole), the members' digest-index inserts.
Earlier: session 1 (2026-11-22) 5.0x with `record_many` on the driver's `executemany`, C-encoded canonical JSON
and INSERTs on a second thread; session 2 no import work (4.99x on a VM ~65% slower than in session 1)."""


def machine() -> str:
    """CPU model, cores and Python version."""
    model = ""
    try:
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        model = platform.processor()
    return f"{model or platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores, Python {platform.python_version()}"


def make_file(n: int) -> Path:
    """The census file of ``n`` households (generated once, reproducible)."""
    from anju.demo.generator import census_rows
    from anju.household import census

    path = OUT / f"census-{n}.xlsx"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rows = census_rows(random.Random(2024), n, prefix="B", blocks=[f"G{i:02d}" for i in range(1, 21)])
    tmp = path.with_suffix(".part")
    census.write_workbook(tmp, rows)
    tmp.replace(path)
    print(f"generated {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


def raw_read(path: Path) -> tuple[float, int]:
    """Seconds to read every sheet into Python rows with python-calamine, and the row count."""
    from python_calamine import CalamineWorkbook

    t = time.perf_counter()
    wb = CalamineWorkbook.from_path(str(path))
    rows = 0
    for name in wb.sheet_names:
        rows += len(wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
    wb.close()
    return time.perf_counter() - t, rows


def full_import(path: Path, profile: bool) -> tuple[float, dict[str, float], dict[str, int]]:
    """Seconds for the whole import (committed), seconds per phase, and the counts written."""
    db_path = OUT / "import-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    os.environ["ANJU_DATA_DIR"] = str(OUT / "data")
    os.environ["ANJU_DATABASE_URL"] = f"sqlite:///{db_path}"
    from anju.config import get_settings
    from anju.core.actor import Actor
    from anju.db import migrate
    from anju.db.session import get_engine, get_sessionmaker, unit_of_work
    from anju.household import census
    from anju.project import service as project_service

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    migrate.upgrade(get_settings().effective_database_url)
    actor = Actor.system("bench")
    with unit_of_work() as db:
        p = project_service.create_project(
            db, actor=actor, code="BENCH", name="导入基准项目", kind="collective_land"
        )
        for i in range(1, 21):
            project_service.add_block(
                db, actor=actor, project_id=p.id, code=f"G{i:02d}", name=f"{i}组", level="group"
            )
        project_id = p.id
    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(phase + ".start", now)
        marks[phase + ".end"] = now

    profiler = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if profiler:
        profiler.enable()
    with unit_of_work() as db:
        outcome = census.import_census(
            db, actor=actor, project_id=project_id, source=path, filename=path.name, progress=progress
        )
        commit_start = time.perf_counter()
    total = time.perf_counter() - t
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    phases = {
        "read": marks["校验.start"] - t,
        "validate": marks["写入.start"] - marks["校验.start"],
        "write": commit_start - marks["写入.start"],
        "commit": total - (commit_start - t),
    }
    assert outcome.summary is not None
    return total, phases, outcome.summary.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="read/import pairs; medians are reported")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the (first) import")
    parser.add_argument(
        "--write-results", action="store_true", help="replace the section in bench/RESULTS.md"
    )
    args = parser.parse_args()
    path = make_file(args.households)
    reads: list[float] = []
    imports: list[tuple[float, dict[str, float], dict[str, int]]] = []
    rows = 0
    for run in range(max(1, args.runs)):
        read_s, rows = raw_read(path)
        reads.append(read_s)
        imports.append(full_import(path, args.profile and run == 0))
        print(f"run {run + 1}: raw read {read_s:.2f} s, import {imports[-1][0]:.2f} s", file=sys.stderr)
    read_s = statistics.median(reads)
    import_s, phases, counts = sorted(imports, key=lambda r: r[0])[len(imports) // 2]
    data_rows = rows - 6  # header rows
    ratio = import_s / read_s
    each = ", ".join(f"{r:.1f} / {i[0]:.1f}" for r, i in zip(reads, imports, strict=True))
    lines = [
        "## Census import",
        "",
        f"Machine: {machine()}; SQLite (WAL, synchronous=NORMAL); file {path.name} "
        f"({path.stat().st_size / 1e6:.1f} MB).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| households / members / buildings / valuations / homesteads / tenants | "
        f"{counts['households']:,} / {counts['members']:,} / {counts['buildings']:,} / {counts['valuations']:,} / "
        f"{counts['homesteads']:,} / {counts['tenants']:,} |",
        f"| data rows in the file (all sheets) | {data_rows:,} |",
        f"| raw python-calamine read of every sheet (median of {len(reads)}) | {read_s:.2f} s "
        f"({data_rows / read_s:,.0f} rows/s) |",
        f"| full import (read + validate + write + audit, committed; median of {len(imports)}) | {import_s:.2f} s "
        f"({data_rows / import_s:,.0f} rows/s, {counts['households'] / import_s:,.0f} households/s) |",
        f"| — of which read / validate / write / commit (median run) | {phases['read']:.2f} / "
        f"{phases['validate']:.2f} / {phases['write']:.2f} / {phases['commit']:.2f} s |",
        f"| each run: raw read / import (s) | {each} |",
        f"| ratio of the medians, full import / raw read (target ≤ 3) | **{ratio:.2f}x** |",
        "",
        "Command: `.venv/bin/python bench/import_bench.py --households "
        f"{args.households} --runs {len(reads)} --write-results`",
        "",
        NOTES,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        replace_section(ROOT / "bench" / "RESULTS.md", "## Census import", text)


def replace_section(path: Path, heading: str, text: str) -> None:
    """Replace (or append) the ``heading`` section of a markdown file, leaving the others alone."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text.rstrip("\n") + "\n\n" + "".join(lines[end:])
        new = new.rstrip("\n") + "\n"
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
