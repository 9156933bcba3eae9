"""Compensation use cases: publish policy versions, build engine facts from household files, evaluate.

Facts are built here (not in the household domain) because they are the engine's vocabulary; the
household domain only hands over its rows through :func:`anju.household.service.project_files`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anju.audit import service as audit_service
from anju.compensation.models import PolicyDraft, PolicyVersion
from anju.core.actor import Actor
from anju.core.dates import utcnow
from anju.errors import Conflict, NotFound, ValidationFailed
from anju.household import service as household_service
from anju.identity.service import DataScope
from anju.policy import facts
from anju.policy import swap as swap_engine
from anju.policy.check import Checked, load_policy
from anju.policy.declared import FactDecl
from anju.policy.errors import EvaluationError, PolicyError
from anju.policy.model import read_policy
from anju.policy.scalar import Result, SubtotalResult, evaluate, subtotal_results
from anju.policy.swap import Entitlement, Flat, SwapSettlement, Violation, settle_swap
from anju.policy.versioning import Change, diff
from anju.project import service as project_service


class PolicyInvalid(ValidationFailed):
    """A policy file with errors; ``details`` lists them with line and column."""

    code = "policy_invalid"


class NotComputable(ValidationFailed):
    """The engine refused a household (e.g. facts the plan needs are missing)."""

    code = "not_computable"


class EntitlementUnavailable(Conflict):
    """A household's entitlement cannot be computed: the policy has no swap settlement, or the
    engine refused the household's facts. A conflict with the data, not bad input (409)."""

    code = "entitlement_unavailable"


def content_hash(source: str) -> str:
    """SHA-256 of a policy's exact text: the identity of a published version."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


@lru_cache(maxsize=32)
def _checked(source_hash: str, source: str, file_name: str) -> Checked:
    # Keyed by the content hash: published sources never change, so the checked form can be reused.
    return load_policy(source, file_name)


def check_source(source: str, file_name: str = "policy.yaml") -> Checked:
    """Load and check a policy text; raises :class:`PolicyInvalid` listing every problem."""
    try:
        return _checked(content_hash(source), source, file_name)
    except PolicyError as exc:
        details = [
            {
                "field": f"{p.location.line}:{p.location.column}",
                "line": p.location.line,
                "column": p.location.column,
                "code": p.code,
                "message": p.message_zh,
                "message_en": p.message_en,
            }
            for p in exc.problems
        ]
        raise PolicyInvalid(
            f"补偿方案有 {len(details)} 处错误", f"the policy has {len(details)} problem(s)", details=details
        ) from exc


def publish(
    session: Session, *, actor: Actor, project_id: int, source: str, file_name: str = ""
) -> PolicyVersion:
    """Publish a checked policy as the project's next version (immutable; audited)."""
    project_service.get_project(session, project_id)
    checked = check_source(source, file_name or "policy.yaml")
    digest = content_hash(source)
    last = session.scalar(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.project_id == project_id)
    )
    same = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project_id, PolicyVersion.content_hash == digest
        )
    )
    if same is not None:
        raise ValidationFailed(
            f"该方案内容与第 {same.version} 版完全相同，无需重复发布",
            "identical to an existing version",
            code="duplicate_policy",
        )
    meta = checked.policy.meta
    pv = PolicyVersion(
        project_id=project_id,
        version=int(last or 0) + 1,
        name=meta.name,
        legal_ref=meta.legal_ref,
        effective_on=meta.effective_on,
        content_hash=digest,
        source=source,
        file_name=file_name,
        published_by=actor.username,
        published_at=utcnow(),
    )
    session.add(pv)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="publish",
        entity="policy_version",
        entity_id=pv.id,
        project_id=project_id,
        changes={"version": [None, pv.version], "name": [None, pv.name], "content_hash": [None, digest]},
    )
    return pv


def versions(session: Session, project_id: int) -> list[PolicyVersion]:
    """All published versions of a project's policy, newest first."""
    return list(
        session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.project_id == project_id)
            .order_by(PolicyVersion.version.desc())
        )
    )


