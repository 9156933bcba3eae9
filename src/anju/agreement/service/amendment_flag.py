"""The "amendment may be needed" flag (需变更提示) of signed agreements, with the difference.

A signed agreement never changes by itself, but when the household's facts are edited or a new
policy version is published, the agreement's calculation is done again with the current facts
under the latest policy, as of the signing date, with the group facts frozen at signing and the
snapshot's own sign and vacate dates (the vacating reward is the clearance part's business, not an
amendment). A different amount for any item raises the flag and stores the difference on the
agreement (``amendment_flag``, ``amendment_diff_fen``). The household domain never imports this
domain, so the flag is refreshed by its readers instead of by the household writes:

- :func:`amendment_check` when one agreement or household panel is read (one household: cheap;
  the stored flag is written only when it changed, so a read stays a read);
- :func:`check_amendments` for a whole project: ``anju agreement check-amendments`` and after a
  policy publish (the compensation routes call it).

The flag is derived data (it is recomputed at will), so writing it is not audited and does not
raise the agreement's version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from anju.agreement import rules
from anju.agreement.models import Agreement, AgreementSnapshot
from anju.agreement.service.signing import (
    get_agreement,
    get_snapshot,
    items_of,
    snapshot_facts,
    snapshot_group,
)
from anju.compensation import service as compensation_service
from anju.core.dates import utcnow
from anju.db.session import begin_write
from anju.errors import ValidationFailed
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy.scalar import Result

__all__ = [
    "AmendmentCheck",
    "AmendmentRun",
    "FactChange",
    "ItemDiff",
    "amendment_check",
    "check_amendments",
    "fact_changes",
]


@dataclass(frozen=True, slots=True)
class ItemDiff:
    """One item whose amount differs between the agreement and the current calculation."""

    id: str
    label: str
    signed_fen: int
    current_fen: int

    @property
    def diff_fen(self) -> int:
        """Current minus signed."""
        return self.current_fen - self.signed_fen


@dataclass(frozen=True, slots=True)
class FactChange:
    """One household fact that differs from the one the agreement was signed on."""

    path: str  # e.g. buildings[0].legal_area
    label: str  # 中文, e.g. 房屋 Z00001 合法面积
    signed: str
    current: str


@dataclass
class AmendmentCheck:
    """The agreement against the current facts and the latest policy.

    ``flag``: an amendment may be needed (some item differs). ``current_total_fen`` is ``None`` and
    ``problem`` says why when the latest policy cannot compute the household.
    """

    agreement_id: int
    live: bool
    flag: bool
    signed_total_fen: int
    current_total_fen: int | None
    signed_policy_version: int
    current_policy_version: int | None
    items: list[ItemDiff] = field(default_factory=list)
    facts: list[FactChange] = field(default_factory=list)
    problem: str = ""
    checked_at: datetime | None = None

    @property
    def diff_fen(self) -> int:
        """Current total minus signed total (0 when not computable)."""
        return 0 if self.current_total_fen is None else self.current_total_fen - self.signed_total_fen


@dataclass(frozen=True, slots=True)
class AmendmentRun:
    """What :func:`check_amendments` found in a project."""

    checked: int
    flagged: int
    raised: int  # flags newly raised by this run
    cleared: int  # flags this run took down
    problems: list[tuple[int, str]]  # (agreement id, why it could not be computed)


_FACT_LABELS = {
    "code": "户编号",
    "block_code": "所在区块",
    "block_chain": "上级区块",
    "kind": "项目类型",
    "flags": "标记",
    "name": "姓名",
    "relation": "与户主关系",
    "dibao": "低保",
    "disability_grade": "残疾等级",
    "serious_illness": "大病",
    "martyr_family": "烈属",
    "shidu": "失独",
    "only_child": "独生子女",
    "youfu": "优抚对象",
    "resettlement_counted": "计入安置人口",
    "certificate_no": "证号",
    "structure": "结构",
    "use": "用途",
    "floors": "层数",
    "built_year": "建成年份",
    "legal_area": "合法面积",
    "unregistered_area": "未登记面积",
    "unregistered_determination": "未登记部分认定",
    "assessed_unit_price": "评估单价",
    "assessed_value": "评估价值",
    "decoration": "装修补偿",
    "fixtures": "附属物补偿",
    "area": "面积",
    "approved_year": "批准年份",
    "business": "经营项目",
}
_GROUP_LABELS = {"members": "成员", "buildings": "房屋", "tenants": "承租人", "homestead": "宅基地"}


def _shown(value: Any) -> str:
    if value is None:
        return "（无）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "（无）"
    return str(value)


def _entry_name(group: str, i: int, entry: dict[str, Any] | None) -> str:
    label = _GROUP_LABELS.get(group, group)
    if entry is None:
        return f"{label}{i + 1}"
    name = entry.get("certificate_no") if group == "buildings" else entry.get("name")
    return f"{label}{i + 1}（{name}）" if name else f"{label}{i + 1}"


def fact_changes(
    signed: dict[str, Any], current: dict[str, Any], fact_labels: Mapping[str, str] | None = None
) -> list[FactChange]:
    """Facts that differ between two ``facts.household_to_dict`` forms, in a readable order.
    ``fact_labels``: the labels of the facts the policy declares (``facts`` of the forms)."""
    out: list[FactChange] = []
    for key in list(signed) + [k for k in current if k not in signed]:
        if key in ("sign_on", "vacate_on"):
            continue  # the comparison uses the snapshot's own dates
        a, b = signed.get(key), current.get(key)
        if a == b:
            continue
        if key == "facts":  # declared by the policy: one change per fact, named by its label
            da, db = dict(a or {}), dict(b or {})
            for fid in list(da) + [k for k in db if k not in da]:
                if da.get(fid) != db.get(fid):
                    label = (fact_labels or {}).get(fid) or f"方案事实 {fid}"
                    before = _shown(da.get(fid)) if da.get(fid) is not None else "（无）"
                    after = _shown(db.get(fid)) if db.get(fid) is not None else "（无）"
                    out.append(FactChange(f"facts.{fid}", label, before, after))
            continue
        if key in ("members", "buildings", "tenants"):
            la, lb = list(a or []), list(b or [])
            for i in range(max(len(la), len(lb))):
                ea = la[i] if i < len(la) else None
                eb = lb[i] if i < len(lb) else None
                if ea == eb:
                    continue
                name = _entry_name(key, i, ea or eb)
                if ea is None or eb is None:
                    out.append(
                        FactChange(
                            f"{key}[{i}]",
                            name,
                            "（无）" if ea is None else "有",
                            "（无）" if eb is None else "有",
                        )
                    )
                    continue
                for k in list(ea) + [k for k in eb if k not in ea]:
                    if ea.get(k) != eb.get(k):
                        out.append(
                            FactChange(
                                f"{key}[{i}].{k}",
                                f"{name} {_FACT_LABELS.get(k, k)}",
                                _shown(ea.get(k)),
                                _shown(eb.get(k)),
                            )
                        )
        elif key == "homestead" and isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                if a.get(k) != b.get(k):
                    out.append(
                        FactChange(
                            f"homestead.{k}",
                            f"宅基地 {_FACT_LABELS.get(k, k)}",
                            _shown(a.get(k)),
                            _shown(b.get(k)),
                        )
                    )
        else:
            label = _GROUP_LABELS.get(key) or _FACT_LABELS.get(key, key)
            out.append(FactChange(key, label, _shown(a) if a is not None else "（无）", _shown(b)))
    return out


def item_diffs(signed: list[dict[str, Any]], current: Result) -> list[ItemDiff]:
    before = {str(i["id"]): (str(i.get("label", i["id"])), int(i.get("amount_fen", 0))) for i in signed}
    out = []
    seen = set()
    for item in current.items:
        seen.add(item.id)
        label, amount = before.get(item.id, (item.label, 0))
        if amount != item.amount_fen:
            out.append(ItemDiff(item.id, item.label or label, amount, item.amount_fen))
    for item_id, (label, amount) in before.items():
        if item_id not in seen and amount != 0:
            out.append(ItemDiff(item_id, label, amount, 0))
    return out


@dataclass
class Recomputed:
    version: Any  # the compensation domain's PolicyVersion
    household: facts.Household
    result: Result | None
    problem: str


def recompute(snap: AgreementSnapshot, option: str, current: facts.Household, pv: Any) -> Recomputed:
    """The agreement's calculation with ``current`` facts under ``pv``: as of the snapshot's date,
    with the snapshot's group facts and its own sign and vacate dates."""
    frozen = snapshot_facts(snap)
    hf = replace(current, sign_on=frozen.sign_on, vacate_on=frozen.vacate_on)
    try:
        result = compensation_service.evaluate_frozen(
            pv, hf, option, as_of=snap.as_of, group=snapshot_group(snap)
        )
    except ValidationFailed as exc:  # NotComputable, or an option the new policy does not offer
        return Recomputed(pv, hf, None, exc.message_zh)
    return Recomputed(pv, hf, result, "")


