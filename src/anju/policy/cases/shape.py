"""Cases part: reading a cases file strictly into typed cases.

Every key of the file is known or reported (with a did-you-mean), every value has the type its
field needs, and every mistake is a problem with file, line and column; all of them are gathered
before anything is computed, so a typo never silently computes a wrong expectation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from anju.policy.cases.blocks import _GroupReader
from anju.policy.cases.expect import TransitionCase, TrialSelection, _ExpectReader
from anju.policy.cases.household import HOUSEHOLD_KEYS, _HouseholdReader
from anju.policy.cases.values import Ref
from anju.policy.errors import Location, Problem
from anju.policy.facts import GroupFacts, Household
from anju.policy.yaml_source import Src, load_yaml, read_yaml_file

TOP_KEYS = {"policy", "as_of", "group", "measures", "cases"}
CASE_KEYS = {
    "name",
    "option",
    "household",
    "flats",
    "expect",
    "settlement",
    "entitlement",
    "selections",
    "transition",
    "missing",
}


@dataclass(slots=True)
class Case:
    """One case of a cases file, read and typed: the household and everything expected of it."""

    name: str
    option: str
    household: Household
    index: int = 0
    expect: dict[str, int] = field(default_factory=dict)  # item or subtotal id (or total) -> fen
    settlement: dict[str, int | Decimal] | None = None  # money keys in fen, areas in ㎡
    entitlement: dict[str, Any] | None = None  # entitled_area / max_area (㎡), max_flats, applies
    selections: list[TrialSelection] = field(default_factory=list)
    transition: TransitionCase | None = None
    missing: list[str] | None = None  # the required facts the household is expected to lack


@dataclass(slots=True)
class CasesFile:
    """A cases file read and its shape checked: the policy it names, its date, group facts and cases."""

    path: Path
    policy_path: Path | None
    as_of: date | None
    group: GroupFacts
    cases: list[Case]
    refs: list[Ref] = field(default_factory=list)
    marks: dict[tuple[Any, ...], Src] = field(default_factory=dict, repr=False)

    def location(self, path: tuple[Any, ...], *, key: bool = False) -> Location:
        """Where ``path`` was written (its key with ``key``; else its value or the nearest parent)."""
        if key and path and (found := self.marks.get((*path[:-1], ("key", path[-1])))) is not None:
            return found.location()
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, Src(str(self.path), 0, 0, None)).location()


def read_cases(
    path: Path, loaded: tuple[Any, dict[tuple[Any, ...], Src]] | None = None
) -> tuple[CasesFile, list[Problem]]:
    """Read a cases file (or its YAML already ``loaded``); returns what could be read and every
    problem found (none: all is well). A file that is not YAML at all raises :class:`PolicyError`."""
    if loaded is None:
        loaded = load_yaml(read_yaml_file(path, "测试用例文件", "the cases file"), str(path))
    data, marks = loaded
    r = _CasesReader(data, marks, str(path))
    cf = r.read(path)
    cf.marks = marks
    return cf, r.problems


class _CasesReader(_HouseholdReader, _ExpectReader, _GroupReader):
    """Reads the whole cases file, gathering problems."""

    def read(self, path: Path) -> CasesFile:
        refs = self.refs
        empty = CasesFile(path, None, None, GroupFacts(), [])
        if self.data is None:
            self.err((), "cases", "测试用例文件是空的", "the cases file is empty")
            return empty
        d = self.fields(self.data, (), TOP_KEYS)
        if d is None:
            return empty
        policy_name = self.text(d.get("policy"), ("policy",))
        as_of = self.day(d["as_of"], ("as_of",)) if d.get("as_of") is not None else None
        cases: list[Case] = []
        raw = self.items_of(d.get("cases"), ("cases",)) or []
        for i, c in enumerate(raw):
            case = self.case(c, ("cases", i), i)
            if case is not None:
                cases.append(case)
        self.same_parents(cases)
        group = GroupFacts.from_households(_unique([c.household for c in cases]))
        if d.get("group") is not None:
            group = self.group(d["group"], ("group",)) or group
        if d.get("measures") is not None:
            measures = self.measures(d["measures"], ("measures",))
            if measures is not None:
                group = group.with_measures(self.build_group({"measures": measures}, ("measures",)).measures)
        policy_path = path.parent / policy_name if policy_name else None
        return CasesFile(path, policy_path, as_of, group, cases, refs)

    def same_parents(self, cases: list[Case]) -> None:
        """A block lies under the same parent blocks in every case (else the project's blocks, and
        with them every sign rate, would depend on which case is read first)."""
        first: dict[str, Case] = {}
        for c in cases:
            h = c.household
            seen = first.setdefault(h.block_code, c)
            if seen.household.block_chain != h.block_chain:
                shown = "/".join(seen.household.block_chain) or "无"
                self.err(
                    ("cases", c.index, "household", "block_chain"),
                    "cases",
                    f"第 {c.index + 1} 个用例：片区“{h.block_code}”的上级片区（block_chain）与第 {seen.index + 1} 个用例"
                    f"（{shown}）不一致",
                    f"case {c.index + 1}: block '{h.block_code}' has other parent blocks than in case {seen.index + 1}",
                )

    # ------------------------------------------------------------------ a case

    def case(self, c: Any, path: tuple[Any, ...], i: int) -> Case | None:
        before = len(self.problems)
        spec = self.fields(c, path, CASE_KEYS)
        if spec is None:
            return None
        if spec.get("household") is None:
            self.err(
                path,
                "cases",
                f"第 {i + 1} 个用例缺少 household（户的事实）",
                f"case {i + 1} has no household",
            )
            return None
        hp = (*path, "household")
        hd = self.fields(spec["household"], hp, HOUSEHOLD_KEYS)
        flats_raw = spec.get("flats")
        flats_path = (*path, "flats")
        if hd is not None and hd.get("flats") is not None:
            if flats_raw is not None:
                self.err(
                    flats_path,
                    "cases",
                    f"第 {i + 1} 个用例在 flats 和 household.flats 两处写了所选房源，请只写一处",
                    f"case {i + 1} gives flats twice (flats and household.flats)",
                )
            flats_raw, flats_path = hd["flats"], (*hp, "flats")
        household = self.household(hd, hp, flats_raw, flats_path) if hd is not None else None
        name = self.text(spec.get("name"), (*path, "name"))
        option = self.text(spec.get("option"), (*path, "option")) or "cash"
        self.refs.append(Ref("option", option, (*path, "option") if "option" in spec else path))
        expect: dict[str, int] = {}
        for k, v in self.named(spec.get("expect"), (*path, "expect")).items():
            fen = self.fen(v, (*path, "expect", k), negative=True)
            self.refs.append(Ref("expect", str(k), (*path, "expect", k)))
            if fen is not None:
                expect[str(k)] = fen
        missing = None
        if spec.get("missing") is not None:
            missing = self.names(spec["missing"], (*path, "missing"))
            for j, fid in enumerate(missing or []):
                self.refs.append(Ref("missing", fid, (*path, "missing", j)))
        settlement = (
            self.settlement(spec["settlement"], (*path, "settlement")) if "settlement" in spec else None
        )
        entitlement = (
            self.entitlement(spec["entitlement"], (*path, "entitlement")) if "entitlement" in spec else None
        )
        selections = []
        for j, raw_sel in enumerate(self.items_of(spec.get("selections"), (*path, "selections")) or []):
            if (sel := self.selection(raw_sel, (*path, "selections", j))) is not None:
                selections.append(sel)
        transition = (
            self.transition(spec["transition"], (*path, "transition")) if "transition" in spec else None
        )
        if len(self.problems) > before or household is None:
            return None
        return Case(
            name or household.code,
            option,
            household,
            i,
            expect,
            settlement,
            entitlement,
            selections,
            transition,
            missing,
        )


def _unique(hs: list[Household]) -> list[Household]:
    """One household per code (the first): the project the group facts are counted over."""
    seen: dict[str, Household] = {}
    for h in hs:
        seen.setdefault(h.code, h)
    return list(seen.values())


__all__ = ["Case", "CasesFile", "Ref", "TransitionCase", "TrialSelection", "read_cases"]