def get_version(session: Session, project_id: int, version: int | None = None) -> PolicyVersion:
    """A given version, or the newest one; raises :class:`NotFound`."""
    stmt = select(PolicyVersion).where(PolicyVersion.project_id == project_id)
    stmt = (
        stmt.where(PolicyVersion.version == version)
        if version
        else stmt.order_by(PolicyVersion.version.desc())
    )
    pv = session.scalars(stmt.limit(1)).first()
    if pv is None:
        raise NotFound("本项目尚未发布补偿方案", "no policy published for this project")
    return pv


def checked_version(pv: PolicyVersion) -> Checked:
    """The checked engine form of a stored version."""
    return check_source(pv.source, pv.file_name or f"policy-v{pv.version}.yaml")


# ------------------------------------------------------------------ facts


@lru_cache(maxsize=32)
def _declared(source_hash: str, source: str) -> dict[str, FactDecl]:
    try:
        policy, _ = read_policy(source, "policy.yaml")
    except PolicyError:
        return {}
    return dict(policy.facts)


def declared_facts(session: Session, project_id: int) -> dict[str, FactDecl]:
    """The facts the project's policy declares (``facts:`` block), in declaration order: those of
    the latest published version, else of the newest draft (a plan being typed in already shapes the
    household file and the census template); empty when there is neither. A draft whose facts block
    has errors gives the declarations that are valid."""
    pv = session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.project_id == project_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    ).first()
    source = pv.source if pv is not None else None
    if source is None:
        draft = session.scalars(
            select(PolicyDraft)
            .where(PolicyDraft.project_id == project_id)
            .order_by(PolicyDraft.number.desc())
            .limit(1)
        ).first()
        source = draft.source if draft is not None else None
    if source is None:
        return {}
    return dict(_declared(content_hash(source), source))


def _block_chains(session: Session, project_id: int) -> dict[int, tuple[str, tuple[str, ...]]]:
    """block id -> (own code, parent codes from the outermost)."""
    blocks = {b.id: b for b in project_service.blocks(session, project_id)}
    out: dict[int, tuple[str, tuple[str, ...]]] = {}
    for bid, b in blocks.items():
        chain: list[str] = []
        parent = b.parent_id
        while parent is not None and parent in blocks:
            chain.append(blocks[parent].code)
            parent = blocks[parent].parent_id
        out[bid] = (b.code, tuple(reversed(chain)))
    return out


