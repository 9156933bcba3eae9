"""Pure rules of resettlement flats: flat, event and order-entry states (transition tables), the
selection order (by sign order, or a lottery from a seed committed in advance) and its check.

No I/O: seeds, codes and states are passed in. The lottery formula is the public contract that
anyone may recompute (the event page, ``anju housing verify-order`` and any other tool):

    key(household) = sha256( UTF-8 bytes of  seed + "|" + household code ), as lowercase hex
    order          = households sorted by key ascending (ties, practically impossible, by code)
    commitment     = sha256( UTF-8 bytes of seed ), as lowercase hex, published before the draw
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from anju.errors import Conflict, ValidationFailed

# --------------------------------------------------------------------------- flats

FLAT_STATUSES: dict[str, str] = {
    "available": "可选",
    "frozen": "冻结",
    "reserved": "保留",
    "selected": "已选",
    "delivered": "已交付",
}
# Which status may follow which. Selections move available -> selected (and back on an undo);
# delivery moves selected -> delivered; the rest are changes by hand, with a reason.
FLAT_TRANSITIONS: dict[str, frozenset[str]] = {
    "available": frozenset({"frozen", "reserved", "selected"}),
    "frozen": frozenset({"available"}),
    "reserved": frozenset({"available"}),
    "selected": frozenset({"available", "delivered"}),
    "delivered": frozenset(),
}
# Changes a case officer may make by hand (PATCH /flats/{id}); the others belong to the selection
# and delivery services.
MANUAL_FLAT_CHANGES: frozenset[tuple[str, str]] = frozenset(
    {("available", "frozen"), ("frozen", "available"), ("available", "reserved"), ("reserved", "available")}
)
MAX_REASON = 200


def check_flat_transition(current: str, target: str, *, manual: bool) -> None:
    """Raise :class:`Conflict` (``illegal_transition``) unless a flat may go ``current -> target``
    (by hand when ``manual``)."""
    allowed = target in FLAT_TRANSITIONS.get(current, frozenset())
    if manual:
        allowed = allowed and (current, target) in MANUAL_FLAT_CHANGES
    if not allowed:
        how = "手动" if manual else ""
        raise Conflict(
            f"房源状态为“{FLAT_STATUSES.get(current, current)}”，不能{how}改为“{FLAT_STATUSES.get(target, target)}”",
            f"illegal flat transition {current} -> {target}",
            code="illegal_transition",
            details=[
                {"field": "status", "message": f"不能由“{FLAT_STATUSES.get(current, current)}”改为该状态"}
            ],
        )


def counts_by_status(statuses: Iterable[str]) -> dict[str, int]:
    """Every flat status (in the table's order) -> how many of ``statuses`` have it."""
    out = dict.fromkeys(FLAT_STATUSES, 0)
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


# --------------------------------------------------------------------------- selection events

EVENT_STATUSES: dict[str, str] = {"planned": "筹备中", "open": "进行中", "closed": "已结束"}
EVENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"open"}),
    "open": frozenset({"closed"}),
    "closed": frozenset(),
}
ORDER_KINDS: dict[str, str] = {"sign_order": "按签约顺序号", "lottery": "公开摇号"}


