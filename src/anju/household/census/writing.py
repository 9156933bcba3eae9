"""Census import part: the write of a clean census: households, then their members, buildings, tenants,
homesteads and valuations in bulk, and the audit records (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.core.forked import Forked
from anju.household import rules
from anju.household import service as household_service
from anju.household.census.inserts import _Same, _Writer
from anju.household.census.results import CleanCensus, ImportSummary
from anju.household.census.snapshots import _audit_changes, _tenant_masked
from anju.household.census.spec import BATCH, Progress, _no_progress
from anju.household.models import Building, Homestead, Household, Member, Tenant, Valuation
from anju.project import service as project_service

__all__ = [
    "write",
]


def _ids_of(rows: list[dict[str, Any]], ids: Mapping[str, int]) -> list[int]:
    return [ids[r["household_code"]] for r in rows]


def write(
    session: Session,
    *,
    actor: Actor,
    project_id: int,
    clean: CleanCensus,
    filename: str = "",
    sha256: str = "",
    progress: Progress | None = None,
) -> ImportSummary:
    """Insert validated census rows in bulk and audit them; the caller commits.

    One audit record per household (a snapshot of its facts, identity numbers masked) plus a
    summary record naming the file and its SHA-256.
    """
    progress = progress or _no_progress
    total = (
        len(clean.households) * 2
        + 1
        + len(clean.members)
        + len(clean.buildings)
        + len(clean.tenants)
        + len(clean.homesteads)
        + len(clean.valuations)
    )
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("写入", done, total)

    progress("写入", 0, total)
    # The project row first, the audit head last: the lock order of every household write.
    project_service.bump_households_version(session, project_id)  # list and what-if caches
    # The members' encrypted identity numbers and the audit snapshots need only the clean rows:
    # a big import computes them in a forked child on the other core while this process and the
    # insert thread prepare and store the rows.
    ahead = Forked(
        partial(household_service.member_identities, [m["id_number"] for m in clean.members]),
        partial(_audit_changes, clean),
        fork=len(clean.households) >= _FORK_MIN_HOUSEHOLDS,
    )
    try:
        with _sqlite_page_cache(session, _IMPORT_CACHE_KIB):
            writer = _Writer(session, tick)
            try:
                summary = _write_rows(session, writer, actor, project_id, clean, filename, sha256, ahead)
            finally:
                writer.close()
    finally:
        ahead.cancel()
    return summary


# The forked child (bench/RESULTS.md, "Census import"): for 100,000 households it computes the
# encrypted identity numbers (~2 s) and the audit snapshots as canonical JSON (~7 s) on the second
# core while this process builds the other columns and the insert thread stores the rows; done here
# instead, those ~9 s of a 30-33 s import would run on the write's critical path (the write phase is
# 15 s). Below 5,000 households a fork costs more than it saves, and the work runs in this process.
_FORK_MIN_HOUSEHOLDS = 5000


# SQLite page cache while writing: the members' identity-digest index takes random keys (4-6 s of
# the insert thread's ~10 s for 343,008 members in bench/RESULTS.md, "Census import").
_IMPORT_CACHE_KIB = 256 * 1024


@contextmanager
def _sqlite_page_cache(session: Session, kib: int) -> Iterator[None]:
    """On SQLite, let this connection cache up to ``kib`` KiB of pages while the block runs.

    The identity-number index takes its keys in random order: with the default 2 MB cache each
    insert reads pages back and spills others, so a big import spends about twice as long in
    SQLite. The cache only grows as pages are used and shrinks back afterwards.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def _fen(amount: Decimal) -> int:
    # yuan_to_fen of a validated amount: parse_decimal has quantized it to exactly 2 places
    return int(amount.scaleb(2))