def project_facts(
    session: Session, *, scope: DataScope, project_id: int, household_ids: list[int] | None = None
) -> list[tuple[int, facts.Household]]:
    """Engine facts of a project's households (id, facts), in household-code order."""
    project = project_service.get_project(session, project_id)
    files = household_service.project_files(
        session, scope=scope, project_id=project_id, household_ids=household_ids
    )
    chains = _block_chains(session, project_id)
    # The whole project's in one read, or the chosen households' (no IN list of a whole project).
    declared = household_service.project_policy_facts(
        session,
        project_id=project_id,
        household_ids=[h.id for h in files.households] if household_ids is not None else None,
    )
    per_element = household_service.project_element_policy_facts(
        session,
        project_id=project_id,
        household_ids=[h.id for h in files.households] if household_ids is not None else None,
    )
    chosen = _chosen_flats(session, project_id, household_ids)
    events = _event_dates(session, project_id, household_ids)
    out = []
    for h in files.households:
        code, chain = chains.get(h.block_id, ("", ())) if h.block_id else ("", ())
        members = tuple(
            facts.Member(
                name=m.name,
                relation=m.relation,
                dibao=m.dibao,
                disability_grade=m.disability_grade,
                serious_illness=m.serious_illness,
                martyr_family=m.martyr_family,
                shidu=m.shidu,
                only_child=m.only_child,
                youfu=m.youfu,
                resettlement_counted=bool(m.resettlement_counted),
                facts=per_element["member"].get(m.id, {}),
            )
            for m in files.members.get(h.id, [])
        )
        buildings = []
        for b in files.buildings.get(h.id, []):
            v = files.valuations.get(b.id)
            buildings.append(
                facts.Building(
                    certificate_no=b.certificate_no or f"#{b.id}",
                    structure=facts.Structure(b.structure),
                    use=facts.Use(b.use),
                    floors=b.floors or 1,
                    built_year=b.built_year or 2000,
                    legal_area=b.legal_area,
                    unregistered_area=b.unregistered_area,
                    unregistered_determination=facts.Determination(b.unregistered_determination),
                    assessed_unit_price_fen=v.assessed_unit_price_fen if v else None,
                    assessed_value_fen=v.assessed_value_fen if v else None,
                    decoration_fen=v.decoration_fen if v else None,
                    fixtures_fen=v.fixtures_fen if v else None,
                    facts=per_element["building"].get(b.id, {}),
                )
            )
        hs = files.homesteads.get(h.id)
        ev = events.get(h.id, {})
        out.append(
            (
                h.id,
                facts.Household(
                    code=h.code,
                    block_code=code,
                    block_chain=chain,
                    kind=facts.ProjectKind(project.kind),
                    sign_on=h.sign_on,
                    vacate_on=h.vacate_on,
                    members=members,
                    buildings=tuple(buildings),
                    homestead=facts.Homestead(
                        area=hs.area, approved_year=hs.approved_year, certificate_no=hs.certificate_no
                    )
                    if hs
                    else None,
                    tenants=tuple(
                        facts.Tenant(
                            name=t.name, kind=facts.TenantKind(t.kind), area=t.area, business=t.business
                        )
                        for t in files.tenants.get(h.id, [])
                    ),
                    facts=declared.get(h.id, {}),
                    agreement_effective_on=ev.get("agreement_effective_on"),
                    delivery_planned_on=ev.get("delivery_planned_on"),
                    delivery_actual_on=ev.get("delivery_actual_on"),
                    move_back_on=ev.get("move_back_on"),
                    flats=chosen.get(h.id, ()),
                ),
            )
        )
    return out


def _chosen_flats(
    session: Session, project_id: int, household_ids: list[int] | None
) -> dict[int, tuple[facts.ChosenFlat, ...]]:
    """The flats the households have chosen (housing domain), for formulas over ``flats``."""
    # housing's service builds on this one: imported when called, so neither import waits on the other
    from anju.housing import service as housing_service

    if household_ids is not None:
        return housing_service.chosen_flat_facts(session, household_ids)
    return housing_service.chosen_flat_facts(session, project_id=project_id)


def _event_dates(
    session: Session, project_id: int, household_ids: list[int] | None
) -> dict[int, dict[str, date]]:
    """household id -> the known event dates after signing (facts.EVENT_DATES): the agreement's
    effective date from the agreements, delivery and move-back from the resettlement flats.

    Imported here, not at the top: agreement and housing build on this module (signing and
    settlement compute through it); they are only asked for dates, one query each."""
    from anju.agreement import service as agreement_service
    from anju.housing import service as housing_service

    out: dict[int, dict[str, date]] = {}
    for hid, on in agreement_service.effective_dates(
        session, project_id=project_id, household_ids=household_ids
    ).items():
        out.setdefault(hid, {})["agreement_effective_on"] = on
    for hid, ev in housing_service.household_events(
        session, project_id=project_id, household_ids=household_ids
    ).items():
        for key in ("delivery_planned_on", "delivery_actual_on", "move_back_on"):
            v = getattr(ev, key)
            if v is not None:
                out.setdefault(hid, {})[key] = v
    return out


def group_facts(session: Session, project_id: int) -> facts.GroupFacts:
    """Block counts, sign/vacate dates with certificate and area weights, and the office-set
    measures of the whole project (for collective rewards and group measures).

    Computed over every household regardless of the caller's scope: a collective reward depends
    on the whole block, and only counts and dates leave this function. Cached per data version
    and updated incrementally (:mod:`anju.compensation.group_cache`).
    """
    from anju.compensation import group_cache

    return group_cache.group_facts(session, project_id)


