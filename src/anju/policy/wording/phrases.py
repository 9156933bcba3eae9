"""Sheet in words part: the phrase of a formula node per construct (arithmetic, names, declared
facts, lookups, calls, dates and ``pick``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from anju.policy.expr import Binary, Bool, BoolOp, Call, Compare, If, Index, Name, Node, Not, Num, Str, Unary
from anju.policy.facts import LABELS_ZH
from anju.policy.wording.base import WordingBase
from anju.policy.wording.words import (
    _OPS,
    _PREC,
    COLLECTION_WORDS,
    BandHit,
    MeasureHit,
    PickHit,
    RateHit,
    TierHit,
    _group,
    _plain,
    clean_label,
    date_text,
    money,
    quantity,
)


class WordingPhrases(WordingBase):
    """Phrases per construct: arithmetic, names, facts, lookups, calls, dates and ``pick``."""

    # -- phrases (expressions with their values)

    def phrase(self, n: Node, outer: int = 0) -> str:
        """The expression in words with its values; ``outer`` is the binding of the context."""
        if isinstance(n, Binary):
            prec = _PREC[n.op]
            if n.op == "+":
                terms = self._addends(n)
                text = " + ".join(self.phrase(t, prec + 1) for t in terms)
                inner = prec if len(terms) > 1 else 99
            else:
                text = self.phrase(n.left, prec) + _OPS[n.op] + self.phrase(n.right, prec + 1)
                inner = prec
            return f"（{text}）" if inner < outer else text
        if isinstance(n, Unary):
            return "−" + self.phrase(n.operand, 3)
        if isinstance(n, Num):
            return self._num(n)
        if isinstance(n, Str):
            return LABELS_ZH.get(n.value, n.value)
        if isinstance(n, Bool):
            return "是" if n.value else "否"
        if isinstance(n, Name):
            return self._name(n)
        if isinstance(n, Index):
            return self._index(n)
        if isinstance(n, Call):
            text = self._call(n)
            return f"（{text}）" if outer >= 2 and n.func in ("min", "max", "clamp") else text
        if isinstance(n, If):
            for cond, branch in n.branches:
                if self.val(cond):
                    return f"{self.phrase(branch, outer)}（{self.condition(cond, True)}）"
            reasons = "，".join(self.condition(c, False) for c, _ in n.branches)
            return f"{self.phrase(n.orelse, outer)}（{reasons}）"
        if isinstance(n, Compare | BoolOp | Not):
            return self.condition(n, bool(self.val(n)))
        return self.qty(n)

    def _addends(self, n: Node) -> list[Node]:
        """The terms of a sum; those worth 0 are left out when any is not (the family sees what counts)."""
        terms: list[Node] = []

        def flat(x: Node) -> None:
            if isinstance(x, Binary) and x.op == "+":
                flat(x.left)
                flat(x.right)
            else:
                terms.append(x)

        flat(n)
        kept = [t for t in terms if not (isinstance(self.val(t), Decimal) and self.val(t) == 0)]
        return kept or terms[:1]

    def _num(self, n: Num) -> str:
        return quantity(n.value, n.unit, False) if n.unit is not None else _plain(n.value)

    def _name(self, n: Name) -> str:
        ref: tuple[Any, ...] = n.ref or ("?",)
        kind = ref[0]
        v = self.val(n)
        if kind == "field":
            label = self.field_label(ref[1], ref[2])
            if isinstance(v, bool):
                return label if v else f"非{label}"
            return f"{label} {self.qty(n)}"
        if kind == "param":
            p = self.p.params[ref[1]]
            return f"{self.param_label(ref[1])} {quantity(v, p.unit, p.percent)}"
        if kind == "clock":
            return (
                f"{self.clock_label(ref[1])}（{date_text(v)}）"
                if isinstance(v, date)
                else self.clock_label(ref[1])
            )
        if kind == "tier":
            t = self.p.tiers[ref[1]]
            hit = self.hits.get(n)
            if isinstance(hit, TierHit):
                self.extra.append(self.tier_line(hit))
            return f"{self.tier_label(ref[1])} {quantity(v, t.unit, '%' in t.unit_text)}"
        if kind == "derived":
            name = ref[1]
            d = self.p.derived[name]
            if d.formula.node is not None and not isinstance(d.formula.node, Name | Call | Num):
                at = len(self.extra)  # the quantity's own line before the lines its parts call for
                line = f"{self.derived_label(name)}：{self.phrase(d.formula.node)} = {self.qty(n)}"
                self.extra.insert(at, line)
            return f"{self.derived_label(name)} {self.qty(n)}"
        if kind == "item":
            return f"{self.item_label(ref[1])} {money(v) if isinstance(v, Decimal) else self.qty(n)}"
        if kind == "fact":
            return self.fact_phrase(ref[1], v)
        if kind == "subtotal":
            return f"{self.subtotal_label(ref[1])} {money(v) if isinstance(v, Decimal) else self.qty(n)}"
        if kind == "option":
            return f"补偿方式“{self.p.options.get(str(v), v)}”"
        return self.qty(n)

    def fact_label(self, fid: str) -> str:
        d = self.p.facts[fid]
        return clean_label(d.label, fid, "方案事实", remark=True)

    def fact_phrase(self, fid: str, v: Any) -> str:
        """A declared fact with its value as recorded: ``空调数量 3 台``, ``认定奖励面积 12.50 ㎡``."""
        d = self.p.facts[fid]
        label = self.fact_label(fid)
        if isinstance(v, bool):
            return label if v else f"非{label}"
        if v is None:
            return f"{label}（未登记）"
        if isinstance(v, date):
            return f"{label}（{date_text(v)}）"
        if isinstance(v, Decimal):
            text = _group(format(v.quantize(Decimal(1).scaleb(-d.places)), "f"))
            if d.unit_text == "元":
                return f"{label} {money(v)}"
            return f"{label} {text} {d.unit_text}" if d.unit_text else f"{label} {text}"
        return f"{label} {quantity(v)}"

    def _index(self, n: Index) -> str:
        name = n.ref[1] if n.ref else n.name.parts[0]
        p = self.p.params[name]
        dims = [clean_label(k, k, "") for k in p.keys]
        keys = []
        for i, k in enumerate(n.keys):
            kv = self.val(k)
            shown = quantity(kv) if kv is not None else self.phrase(k)
            dim = dims[i] if i < len(dims) else ""
            keys.append(f"{dim}{shown}" if dim and dim not in shown else shown)
        return f"{self.param_label(name)}（{'，'.join(keys)}）{quantity(self.val(n), p.unit, p.percent)}"

    def _call(self, n: Call) -> str:
        f = n.func
        a = n.args
        v = self.val(n)
        hit = self.hits.get(n)
        if isinstance(hit, BandHit):
            p = self.p.params[hit.param]
            band = self._band_label(hit)
            x = quantity(hit.x, hit.x_unit)
            self.extra.append(
                f"{self.label_only(a[0])} {x}，落在“{band}”这一档，{self.param_label(hit.param)} "
                f"{quantity(hit.value, p.unit, p.percent)}"
            )
            return f"{self.param_label(hit.param)} {quantity(v, p.unit, p.percent)}"
        if isinstance(hit, RateHit):
            return self.rate_text(hit)
        if isinstance(hit, MeasureHit):
            return self.measure_text(hit)
        if isinstance(n.ref, tuple) and n.ref[0] == "pick":
            return self._pick(n)
        if f in ("days_between", "months_between", "add_months", "add_days"):
            return self._date_call(n)
        if f == "max" and len(a) == 2 and any(isinstance(x, Num) and x.value == 0 for x in a):
            other = a[1] if isinstance(a[0], Num) and a[0].value == 0 else a[0]
            inner = self.phrase(other)
            return f"{inner} = {self.qty(n)}" if self.val(n) != 0 else f"{inner}，不足按 0 计"
        if f in ("min", "max"):
            word = "较小者" if f == "min" else "较大者"
            return f"{' 与 '.join(self.phrase(x) for x in a)} 取{word} {self.qty(n)}"
        if f == "clamp":
            return f"{self.phrase(a[0])}，限定在 {self.phrase(a[1])} 至 {self.phrase(a[2])} 之间，取 {self.qty(n)}"
        if f == "floor":
            return f"{self.phrase(a[0], 3)} 取整数部分 {self.qty(n)}"
        if f == "round":
            return f"{self.phrase(a[0], 3)} 保留 {self._num(a[1]) if isinstance(a[1], Num) else ''} 位小数 {self.qty(n)}"
        if f == "abs":
            return f"{self.phrase(a[0], 3)} 的绝对值 {self.qty(n)}"
        if f in ("sum", "count"):
            coll = a[0].parts[0] if isinstance(a[0], Name) else "members"
            where = n.kwargs.get("where")
            who = COLLECTION_WORDS.get(coll, "各项")
            cond = f"中{self.label_only(where)}的" if where is not None else ""
            if f == "count":
                return f"{who}{cond} {self.qty(n)}"
            what = self.label_only(a[1])
            what = f"“{what}”" if isinstance(a[1], Binary) else what
            return f"{who}{cond}{what}合计 {self.qty(n)}"
        if f == "points_above":
            return f"超出{self.label_only(a[1])}的整百分点数 {self.qty(n)}"
        if f in ("any", "known", "flag"):
            return self.condition(n, bool(v))
        if f == "date":
            return date_text(v) if isinstance(v, date) else "日期"
        return self.qty(n)

    def _date_text(self, n: Node) -> str:
        v = self.val(n)
        label = self.label_only(n) if isinstance(n, Name) else ""
        label = "" if label == "相应数量" else label
        shown = date_text(v) if isinstance(v, date) else "（日期未知）"
        return f"{label}（{shown}）" if label else shown

    def _date_call(self, n: Call) -> str:
        """``自A（2025年6月1日）至B（2026年1月15日）共 8 月（不满一月按一月计）``."""
        a, b = n.args
        if n.func == "add_months":
            v = self.val(n)
            return f"{self._date_text(a)}后 {self.qty(b)} 即 {date_text(v) if isinstance(v, date) else '（日期未知）'}"
        if n.func == "add_days":
            v = self.val(n)
            days = int(self.val(b) or 0)
            when = date_text(v) if isinstance(v, date) else "（日期未知）"
            return f"{self._date_text(a)}{'后' if days >= 0 else '前'} {abs(days)} 日即 {when}"
        on = bool(n.ref[1]) if n.ref else False
        if n.func == "days_between":
            conv = "首尾两日都计" if on else "不计首日"
        else:
            conv = "不满一月按一月计" if on else "只计满月"
        return f"自{self._date_text(a)}至{self._date_text(b)}共 {self.qty(n)}（{conv}）"

    def _pick(self, n: Call) -> str:
        """``各证中层数高于1的合法面积最大者 70.00 ㎡`` / ``按层数从高到低，家庭成员中第一位的…``."""
        f = n.func
        coll = n.args[0].parts[0] if isinstance(n.args[0], Name) else ""
        who = COLLECTION_WORDS.get(coll, "各项")
        where = n.kwargs.get("where")
        cond = f"中{self.label_only(where)}的" if where is not None else "中"
        what = self.label_only(n.args[1])
        if f == "first":
            order = n.kwargs.get("order")
            desc = isinstance(n.kwargs.get("desc"), Bool)
            by = (
                f"按{self.label_only(order)}{'从高到低' if desc else '从低到高'}，"
                if order is not None
                else ""
            )
            text = f"{by}{who}{cond}第一个的{what} {self.qty(n)}"
        else:
            text = f"{who}{cond}{what}{'最大' if f == 'max' else '最小'}者 {self.qty(n)}"
        hit = self.hits.get(n)
        if isinstance(hit, PickHit) and hit.selected == 0:
            none = (
                f"{who}中没有{self.label_only(where)}的（共 {hit.total} 个）"
                if where is not None
                else f"没有{who}"
            )
            return f"{none}，按 {self.qty(n)} 计"
        return text