def _write_rows(
    session: Session,
    writer: _Writer,
    actor: Actor,
    project_id: int,
    clean: CleanCensus,
    filename: str,
    sha256: str,
    ahead: Forked,
) -> ImportSummary:
    """The write; ``ahead`` computes the members' identity columns (result 0) and the audit
    snapshots (result 1)."""
    now = utcnow()
    none, blank = _Same(None), _Same("")
    zero = Decimal("0.00")
    H, M, B, T, HS, V = clean.tables()

    names_of: dict[str, list[str]] = {}
    for m in M:
        names_of.setdefault(m["household_code"], []).append(m["name"])
    search = rules.search_text
    writer.insert(
        Household.__table__,
        {
            "project_id": _Same(project_id),
            "block_id": [h.get("block_id") for h in H],
            "parcel_id": none,
            "code": [h["code"] for h in H],
            "address": [h["address"] for h in H],
            "head_name": [h["head_name"] for h in H],
            "contact_phone": [h.get("contact_phone", "") for h in H],
            "status": [h.get("status") or "surveyed" for h in H],
            "sign_on": [h.get("sign_on") for h in H],
            "vacate_on": [h.get("vacate_on") for h in H],
            "remark": [h.get("remark", "") for h in H],
            "search_text": [
                search(
                    h["code"],
                    h["head_name"],
                    h["address"],
                    [n for n in names_of.get(h["code"], ()) if n != h["head_name"]],
                )
                for h in H
            ],
            "version": _Same(1),
            "created_at": _Same(now),
            "updated_at": _Same(now),
            "voided_at": none,
            "void_reason": blank,
        },
        len(H),
    )
    del names_of

    # The child rows' columns need no database id: they are prepared while the households are
    # stored (and the identity numbers encrypted ahead).
    members: dict[str, list[Any] | _Same] = {
        "name": [m["name"] for m in M],
        "relation": [m["relation"] for m in M],
        "phone": [m.get("phone", "") for m in M],
        "dibao": [m.get("dibao", False) for m in M],
        "disability_grade": [m.get("disability_grade") for m in M],
        "serious_illness": [m.get("serious_illness", False) for m in M],
        "martyr_family": [m.get("martyr_family", False) for m in M],
        "shidu": [m.get("shidu", False) for m in M],
        "only_child": [m.get("only_child", False) for m in M],
        "youfu": [m.get("youfu", False) for m in M],
        "resettlement_counted": [m.get("resettlement_counted") for m in M],
        "resettlement_reason": [m.get("resettlement_reason", "") for m in M],
        "sort": [m["sort"] for m in M],
        "voided_at": none,
        "void_reason": blank,
    }
    buildings: dict[str, list[Any] | _Same] = {
        "certificate_no": [b.get("certificate_no", "") for b in B],
        "structure": [b["structure"] for b in B],
        "use": [b["use"] for b in B],
        "floors": [b.get("floors") for b in B],
        "built_year": [b.get("built_year") for b in B],
        "legal_area": [b["legal_area"] for b in B],
        "unregistered_area": [b.get("unregistered_area", zero) for b in B],
        "unregistered_determination": [b.get("unregistered_determination", "pending") for b in B],
        "location": [b.get("location", "") for b in B],
        "sort": [b["sort"] for b in B],
        "voided_at": none,
        "void_reason": blank,
    }
    t_masked = _tenant_masked(T)
    tenants: dict[str, list[Any] | _Same] = {
        "name": [t["name"] for t in T],
        "kind": [t["kind"] for t in T],
        "credential_masked": t_masked,
        "contact_phone": [t.get("contact_phone", "") for t in T],
        "business": [t.get("business", "") for t in T],
        "area": [t.get("area", zero) for t in T],
        "monthly_rent_fen": [_fen(t.get("monthly_rent", zero)) for t in T],
        "lease_start_on": [t.get("lease_start_on") for t in T],
        "lease_end_on": [t.get("lease_end_on") for t in T],
        "voided_at": none,
        "void_reason": blank,
    }
    homesteads: dict[str, list[Any] | _Same] = {
        "area": [hs["area"] for hs in HS],
        "approved_year": [hs.get("approved_year") for hs in HS],
        "certificate_no": [hs.get("certificate_no", "") for hs in HS],
        "voided_at": none,
        "void_reason": blank,
    }
    idents: dict[str, list[Any]] = ahead.result(0)
    members.update(idents)
    del idents

    writer.wait()
    new_codes = {h["code"] for h in H}
    ids: dict[str, int] = {
        str(code): int(hid)
        for code, hid in session.execute(
            select(Household.code, Household.id).where(Household.project_id == project_id)
        )
        if code in new_codes
    }
    writer.insert(Member.__table__, {"household_id": _ids_of(M, ids), **members}, len(M))
    writer.insert(Building.__table__, {"household_id": _ids_of(B, ids), **buildings}, len(B))
    writer.insert(Tenant.__table__, {"household_id": _ids_of(T, ids), **tenants}, len(T))
    writer.insert(Homestead.__table__, {"household_id": _ids_of(HS, ids), **homesteads}, len(HS))
    del members, buildings, tenants, homesteads
    del t_masked
    # the audit snapshots (from the child process, or built now) while the database stores the child rows
    changes: dict[str, str] = ahead.result(1)

    reason = f"入户调查表导入：{filename}" if filename else "入户调查表导入"
    entries = [
        audit_service.AuditEntry(
            action="import",
            entity="household",
            entity_id=str(ids[code]),
            changes={},  # given as changes_json
            reason=reason,
            project_id=project_id,
            household_id=ids[code],
            changes_json=text,
        )
        for code, text in changes.items()
    ]
    summary = ImportSummary(
        households=len(clean.households),
        members=len(clean.members),
        buildings=len(clean.buildings),
        tenants=len(clean.tenants),
        homesteads=len(clean.homesteads),
        valuations=len(clean.valuations),
        audit_seq=0,
        filename=filename,
        sha256=sha256,
        household_ids=ids,
    )
    counts = summary.as_dict()
    counts.pop("audit_seq")
    entries.append(
        audit_service.AuditEntry(
            action="import",
            entity="census",
            entity_id=(sha256 or "memory")[:64],
            changes=counts,
            reason=reason,
            project_id=project_id,
        )
    )

    if V:
        valuations: dict[str, list[Any] | _Same] = {
            "firm": [v["firm"] for v in V],
            "report_no": [v.get("report_no", "") for v in V],
            "valued_on": [v.get("valued_on") for v in V],
            "assessed_unit_price_fen": [_fen(v["assessed_unit_price"]) for v in V],
            "assessed_value_fen": [_fen(v["assessed_value"]) for v in V],
            "decoration_fen": [_fen(v.get("decoration", zero)) for v in V],
            "fixtures_fen": [_fen(v.get("fixtures", zero)) for v in V],
            "created_at": _Same(now),
            "voided_at": none,
            "void_reason": blank,
        }
        writer.wait()  # the buildings are stored
        new_ids = {v: k for k, v in ids.items()}
        building_ids: dict[tuple[str, int], int] = {}
        for bid, hid, sort in session.execute(
            select(Building.id, Building.household_id, Building.sort)
            .join(Household, Household.id == Building.household_id)
            .where(Household.project_id == project_id)
        ):
            code = new_ids.get(hid)
            if code is not None:
                building_ids[(code, int(sort) + 1)] = int(bid)
        writer.insert(
            Valuation.__table__,
            {
                "building_id": [building_ids[(v["household_code"], v["building_order"])] for v in V],
                **valuations,
            },
            len(V),
        )

    writer.wait()
    for start in range(0, len(entries), BATCH * 2):
        summary.audit_seq = audit_service.record_many(
            session, actor=actor, entries=entries[start : start + BATCH * 2]
        )
        writer.tick(min(BATCH * 2, len(entries) - start))
    return summary