def household_weight(session: Session, *, project_id: int, household_id: int) -> tuple[int, int]:
    """A household's weight in group rates: (certificates, legal area in hundredths of ㎡)."""
    rows = household_service.group_rows(session, project_id=project_id, household_ids=[household_id])
    return (rows[0][4], rows[0][5]) if rows else (0, 0)


def group_with_event(
    group: facts.GroupFacts,
    *,
    block_code: str,
    sign_on: date | None = None,
    vacate_on: date | None = None,
    weight: tuple[int, int] | None = None,
) -> facts.GroupFacts:
    """``group`` once one household of ``block_code`` has signed on ``sign_on`` and/or vacated on
    ``vacate_on``: what :func:`group_facts` reads after that is written, without reading the whole
    project again. A caller writing many signings in one transaction (the demo's campaign) keeps
    the project's group facts with this instead of reading them once per signing (quadratic).
    ``weight`` is the household's (certificates, area hundredths) (:func:`household_weight`);
    without it the block keeps rates by household only. A block the group does not have is a
    :class:`KeyError` (the household belongs to no block of it).
    """
    b = group.blocks[block_code]
    w = weight if weight is not None else (0, 0)
    sign = sorted(zip(b.sign_dates, b.sign_weights or [(0, 0)] * len(b.sign_dates), strict=True))
    vac = sorted(zip(b.vacate_dates, b.vacate_weights or [(0, 0)] * len(b.vacate_dates), strict=True))
    if sign_on is not None:
        sign = sorted([*sign, (sign_on, w)])
    if vacate_on is not None:
        vac = sorted([*vac, (vacate_on, w)])
    blocks = dict(group.blocks)
    blocks[block_code] = facts.BlockGroup(
        b.total_households,
        tuple(d for d, _ in sign),
        tuple(d for d, _ in vac),
        b.total_certificates,
        b.total_area_cents,
        tuple(x for _, x in sign) if b.weighted else (),
        tuple(x for _, x in vac) if b.weighted else (),
        b.weighted and weight is not None,
    )
    # A new object: GroupFacts memoises its rates.
    return facts.GroupFacts(blocks=blocks, parents=group.parents, measures=group.measures)


def calculate(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    option: str,
    as_of: date | None = None,
    version: int | None = None,
) -> tuple[PolicyVersion, Result]:
    """The calculation sheet (算账单) of one household under one option, with its trace."""
    file = household_service.get_household_file(session, scope=scope, household_id=household_id)
    project_id = file.household.project_id
    pv = get_version(session, project_id, version)
    checked = checked_version(pv)
    if option not in checked.policy.options:
        raise ValidationFailed(
            f"方案中没有“{option}”这一安置方式",
            f"unknown option {option}",
            details=[{"field": "option", "message": "可选：" + "、".join(checked.policy.options)}],
        )
    ((_, hf),) = project_facts(session, scope=scope, project_id=project_id, household_ids=[household_id])
    try:
        result = evaluate(checked, hf, option, as_of=as_of, group=group_facts(session, project_id))
    except EvaluationError as exc:
        raise NotComputable(
            exc.message_zh, exc.message_en, details=[{"field": exc.code, "message": exc.message_zh}]
        ) from exc
    return pv, result


@dataclass(frozen=True)
class SigningCalculation:
    """Everything an agreement freezes: the version used, the facts and group facts, the result."""

    version: PolicyVersion
    household: facts.Household
    group: facts.GroupFacts
    result: Result


