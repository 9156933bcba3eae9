"""Sheet in words part: the lines of an item (amount, ``if``, floor, cap, not applicable), the
assembled :class:`Wording`, subtotals, rounding and certificates."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from anju.core.money import RoundingMode, RoundingUnit, format_yuan
from anju.policy.check import Checked
from anju.policy.expr import Binary, If, Name, Node, Num, Unary
from anju.policy.wording.lookups import WordingLookups
from anju.policy.wording.phrases import WordingPhrases
from anju.policy.wording.words import ROUNDING_UNIT_WORDS, ROUNDING_WORDS, TierHit, clean_label, money


class Wording(WordingPhrases, WordingLookups):
    """Renders formulas of one checked policy for one household, from recorded node values and hits.

    ``values`` and ``hits`` are the evaluator's records of the evaluation just made; ``extra``
    collects the explanation lines (tiers, bands, derived quantities) a phrase calls for.
    """

    # -- whole lines

    def amount_line(self, node: Node, raw: Decimal) -> list[str]:
        """The item's main line, ``… = X 元``, and the explanation lines it calls for."""
        self.extra = []
        if (
            isinstance(node, Name)
            and node.ref
            and node.ref[0] == "tier"
            and isinstance(self.hits.get(node), TierHit)
        ):
            self.phrase(node)
            return list(self.extra)  # the tier's line says it all
        if isinstance(node, Binary) and node.op == "+":
            terms = self._addends(node)
            if len(terms) == 1:
                node = terms[0]
        if isinstance(node, If):
            line = self._if_line(node, raw)
        else:
            text = self.phrase(node)
            line = text if self._single(node) else f"{text} = {money(raw)}"
        return [line, *self.extra]

    def _single(self, node: Node) -> bool:
        """A formula of one term shows its value already (no ``= X`` after it)."""
        if isinstance(node, Num):
            return True
        if isinstance(node, Binary | Unary | If):
            return False
        v = self.val(node)
        return isinstance(v, Decimal) and node.ty is not None and str(node.ty.unit) == "元"

    def _if_line(self, node: If, raw: Decimal) -> str:
        for cond, branch in node.branches:
            if self.val(cond):
                reason = self.condition(cond, True)
                return self._then(reason, branch, raw)
        reason = "；".join(self.condition(c, False) for c, _ in node.branches)
        return self._then(reason, node.orelse, raw)

    def _then(self, reason: str, branch: Node, raw: Decimal) -> str:
        if isinstance(branch, Num) or self._single(branch):
            return f"{reason}，计 {money(raw)}"
        if isinstance(branch, If):
            return f"{reason}；{self._if_line(branch, raw)}"
        return f"{reason}，{self.phrase(branch)} = {money(raw)}"

    def floor_line(self, node: Node, value: Decimal) -> str:
        """A floor that lifted the amount: ``低于最低标准，按不低于 … 计 X 元``."""
        self.extra = []
        return f"低于最低标准，按“不低于{self.phrase(node)}”计 {money(value)}"

    def cap_line(self, node: Node, value: Decimal) -> str:
        """A cap that lowered the amount."""
        self.extra = []
        return f"超过最高标准，按“不超过{self.phrase(node)}”计 {money(value)}"

    def not_applicable(self, node: Node | None) -> str:
        """Why the item (or a certificate's part) does not apply."""
        if node is None:
            return "不适用"
        return f"不适用：{self.condition(node, False)}"


def subtotal_sentence(
    checked: Checked, name: str, parts: list[str], item_fen: Mapping[str, int], option: str, amount: int
) -> str:
    """A subtotal in words: ``房屋补偿小计 = 房屋价值 1,000.00 元 + 装修补偿 200.00 元 = 1,200.00 元``
    (``parts``: the items and subtotals it lists that are present under ``option``)."""

    def label(p: str) -> str:
        if p in checked.subtotals:
            return clean_label(checked.subtotals[p].label, p, "小计")
        return clean_label(checked.items[p].label, p, "相关补偿")

    terms = []
    for p in parts:
        fen = (
            sum(item_fen.get(i, 0) for i in checked.subtotal_items(p, option))
            if p in checked.subtotals
            else item_fen.get(p, 0)
        )
        terms.append(f"{label(p)} {format_yuan(fen)} 元")
    return f"{label(name)} = {' + '.join(terms) or '0'} = {format_yuan(amount)} 元"


def rounding_line(mode: RoundingMode, unit: RoundingUnit, fen: int) -> str:
    """Rounding that changed the amount: ``四舍五入到分，计 X 元``."""
    return f"{ROUNDING_WORDS[mode]}到{ROUNDING_UNIT_WORDS[unit]}，计 {format_yuan(fen)} 元"


def certificate_lines(no: str, lines: list[str], several: bool) -> list[str]:
    """A certificate's lines, prefixed with its number when the household has several."""
    if not several:
        return lines
    return [f"证 {no}：{lines[0]}", *lines[1:]] if lines else []


def unique(lines: list[str]) -> list[str]:
    """Lines in order, each once."""
    seen: set[str] = set()
    out = []
    for line in lines:
        if line and line not in seen:
            seen.add(line)
            out.append(line)
    return out
