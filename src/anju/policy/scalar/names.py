"""Scalar evaluator part: names, fields of household objects, declared facts, chosen flats,
tiers, table/band lookups and the blocks of a scope."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from anju.core.dates import day_number
from anju.policy.declared import building_place, lenient, member_place
from anju.policy.errors import EvaluationError
from anju.policy.expr import Index, Name, Node
from anju.policy.facts import EVENT_DATES, Building, ChosenFlat, Member, Tenant, flat_ready
from anju.policy.scalar.core import ScalarEvaluatorBase
from anju.policy.scalar.results import fmt
from anju.policy.wording import TierHit


class ScalarEvaluatorNames(ScalarEvaluatorBase):
    """Names, fields, facts, chosen flats, tiers, lookups and scopes."""

    def name(self, n: Name, el: Any) -> Any:
        ref = n.ref
        kind = ref[0]
        if kind == "field":
            v = self.field(ref[1], ref[2], el)
            self.note(n, v)
            return v
        if kind == "param":
            v = self.r.param(ref[1], self.path)
            if self.steps is not None:
                p = self.c.policy.params[ref[1]]
                self.note(n, v, f"{p.label}{'（' + p.ref + '）' if p.ref else ''}")
            return v
        if kind == "clock":
            return self.r.clock(ref[1], self.path)
        if kind == "tier":
            return self.tier(n, ref[1], el)
        if kind == "derived":
            name = ref[1]
            if name not in self.derived:
                saved_f, saved_s = self.formula, self.steps
                self.steps = None
                d = self.c.policy.derived[name]
                self.derived[name] = self.run(d.formula, None)
                self.formula, self.steps = saved_f, saved_s
            v = self.derived[name]
            self.note(n, v, self.c.policy.derived[name].label)
            return v
        if kind == "fact":
            v = self.fact(ref[1], el)
            if self.steps is not None:
                decl = self.c.policy.facts[ref[1]]
                self.note(n, v, f"{decl.label}{'（' + decl.ref + '）' if decl.ref else ''}")
            return v
        if kind == "option":
            self.note(n, self.option, self.c.policy.options.get(self.option, ""))
            return self.option
        if kind == "item":
            fen = self.item_fen.get(ref[1])
            if fen is None:
                raise EvaluationError(
                    "item-order", f"项目“{ref[1]}”尚未计算", f"item '{ref[1]}' not evaluated yet"
                )
            v = Decimal(fen).scaleb(-2)
            self.note(n, v, self.c.items[ref[1]].label)
            return v
        if kind == "subtotal":
            v = self.subtotal_value(ref[1])
            if self.steps is not None:
                option = self.option or ""
                parts = "、".join(self.c.subtotal_items(ref[1], option)) if option else ""
                self.note(n, v, f"{self.c.subtotals[ref[1]].label}（小计：{parts}）")
            return v
        raise AssertionError(ref)

    def field(self, obj: str, attr: str, el: Any) -> Any:
        h = self.h
        if obj == "household":
            if attr == "block":
                return h.block_code
            if attr == "kind":
                return h.kind.value
            if attr == "sign_on":
                return h.sign_on
            if attr == "vacate_on":
                return h.vacate_on
            if attr == "has_homestead":
                return h.homestead is not None
            if attr == "chosen_flats_area":
                return h.chosen_flats_area
            if attr == "purchase_total":
                return Decimal(h.purchase_total_fen).scaleb(-2)
            if attr in EVENT_DATES:
                return getattr(h, attr)
        if obj == "homestead":
            if h.homestead is None:
                return Decimal(0)
            if attr == "area":
                return h.homestead.area
            return Decimal(h.homestead.approved_year or 0)
        if obj == "building":
            b: Building = el
            if attr in ("legal_area", "unregistered_area"):
                return getattr(b, attr)
            if attr in ("structure", "use", "unregistered_determination"):
                return getattr(b, attr).value
            if attr in ("floors", "built_year"):
                return Decimal(getattr(b, attr))
            fen = getattr(b, attr + "_fen")
            if fen is None:
                self.warn(f"证 {b.certificate_no} 缺少 {attr}，按 0 计 / missing {attr}, taken as 0")
                return Decimal(0)
            return Decimal(fen).scaleb(-2)
        if obj == "member":
            m: Member = el
            if attr == "disabled":
                return m.disability_grade is not None
            if attr == "disability_grade":
                return Decimal(m.disability_grade or 0)
            return getattr(m, attr)
        if obj == "tenant":
            t: Tenant = el
            return t.area if attr == "area" else t.kind.value
        if obj == "flat":
            return self.flat_field(el, attr)
        raise AssertionError((obj, attr))

    def fact(self, fid: str, el: Any = None) -> Any:
        """A declared fact's typed value (of the household, or of the building / member ``el`` for
        a building- or member-level fact); a missing optional one reads as 0 / no / none."""
        d = self.c.policy.facts[fid]
        v = lenient(d, self.fact_raw(fid, el))
        if v is not None:
            return v
        if d.numeric:
            if d.level == "building":
                where = building_place(el.certificate_no, self.h.buildings.index(el))[0]
                self.warn(f"{where} 缺少{d.label}，按 0 计 / missing {fid}, taken as 0")
            elif d.level == "member":
                where = member_place(el.name, self.h.members.index(el))[0]
                self.warn(f"{where} 缺少{d.label}，按 0 计 / missing {fid}, taken as 0")
            else:
                self.warn(f"缺少{d.label}，按 0 计 / missing {fid}, taken as 0")
            return Decimal(0)
        return False if d.type == "yesno" else None

    def fact_raw(self, fid: str, el: Any) -> Any:
        """A declared fact as given: the household's, or the building's / member's ``el``."""
        level = self.c.policy.facts[fid].level
        if level == "household":
            return self.h.facts.get(fid)
        return el.facts.get(fid)

    def flat_field(self, f: ChosenFlat, attr: str) -> Any:
        """A field of a selected flat (a missing price reads as 0, with a warning)."""
        if attr == "area":
            return f.area
        if attr == "floor":
            return Decimal(f.floor)
        if attr in ("building", "code"):
            return getattr(f, attr)
        if attr == "type":
            return f.flat_type
        if attr == "ready":
            return flat_ready(f, self.as_of)
        if attr == "rise":
            if not f.rise:
                self.warn(f"房源 {f.code} 未登记楼型（多层/高层） / flat {f.code}: no rise recorded")
            return f.rise
        fen = getattr(f, attr + "_fen")
        if fen is None:
            self.warn(f"房源 {f.code} 缺少 {attr}，按 0 计 / flat {f.code}: missing {attr}, taken as 0")
            return Decimal(0)
        return Decimal(fen).scaleb(-2)

    def tier(self, n: Node, name: str, el: Any) -> Decimal:
        t = self.c.policy.tiers[name]
        event = self.h.sign_on if t.event == "sign_on" else self.h.vacate_on
        clock = self.r.clock(t.clock, self.path)
        if self.values is not None:
            day_n = None if event is None else day_number(clock, event, t.count)
            hit = None if day_n is None else next((w for w in t.windows if w.window.contains(day_n)), None)
            self.hits[n] = TierHit(t, event, clock, day_n, hit, t.otherwise if hit is None else hit.value)
        if event is None:
            self.note(
                n,
                t.otherwise,
                f"{t.label}：无{'签约' if t.event == 'sign_on' else '腾空'}日期，取 otherwise / no event date",
            )
            return t.otherwise
        day = day_number(clock, event, t.count)
        for w in t.windows:
            if w.window.contains(day):
                self.note(
                    n,
                    w.value,
                    f"{t.label}：{event} 为自 {clock} 起第 {day} 日（{t.count.value}），落在“{w.label}” / day {day}",
                )
                return w.value
        self.note(
            n, t.otherwise, f"{t.label}：第 {day} 日不在任何窗口内，取 otherwise / day {day} in no window"
        )
        return t.otherwise

    def index(self, n: Index, el: Any) -> Decimal:
        name = n.ref[1]
        keys = tuple(self.ev(k, el) for k in n.keys)
        table = self.r.param(name, self.path)
        v = table.get(keys)
        if v is None:
            p = self.c.policy.params[name]
            if p.default is None:
                raise EvaluationError(
                    "table-key",
                    f"表格“{name}”没有 {' / '.join(keys)} 这一项",
                    f"table '{name}' has no entry {' / '.join(keys)}",
                )
            v = p.default
        if self.steps is not None:
            p = self.c.policy.params[name]
            self.note(
                n, v, f"{p.label}[{' / '.join(fmt(k) for k in keys)}]{'（' + p.ref + '）' if p.ref else ''}"
            )
        return v  # type: ignore[no-any-return]

    def scope_block(self, scope: str) -> str | None:
        if scope == "project":
            return None
        if scope == "block":
            return self.h.block_code
        levels = self.c.policy.meta.block_levels
        i = levels.index(scope)
        if i >= len(self.path):
            raise EvaluationError(
                "scope",
                f"户 {self.h.code} 没有“{scope}”层级的片区",
                f"household {self.h.code} has no block at level '{scope}'",
            )
        return self.path[i]