def signing_calculation(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    option: str,
    sign_on: date,
    group: facts.GroupFacts | None = None,
    effective_on: date | None = None,
) -> SigningCalculation:
    """The calculation a household signs: the project's latest published policy as of ``sign_on``,
    with ``sign_on`` set in the facts (the household is not signed yet in its file), so rewards
    keyed to the signing date are decided by the date the family signs. ``group``: the project's
    group facts as they stand, when the caller keeps them (:func:`group_with_event`); read here
    otherwise. ``effective_on``: the agreement's effective date when it takes effect on signing
    (no condition), the fact ``household.agreement_effective_on``."""
    file = household_service.get_household_file(session, scope=scope, household_id=household_id)
    project_id = file.household.project_id
    pv = get_version(session, project_id)
    checked = checked_version(pv)
    if option not in checked.policy.options:
        raise ValidationFailed(
            f"方案中没有“{option}”这一安置方式",
            f"unknown option {option}",
            details=[{"field": "option", "message": "可选：" + "、".join(checked.policy.options)}],
        )
    ((_, hf),) = project_facts(session, scope=scope, project_id=project_id, household_ids=[household_id])
    hf = replace(hf, sign_on=sign_on, agreement_effective_on=effective_on)
    if group is None:
        group = group_facts(session, project_id)
    return SigningCalculation(pv, hf, group, _evaluate(checked, hf, option, as_of=sign_on, group=group))


def evaluate_frozen(
    pv: PolicyVersion, household: facts.Household, option: str, *, as_of: date, group: facts.GroupFacts
) -> Result:
    """Evaluate frozen facts under a stored version (an agreement re-checked, or its vacating reward)."""
    return _evaluate(checked_version(pv), household, option, as_of=as_of, group=group)


def _evaluate(
    checked: Checked, household: facts.Household, option: str, *, as_of: date, group: facts.GroupFacts
) -> Result:
    try:
        return evaluate(checked, household, option, as_of=as_of, group=group)
    except EvaluationError as exc:
        raise NotComputable(
            exc.message_zh, exc.message_en, details=[{"field": exc.code, "message": exc.message_zh}]
        ) from exc


def snapshot_subtotals(
    pv: PolicyVersion, option: str, items: list[dict[str, object]]
) -> list[SubtotalResult]:
    """The subtotal lines (小计) of a signed snapshot's items under the version it was signed on, inner
    before outer; empty when that version has none. The snapshot's amounts are taken as signed."""
    checked = checked_version(pv)
    if option not in checked.policy.options or not checked.subtotals:
        return []
    amounts = {str(i.get("id", "")): int(str(i.get("amount_fen") or 0)) for i in items}
    return subtotal_results(checked, option, amounts)


def version_diff(session: Session, project_id: int, old: int, new: int) -> list[Change]:
    """Every changed parameter, clock, tier, item and metadata field between two versions."""
    a = checked_version(get_version(session, project_id, old))
    b = checked_version(get_version(session, project_id, new))
    return diff(a.policy, b.policy)


def parse_flat_areas(text: str) -> list[Decimal]:
    """Flat areas typed as ``90, 45.5`` (㎡); raises with a Chinese message naming the bad entry."""
    out: list[Decimal] = []
    for n, part in enumerate(text.replace("，", ",").replace("、", ",").split(","), start=1):
        part = part.strip()
        if not part:
            continue
        try:
            area = Decimal(part.replace("㎡", ""))
        except ArithmeticError:
            area = Decimal(-1)
        if not area.is_finite() or area <= 0 or area > 1000 or area != area.quantize(Decimal("0.01")):
            raise ValidationFailed(
                f"第 {n} 套房源面积“{part}”无效（应为大于0、最多两位小数的㎡数）",
                f"flat {n}: invalid area {part!r}",
                details=[{"field": "flats", "message": f"第 {n} 套房源面积无效"}],
            )
        out.append(area)
    return out


def settle(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    flat_areas: list[Decimal],
    as_of: date | None = None,
) -> SwapSettlement:
    """Swap settlement (产权调换结算) of a household against flats of the given areas (a trial selection)."""
    file = household_service.get_household_file(session, scope=scope, household_id=household_id)
    project_id = file.household.project_id
    checked = checked_version(get_version(session, project_id))
    ((_, hf),) = project_facts(session, scope=scope, project_id=project_id, household_ids=[household_id])
    flats = [Flat(code=f"第{i}套", area=a) for i, a in enumerate(flat_areas, start=1)]
    try:
        return settle_swap(checked, hf, flats, as_of=as_of, group=group_facts(session, project_id))
    except EvaluationError as exc:
        raise NotComputable(
            exc.message_zh, exc.message_en, details=[{"field": "flats", "message": exc.message_zh}]
        ) from exc