def _check_of(a: Agreement, snap: AgreementSnapshot, rc: Recomputed | None) -> AmendmentCheck:
    live = a.status in rules.LIVE_STATUSES
    if rc is None or not live:
        return AmendmentCheck(
            agreement_id=a.id,
            live=live,
            flag=False,
            signed_total_fen=a.total_fen,
            current_total_fen=None,
            signed_policy_version=snap.policy_version,
            current_policy_version=None,
            checked_at=a.amendment_checked_at,
        )
    if rc.result is None:
        return AmendmentCheck(
            agreement_id=a.id,
            live=live,
            flag=False,
            signed_total_fen=a.total_fen,
            current_total_fen=None,
            signed_policy_version=snap.policy_version,
            current_policy_version=rc.version.version,
            problem=f"按第 {rc.version.version} 版方案无法计算：{rc.problem}",
            checked_at=a.amendment_checked_at,
        )
    items = item_diffs(items_of(snap), rc.result)
    return AmendmentCheck(
        agreement_id=a.id,
        live=live,
        flag=bool(items),
        signed_total_fen=a.total_fen,
        current_total_fen=rc.result.total_fen,
        signed_policy_version=snap.policy_version,
        current_policy_version=rc.version.version,
        items=items,
        facts=fact_changes(
            json.loads(snap.facts),
            facts.household_to_dict(rc.household),
            {
                fid: d.label
                for fid, d in compensation_service.checked_version(rc.version).policy.facts.items()
            },
        ),
        checked_at=a.amendment_checked_at,
    )


