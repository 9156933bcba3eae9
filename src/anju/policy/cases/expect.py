"""Cases part: what a case expects beyond its items: the swap settlement, the entitlement, trial
selections and the transition fees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.cases.values import Ref, _ValueReader, where, where_en
from anju.policy.swap import Flat

SETTLEMENT_MONEY = ("credit", "flats_cost", "refund", "balance")
SETTLEMENT_AREAS = ("selected_area", "entitled_area")
ENTITLEMENT_KEYS = {"entitled_area", "max_area", "max_flats", "applies"}
SELECTION_KEYS = {"flats", "refused", "complete"}
TRIAL_FLAT_KEYS = {"code", "area", "type", "type_name"}
TRANSITION_KEYS = {"planned_delivery", "actual_delivery", "as_of", "expect"}
TRANSITION_MONTHS = ("normal_months", "late_months")
TRANSITION_MONEY = ("monthly", "late_monthly", "total")


@dataclass(slots=True)
class TrialSelection:
    """A trial selection of a case: the flats, the rules it is expected to break, whether complete."""

    flats: list[Flat]
    refused: list[str]
    complete: bool = True


@dataclass(slots=True)
class TransitionCase:
    """A case's transition fees: the delivery dates and the expected values (money in fen)."""

    planned_delivery: date
    actual_delivery: date | None
    as_of: date | None
    expect: dict[str, int | bool | date | None]


class _ExpectReader(_ValueReader):
    """Reads the expectations of a case beyond its items."""

    def settlement(self, value: Any, path: tuple[Any, ...]) -> dict[str, int | Decimal] | None:
        d = self.fields(value, path, {*SETTLEMENT_MONEY, *SETTLEMENT_AREAS})
        if d is None:
            return None
        self.refs.append(Ref("settlement", "", path))
        out: dict[str, int | Decimal] = {}
        for k in SETTLEMENT_MONEY:
            if k in d and (fen := self.fen(d[k], (*path, k), negative=True)) is not None:
                out[k] = fen
        for k in SETTLEMENT_AREAS:
            if k in d and (a := self.area(d[k], (*path, k))) is not None:
                out[k] = a
        return out

    def entitlement(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        d = self.fields(value, path, ENTITLEMENT_KEYS)
        if d is None:
            return None
        self.refs.append(Ref("entitlement", "", path))
        out: dict[str, Any] = {}
        for k in ("entitled_area", "max_area"):
            if k in d and (a := self.area(d[k], (*path, k))) is not None:
                out[k] = a
        if "max_flats" in d:  # null: no limit
            out["max_flats"] = (
                None if d["max_flats"] is None else self.count(d["max_flats"], (*path, "max_flats"))
            )
        if "applies" in d:
            names = self.names(d["applies"], (*path, "applies"))
            for j, rid in enumerate(names or []):
                self.refs.append(Ref("rule", rid, (*path, "applies", j)))
            out["applies"] = names or []
        return out

    def selection(self, value: Any, path: tuple[Any, ...]) -> TrialSelection | None:
        d = self.fields(value, path, SELECTION_KEYS)
        if d is None:
            return None
        self.refs.append(Ref("entitlement", "", path))
        flats = []
        for j, f in enumerate(self.items_of(d.get("flats"), (*path, "flats")) or []):
            fp = (*path, "flats", j)
            fd = self.fields(f, fp, TRIAL_FLAT_KEYS)
            if fd is None:
                continue
            code = self.text(fd.get("code"), (*fp, "code"), required=True)
            area = self.area(fd.get("area"), (*fp, "area")) if fd.get("area") is not None else None
            if fd.get("area") is None:
                self.err(fp, "missing", f"{where(fp)} 缺少面积 area", f"{where_en(fp)} has no area")
            ftype = self.text(fd.get("type"), (*fp, "type")) or ""
            tname = self.text(fd.get("type_name"), (*fp, "type_name")) or ""
            if code is not None and area is not None:
                flats.append(Flat(code, area, ftype, flat_type_name=tname))
        refused = self.names(d.get("refused"), (*path, "refused")) or []
        for j, rid in enumerate(refused):
            self.refs.append(Ref("rule", rid, (*path, "refused", j)))
        complete = self.flag(d["complete"], (*path, "complete")) if d.get("complete") is not None else True
        return TrialSelection(flats, refused, bool(complete))

    def transition(self, value: Any, path: tuple[Any, ...]) -> TransitionCase | None:
        d = self.fields(value, path, TRANSITION_KEYS)
        if d is None:
            return None
        self.refs.append(Ref("transition", "", path))
        planned = None
        if d.get("planned_delivery") is None:
            self.err(
                path,
                "missing",
                f"{where(path)} 缺少计划交房日 planned_delivery",
                f"{where_en(path)} needs planned_delivery",
            )
        else:
            planned = self.day(d["planned_delivery"], (*path, "planned_delivery"))
        actual = (
            self.day(d["actual_delivery"], (*path, "actual_delivery"))
            if d.get("actual_delivery") is not None
            else None
        )
        until = self.day(d["as_of"], (*path, "as_of")) if d.get("as_of") is not None else None
        expect: dict[str, int | bool | date | None] = {}
        ep = (*path, "expect")
        e = (
            self.fields(d["expect"], ep, {*TRANSITION_MONTHS, *TRANSITION_MONEY, "final", "applies", "due"})
            if d.get("expect") is not None
            else {}
        )
        for k, v in (e or {}).items():
            got: int | bool | date | None = None
            if k in TRANSITION_MONTHS:
                got = self.count(v, (*ep, k), high=12_000)
            elif k in TRANSITION_MONEY:
                got = self.fen(v, (*ep, k))
            elif k in ("final", "applies"):
                got = self.flag(v, (*ep, k))
            elif k == "due" and v is None:  # expected unknown
                expect["due"] = None
            elif k == "due":
                got = self.day(v, (*ep, k))
            if got is not None:
                expect[str(k)] = got
        return None if planned is None else TransitionCase(planned, actual, until, expect)

    # ------------------------------------------------------------------ group facts and measures