@dataclass(frozen=True)
class HouseholdEntitlement:
    """A household's entitlement (安置资格) with the policy version and date it was computed under."""

    version: PolicyVersion
    household_id: int
    as_of: date
    entitlement: Entitlement


def entitlement(
    session: Session, *, scope: DataScope, household_id: int, as_of: date | None = None
) -> HouseholdEntitlement:
    """The entitlement of a household from its file under the project's latest published policy:
    entitled swap area, maximum selectable area and flats, and the selection rules (which apply).

    ``as_of`` (the date parameters are read at) defaults to the household's sign date, else the
    policy's effective date. Facts come from the household file: once a household has signed a
    swap agreement its frozen facts rule, and the domain that knows agreements (housing) passes
    them to :func:`entitlement_for_facts` instead. Raises :class:`NotFound` (household out of
    scope, no policy) and :class:`EntitlementUnavailable`."""
    file = household_service.get_household_file(session, scope=scope, household_id=household_id)
    project_id = file.household.project_id
    pv = get_version(session, project_id)
    ((_, hf),) = project_facts(session, scope=scope, project_id=project_id, household_ids=[household_id])
    when = as_of or hf.sign_on or checked_version(pv).policy.meta.effective_on
    ent = entitlement_for_facts(pv, hf, as_of=when, group=group_facts(session, project_id))
    return HouseholdEntitlement(pv, household_id, when, ent)


def entitlement_for_facts(
    pv: PolicyVersion, household: facts.Household, *, as_of: date, group: facts.GroupFacts
) -> Entitlement:
    """The entitlement of given facts under a stored version (e.g. an agreement's frozen facts)."""
    try:
        return swap_engine.entitlement(checked_version(pv), household, as_of, group)
    except EvaluationError as exc:
        raise EntitlementUnavailable(
            f"无法计算安置资格：{exc.message_zh}",
            f"entitlement not computable: {exc.message_en}",
            details=[{"field": exc.code, "message": exc.message_zh}],
        ) from exc


def check_selection(
    session: Session,
    *,
    scope: DataScope,
    household_id: int,
    flats: list[Flat],
    complete: bool = True,
    as_of: date | None = None,
) -> list[Violation]:
    """The policy's selection rules that choosing ``flats`` breaks for a household (empty: allowed).

    ``flats`` are engine flat specs (code, gross area, type code and name); ``complete=False``
    judges a selection still in progress (see :func:`anju.policy.swap.violations`). Facts as in
    :func:`entitlement`."""
    he = entitlement(session, scope=scope, household_id=household_id, as_of=as_of)
    return swap_engine.violations(he.entitlement, flats, complete=complete)


@dataclass(frozen=True, slots=True)
class ProjectBudget:
    """A project's budget under its latest published policy: the unchanged plan's total for one
    option (the what-if page's base), and per block code."""

    policy_version: int
    option: str
    option_label: str
    total_fen: int
    by_block: dict[str, int]


def project_budget(session: Session, *, project_id: int, option: str | None = None) -> ProjectBudget:
    """The project's compensation budget (what-if base total) for ``option`` (the policy's first
    option when ``None``, as the what-if page opens). Raises :class:`NotFound` when no policy is
    published. Whole-project figure: callers must hold a project-wide permission."""
    import numpy as np

    from anju.compensation import budget

    pv, entry = budget.project_table(session, project_id=project_id)
    options = entry.checked.policy.options
    chosen = option if option in options else next(iter(options))
    base = budget.base_result(entry, chosen)
    totals = base.total
    sums = np.zeros(len(entry.table.blocks), dtype=np.int64)
    np.add.at(sums, entry.table.block_idx, totals)
    by_block = {code: int(sums[k]) for k, code in enumerate(entry.table.blocks)}
    label = options[chosen]
    return ProjectBudget(pv.version, chosen, label, int(totals.sum()), by_block)