def current_facts(session: Session, scope: DataScope, a: Agreement) -> facts.Household:
    ((_, hf),) = compensation_service.project_facts(
        session, scope=scope, project_id=a.project_id, household_ids=[a.household_id]
    )
    return hf


def amendment_check(
    session: Session, *, scope: DataScope, agreement_id: int, store: bool = True
) -> AmendmentCheck:
    """Compare a live agreement with its household's current facts under the latest policy.

    With ``store`` the agreement's flag and difference are updated when they changed (a read that
    finds nothing new writes nothing). A cancelled or void agreement is never flagged. 404 outside
    ``scope``.
    """
    a = get_agreement(session, scope=scope, agreement_id=agreement_id)
    snap = get_snapshot(session, a)
    if a.status not in rules.LIVE_STATUSES:
        return _check_of(a, snap, None)
    pv = compensation_service.get_version(session, a.project_id)
    check = _check_of(a, snap, recompute(snap, a.option, current_facts(session, scope, a), pv))
    changed = (a.amendment_flag, a.amendment_diff_fen) != (check.flag, check.diff_fen)
    if store and check.current_total_fen is not None and changed:
        now = utcnow()
        begin_write(session)  # a GET: take the write lock before writing (SQLite)
        session.execute(
            update(Agreement)
            .where(Agreement.id == agreement_id)
            .values(amendment_flag=check.flag, amendment_diff_fen=check.diff_fen, amendment_checked_at=now)
            .execution_options(synchronize_session=False)
        )
        session.expire(a)
        check.checked_at = now
    return check


def check_amendments(session: Session, *, project_id: int, now: datetime | None = None) -> AmendmentRun:
    """Refresh the flag of every live agreement of a project (all scopes); for the CLI, the policy
    publish and other jobs. Stores flag, difference and the check time on every live agreement."""
    now = now or utcnow()
    agreements = list(
        session.scalars(
            select(Agreement)
            .where(Agreement.project_id == project_id, Agreement.status.in_(rules.LIVE_STATUSES))
            .order_by(Agreement.id)
        )
    )
    if not agreements:
        return AmendmentRun(0, 0, 0, 0, [])
    pv = compensation_service.get_version(session, project_id)
    snaps = {
        s.id: s
        for s in session.scalars(
            select(AgreementSnapshot).where(AgreementSnapshot.id.in_([a.snapshot_id for a in agreements]))
        )
    }
    current = dict(
        compensation_service.project_facts(
            session,
            scope=DataScope.everything(),
            project_id=project_id,
            household_ids=[a.household_id for a in agreements],
        )
    )
    flagged = raised = cleared = 0
    problems: list[tuple[int, str]] = []
    for a in agreements:
        snap = snaps.get(a.snapshot_id or 0)
        hf = current.get(a.household_id)
        if snap is None or hf is None:  # a voided household keeps its agreement as it was
            continue
        check = _check_of(a, snap, recompute(snap, a.option, hf, pv))
        if check.current_total_fen is None:
            problems.append((a.id, check.problem))
            continue
        raised += int(check.flag and not a.amendment_flag)
        cleared += int(a.amendment_flag and not check.flag)
        flagged += int(check.flag)
        a.amendment_flag = check.flag
        a.amendment_diff_fen = check.diff_fen
        a.amendment_checked_at = now
    session.flush()
    return AmendmentRun(len(agreements), flagged, raised, cleared, problems)