def check_event_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` unless a selection event may go ``current -> target``."""
    if target not in EVENT_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"选房活动状态为“{EVENT_STATUSES.get(current, current)}”，不能变为“{EVENT_STATUSES.get(target, target)}”",
            f"illegal event transition {current} -> {target}",
            code="illegal_transition",
        )


ENTRY_STATUSES: dict[str, str] = {
    "waiting": "等候",
    "current": "正在选房",
    "done": "已选房",
    "skipped": "过号",
    "absent": "未参加",
}
# A skipped (过号) household is called again at the end; absent means it does not take part
# (did not come, or its swap agreement ended after the roster was published). A done household
# whose selection a supervisor undid waits again (done -> waiting) to be called next; closing an
# event sends a current household that chose nothing back to waiting (it stays unserved).
ENTRY_TRANSITIONS: dict[str, frozenset[str]] = {
    "waiting": frozenset({"current", "absent"}),
    "current": frozenset({"done", "skipped", "absent", "waiting"}),
    "skipped": frozenset({"current", "absent"}),
    "done": frozenset({"waiting"}),
    "absent": frozenset(),
}


def check_entry_transition(current: str, target: str) -> None:
    """Raise :class:`Conflict` unless an order entry may go ``current -> target``."""
    if target not in ENTRY_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"该户选房状态为“{ENTRY_STATUSES.get(current, current)}”，不能变为“{ENTRY_STATUSES.get(target, target)}”",
            f"illegal order entry transition {current} -> {target}",
            code="illegal_transition",
        )


MAX_CLOSE_REASON = 500


def check_close(*, unserved: int, current_has_flats: bool, reason: str) -> str:
    """Whether an open event may be closed (结束选房): the reason, cleaned. With households still
    waiting, skipped or called but without a flat (``unserved``) a reason is required (they stay
    unserved, and the record says why); a called household that has chosen flats but is not
    finished blocks closing (finish it, or undo its selections). Raises :class:`Conflict` or
    :class:`ValidationFailed`."""
    why = " ".join((reason or "").split())
    if current_has_flats:
        raise Conflict(
            "正在选房的户已选定房源但尚未完成，请先完成该户选房（或撤销其选房）再结束选房",
            "the current household has selected flats but is not finished",
            code="current_not_finished",
        )
    if len(why) > MAX_CLOSE_REASON:
        msg = f"结束原因最多 {MAX_CLOSE_REASON} 字"
        raise ValidationFailed(msg, "reason too long", details=[{"field": "reason", "message": msg}])
    if unserved and not why:
        msg = f"还有 {unserved} 户未选房（等候或过号），结束选房须填写原因"
        raise ValidationFailed(msg, "reason required", details=[{"field": "reason", "message": msg}])
    return why


def confirmation_no(project_code: str, event_id: int, position: int) -> str:
    """The number printed on a household's selection confirmation (选房确认单): stable for the
    event and the household's order position, e.g. ``P1-XF3-0012``."""
    return f"{project_code}-XF{event_id}-{position:04d}"


# --------------------------------------------------------------------------- the order

MAX_SEED = 500
HEX64 = re.compile(r"^[0-9a-f]{64}$")

FORMULA_ZH = (
    "每户的摇号值 = SHA-256（种子 + “|” + 户编号，按 UTF-8 编码）的十六进制小写形式；"
    "按摇号值从小到大排列即为选房顺序（摇号值相同时按户编号）。"
    "种子的承诺值 = SHA-256（种子，UTF-8）的十六进制小写形式，于摇号前公布。"
)
FORMULA_EN = (
    'key = lowercase hex sha256(UTF-8 of seed + "|" + household code); order = ascending key (ties by code); '
    "commitment = lowercase hex sha256(UTF-8 of seed), published before the draw."
)
SIGN_ORDER_ZH = "按签约顺序号从小到大排列（签约顺序号在签约时按签约先后发放，不重复、不跳号）。"


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of ``text``'s UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_seed(seed: str) -> str:
    """The seed as the formula uses it: surrounding whitespace removed (nothing else changes).
    Raises :class:`ValidationFailed` for an empty or too long seed."""
    value = (seed or "").strip()
    if not value:
        raise ValidationFailed(
            "请填写摇号种子", "seed required", details=[{"field": "seed", "message": "种子不能为空"}]
        )
    if len(value) > MAX_SEED or any(unicodedata.category(c) == "Cc" for c in value):
        msg = f"种子最多 {MAX_SEED} 个字符，且不能含控制字符"
        raise ValidationFailed(msg, "bad seed", details=[{"field": "seed", "message": msg}])
    return value


def seed_commitment(seed: str) -> str:
    """The commitment published before the draw: lowercase hex sha256 of the seed."""
    return sha256_hex(seed)


def clean_commitment(value: str) -> str:
    """A commitment as given (hex, any case, surrounding space) -> lowercase; refuse anything else."""
    v = (value or "").strip().lower()
    if not HEX64.match(v):
        msg = "种子承诺值应为 64 位十六进制数（种子的 SHA-256）"
        raise ValidationFailed(msg, "bad commitment", details=[{"field": "seed_hash", "message": msg}])
    return v


def check_seed(seed: str, commitment: str | None) -> None:
    """Raise :class:`Conflict` (``seed_mismatch``) when a commitment was published and ``seed``
    does not hash to it."""
    if commitment and seed_commitment(seed) != commitment:
        raise Conflict(
            f"种子与事先公布的承诺值不符：SHA-256（种子）= {seed_commitment(seed)}，公布的承诺值为 {commitment}",
            "the seed does not match its published commitment",
            code="seed_mismatch",
            details=[{"field": "seed", "message": "种子的 SHA-256 与公布的承诺值不一致"}],
        )


def draw_key(seed: str, code: str) -> str:
    """A household's lottery key: lowercase hex sha256 of ``seed + "|" + code``."""
    return sha256_hex(f"{seed}|{code}")


def roster_hash(codes: Iterable[str]) -> str:
    """Fingerprint of a roster, published with the commitment: sha256 of the household codes
    sorted and joined by line feeds (so anyone can check the list was not changed afterwards)."""
    return sha256_hex("\n".join(sorted(codes)))


@dataclass(frozen=True, slots=True)
class Placed:
    """One household in an order: position (1, 2, ...), code, lottery key (empty for sign order)."""

    position: int
    code: str
    draw_key: str = ""
    sign_no: int | None = None


def _unique(codes: Sequence[str]) -> None:
    seen: set[str] = set()
    for c in codes:
        if not c:
            raise ValueError("empty household code")
        if c in seen:
            raise ValueError(f"household code {c!r} listed twice")
        seen.add(c)


def lottery_order(seed: str, codes: Sequence[str]) -> list[Placed]:
    """The lottery order of ``codes`` under ``seed`` (see the module's formula). Raises
    :class:`ValueError` for a duplicate or empty code."""
    _unique(codes)
    keyed = sorted((draw_key(seed, c), c) for c in codes)
    return [Placed(i, c, k) for i, (k, c) in enumerate(keyed, start=1)]


def sign_order(signed: Sequence[tuple[str, int]]) -> list[Placed]:
    """Households ``(code, sign_no)`` in sign order. Raises :class:`ValueError` for a duplicate code."""
    _unique([c for c, _ in signed])
    ordered = sorted(signed, key=lambda cs: (cs[1], cs[0]))
    return [Placed(i, c, "", n) for i, (c, n) in enumerate(ordered, start=1)]


def first_difference(expected: Sequence[Placed], recorded: Sequence[Placed]) -> str | None:
    """``None`` when ``recorded`` is ``expected`` (positions, codes and keys); otherwise a Chinese
    sentence naming the first difference."""
    for e, r in zip(expected, recorded, strict=False):
        if (e.position, e.code) != (r.position, r.code):
            return f"第 {e.position} 位应为 {e.code}，记录为 {r.code}（第 {r.position} 位）"
        if e.draw_key != r.draw_key:
            return f"第 {e.position} 位 {e.code} 的摇号值应为 {e.draw_key or '（无）'}，记录为 {r.draw_key or '（无）'}"
    if len(expected) != len(recorded):
        if len(expected) > len(recorded):
            e = expected[len(recorded)]
            return f"第 {e.position} 位应为 {e.code}，记录中没有（应有 {len(expected)} 户，记录 {len(recorded)} 户）"
        r = recorded[len(expected)]
        return (
            f"记录的第 {r.position} 位 {r.code} 不应出现（应有 {len(expected)} 户，记录 {len(recorded)} 户）"
        )
    return None


# --------------------------------------------------------------------------- codes and text


def clean_code(value: str) -> str:
    """A code as stored: NFKC (full-width letters and digits become half-width), no spaces,
    upper case (MariaDB compares case-insensitively; the other databases do not)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or "")).upper()


_BUILDING_SUFFIX = re.compile(r"(号楼|幢|栋|座|楼|号)$")


def flat_code(building: str, unit: int, number: str) -> str:
    """A flat's code: building (without 幢/栋/号楼), unit and number, e.g. ``3幢``, 1, ``502`` ->
    ``3-1-502``."""
    short = _BUILDING_SUFFIX.sub("", building) or building
    return clean_code(f"{short}-{unit}-{number}")
