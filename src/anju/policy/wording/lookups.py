"""Sheet in words part: what a band, a sign/vacate rate, a group measure or a tier looked up, in
words, and conditions."""

from __future__ import annotations

from typing import Any

from anju.core.dates import DayCount
from anju.policy.expr import Binary, Bool, BoolOp, Call, Compare, Index, Name, Node, Not, Num, Str
from anju.policy.facts import LABELS_ZH
from anju.policy.wording.base import WordingBase
from anju.policy.wording.words import (
    _CJK,
    _COMPARE_WORDS,
    _EVENT_WORDS,
    _NEGATED,
    _OPS,
    COLLECTION_WORDS,
    BandHit,
    MeasureHit,
    RateHit,
    TierHit,
    clean_label,
    date_text,
    percent,
    quantity,
    window_text,
)


class WordingLookups(WordingBase):
    """Bands, rates, group measures, tiers and conditions in words."""

    def _band_label(self, hit: BandHit) -> str:
        if hit.window is None:
            return "其他"
        raw = (
            (self.p.raw or {}).get("parameters", {}).get(hit.param, {})
            if isinstance(self.p.raw, dict)
            else {}
        )
        for spec in [raw, *(raw.get("dated") or [])] if isinstance(raw, dict) else []:
            for b in (spec.get("bands") or []) if isinstance(spec, dict) else []:
                if not isinstance(b, dict) or not b.get("label"):
                    continue
                if (b.get("after"), b.get("upto")) == (hit.window.after, hit.window.upto):
                    label = clean_label(str(b["label"]), "", "", remark=True)
                    if label:
                        return label
        return window_text(hit.window, str(hit.x_unit) if not hit.x_unit.dimensionless else "")

    def rate_text(self, hit: RateHit) -> str:
        if hit.scope == "project":
            where = "全项目"
        elif hit.scope == "block":
            where = "本区块"
        else:
            where = f"本{hit.scope}" if _CJK.search(hit.scope) else "本区块"
        what = "签约率" if hit.what == "sign" else "腾空率"
        when = f"截至{date_text(hit.as_of)}" if hit.as_of is not None else "截至期限"
        by = {"certificate": "（按证数计）", "area": "（按合法面积计）"}.get(hit.basis, "")
        return f"{where}{when}的{what}{by} {percent(hit.rate)}"

    def measure_text(self, hit: MeasureHit) -> str:
        """An office-set measure in words: where, as of when, its value and who set it."""
        if hit.scope == "project":
            where = "全项目"
        else:
            where = f"本{hit.scope}" if _CJK.search(hit.scope) else "本区块"
        when = f"截至{date_text(hit.as_of)}" if hit.as_of is not None else "截至期限"
        shown = percent(hit.value) if hit.percent else quantity(hit.value, hit.unit)
        return f"{where}{when}的{hit.label}（办公室认定） {shown}"

    def tier_line(self, hit: TierHit) -> str:
        t = hit.tier
        unit_pct = "%" in t.unit_text
        event = "签约" if t.event == "sign_on" else "腾空"
        value = quantity(hit.value, t.unit, unit_pct)
        label = self.tier_label(t.name)
        if hit.event_on is None or hit.day is None:
            return f"尚未{event}，{label}按 {value}计"
        start = "次日" if t.count is DayCount.NEXT_DAY_IS_DAY_1 else "当日"
        clock = f"{self.clock_label(t.clock)}（{date_text(hit.clock_on)}）"
        if hit.day < 1:
            head = f"{date_text(hit.event_on)}{event}，早于{clock}"
        else:
            head = f"{date_text(hit.event_on)}{event}，为{clock}{start}起第 {hit.day} 日"
        if hit.window is None:
            return f"{head}，不在任何奖励时段内，{label}按 {value}计"
        window = clean_label(hit.window.label, "", window_text(hit.window.window, "日"), remark=True)
        return f"{head}，落在“{window}”，{label} {value}"

    # -- labels only (inside aggregates and conditions on each element)

    def label_only(self, n: Node) -> str:
        """The expression in words without values (for what is summed or counted per element)."""
        if isinstance(n, Binary):
            return self.label_only(n.left) + _OPS[n.op] + self.label_only(n.right)
        if isinstance(n, Name):
            ref: tuple[Any, ...] = n.ref or ("?",)
            if ref[0] == "field":
                return self.field_label(ref[1], ref[2])
            if ref[0] == "param":
                return self.param_label(ref[1])
            if ref[0] == "derived":
                return self.derived_label(ref[1])
            if ref[0] == "tier":
                return self.tier_label(ref[1])
            if ref[0] == "item":
                return self.item_label(ref[1])
            if ref[0] == "subtotal":
                return self.subtotal_label(ref[1])
            if ref[0] == "clock":
                return self.clock_label(ref[1])
            if ref[0] == "fact":
                return self.fact_label(ref[1])
            if ref[0] == "option":
                return "补偿方式"
        if isinstance(n, Index):
            return self.param_label(n.ref[1] if n.ref else n.name.parts[0])
        if isinstance(n, Num):
            return self._num(n)
        if isinstance(n, Str):
            return LABELS_ZH.get(n.value, n.value)
        if isinstance(n, Compare):
            left, right = self.label_only(n.left), self.label_only(n.right)
            return f"{left}{_COMPARE_WORDS[n.op]}{right}"
        if isinstance(n, BoolOp):
            return self.label_only(n.left) + ("且" if n.op == "and" else "或") + self.label_only(n.right)
        if isinstance(n, Not):
            return "非" + self.label_only(n.operand)
        if isinstance(n, Call) and n.args:
            return self.label_only(n.args[0])
        return "相应数量"

    # -- conditions (with the truth they had)

    def condition(self, n: Node, truth: bool) -> str:
        """A condition in words, as it turned out: ``用途为住宅，不是营业``, ``本片区…签约率 90% 不低于 …``."""
        if isinstance(n, Compare):
            op = n.op if truth else _NEGATED[n.op]
            left_v = self.val(n.left)
            if isinstance(n.left, Name) and n.left.ref == ("option",) and isinstance(n.right, Str):
                shown, expected = (
                    self.p.options.get(str(left_v), str(left_v)),
                    self.p.options.get(n.right.value, n.right.value),
                )
                same = (n.op == "==") == truth
                return f"补偿方式为{shown}" if same else f"补偿方式为{shown}，不是{expected}"
            if isinstance(left_v, str) and isinstance(n.left, Name):
                label = self.label_only(n.left)
                shown = quantity(left_v)
                expected = self.phrase(n.right)
                if n.op == "==":
                    return f"{label}为{shown}" if truth else f"{label}为{shown}，不是{expected}"
                return f"{label}为{shown}，不是{expected}" if truth else f"{label}为{shown}"
            return f"{self.side(n.left, n.right)} {_COMPARE_WORDS[op]} {self.side(n.right, n.left)}"
        if isinstance(n, BoolOp):
            lt, rt = bool(self.val(n.left)), bool(self.val(n.right))
            if n.op == "and":
                if truth:
                    return f"{self.condition(n.left, True)}，且{self.condition(n.right, True)}"
                parts = [self.condition(x, t) for x, t in ((n.left, lt), (n.right, rt)) if not t]
                return "；".join(parts)
            if truth:
                parts = [self.condition(x, t) for x, t in ((n.left, lt), (n.right, rt)) if t]
                return "；".join(parts)
            return f"{self.condition(n.left, False)}，且{self.condition(n.right, False)}"
        if isinstance(n, Not):
            return self.condition(n.operand, not truth)
        if isinstance(n, Call):
            f = n.func
            if f == "any":
                coll = n.args[0].parts[0] if isinstance(n.args[0], Name) else "members"
                who = COLLECTION_WORDS.get(coll, "各项")
                where = n.kwargs.get("where")
                what = self.label_only(where) if where is not None else "登记"
                return f"{who}中{'有' if truth else '没有'}{what}的"
            if f == "known":
                arg = n.args[0]
                ref = arg.ref if isinstance(arg, Name) else None
                if ref and ref[0] == "field" and ref[1] == "household":
                    event = _EVENT_WORDS.get(ref[2], "腾空")
                    day = getattr(self.h, ref[2], None)
                    return f"已于{date_text(day)}{event}" if truth and day else f"尚未{event}"
                return f"{'有' if truth else '没有'}{self.label_only(arg)}"
            if f == "flag":
                flag = n.args[0].value if isinstance(n.args[0], Str) else ""
                return f"{'有' if truth else '没有'}“{flag}”标记"
        if isinstance(n, Name) and n.ref and n.ref[0] == "field":
            label = self.field_label(n.ref[1], n.ref[2])
            return label if truth else f"非{label}"
        if isinstance(n, Name) and n.ref and n.ref[0] == "fact":
            label = self.fact_label(n.ref[1])
            return label if truth else f"非{label}"
        if isinstance(n, Bool):
            return "总是适用" if n.value else "不适用"
        return "条件成立" if truth else "条件不成立"
