"""Static types of formula values, the fact fields and functions formulas may use, scales, and
the checked policy (:class:`Checked`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from anju.policy.declared import FactDecl
from anju.policy.expr import Name, Node
from anju.policy.facts import READY_WORDS, RISE_WORDS, Determination, ProjectKind, Structure, TenantKind, Use
from anju.policy.model import Item, Policy, Subtotal
from anju.policy.units import CERT, M2, ONE, PERSON, YUAN, Unit


@dataclass(frozen=True, slots=True)
class Ty:
    """Static type of a formula node."""

    kind: str  # "num" | "bool" | "str" | "date"
    unit: Unit = ONE
    scale: int = 0
    domain: frozenset[str] | None = None  # known values of a category, None when open


NUM0 = Ty("num")


BOOL = Ty("bool")


DATE = Ty("date")


_ENUM = {
    "structure": frozenset(s.value for s in Structure),
    "use": frozenset(u.value for u in Use),
    "determination": frozenset(d.value for d in Determination),
    "kind": frozenset(k.value for k in ProjectKind),
    "tenant_kind": frozenset(k.value for k in TenantKind),
}


# Fields of the household facts visible to formulas: (object, attribute) -> type.
FIELDS: dict[tuple[str, str], Ty] = {
    ("household", "block"): Ty("str"),
    ("household", "kind"): Ty("str", domain=_ENUM["kind"]),
    ("household", "sign_on"): DATE,
    ("household", "vacate_on"): DATE,
    ("household", "agreement_effective_on"): DATE,
    ("household", "delivery_planned_on"): DATE,
    ("household", "delivery_actual_on"): DATE,
    ("household", "move_back_on"): DATE,
    ("household", "has_homestead"): BOOL,
    ("homestead", "area"): Ty("num", M2, 2),
    ("homestead", "approved_year"): NUM0,
    ("building", "legal_area"): Ty("num", M2, 2),
    ("building", "unregistered_area"): Ty("num", M2, 2),
    ("building", "structure"): Ty("str", domain=_ENUM["structure"]),
    ("building", "use"): Ty("str", domain=_ENUM["use"]),
    ("building", "unregistered_determination"): Ty("str", domain=_ENUM["determination"]),
    ("building", "floors"): NUM0,
    ("building", "built_year"): NUM0,
    ("building", "assessed_unit_price"): Ty("num", YUAN / M2, 2),
    ("building", "assessed_value"): Ty("num", YUAN, 2),
    ("building", "decoration"): Ty("num", YUAN, 2),
    ("building", "fixtures"): Ty("num", YUAN, 2),
    ("member", "dibao"): BOOL,
    ("member", "disabled"): BOOL,
    ("member", "disability_grade"): NUM0,
    ("member", "serious_illness"): BOOL,
    ("member", "martyr_family"): BOOL,
    ("member", "shidu"): BOOL,
    ("member", "only_child"): BOOL,
    ("member", "youfu"): BOOL,
    ("member", "resettlement_counted"): BOOL,
    ("tenant", "area"): Ty("num", M2, 2),
    ("tenant", "kind"): Ty("str", domain=_ENUM["tenant_kind"]),
    # the selected resettlement flats (housing domain)
    ("flat", "area"): Ty("num", M2, 2),
    ("flat", "price"): Ty("num", YUAN / M2, 2),
    ("flat", "purchase_total"): Ty("num", YUAN, 2),
    ("flat", "building"): Ty("str"),
    ("flat", "floor"): NUM0,
    ("flat", "type"): Ty("str"),
    ("flat", "code"): Ty("str"),
    ("flat", "ready"): Ty("str", domain=frozenset(READY_WORDS)),  # 现房/期房 on the calculation date
    ("flat", "rise"): Ty("str", domain=frozenset(RISE_WORDS)),  # 楼型 多层/高层
    ("household", "chosen_flats_area"): Ty("num", M2, 2),
    ("household", "purchase_total"): Ty("num", YUAN, 2),
}


# Fields that may be missing in the facts; ``known(x)`` tests them, otherwise they read as 0.
OPTIONAL_FIELDS = {
    ("household", "sign_on"),
    ("household", "vacate_on"),
    ("building", "assessed_unit_price"),
    ("building", "assessed_value"),
    ("building", "decoration"),
    ("building", "fixtures"),
    ("household", "agreement_effective_on"),
    ("household", "delivery_planned_on"),
    ("household", "delivery_actual_on"),
    ("household", "move_back_on"),
    ("flat", "price"),
    ("flat", "purchase_total"),
}


COLLECTIONS = {"members": "member", "buildings": "building", "tenants": "tenant", "flats": "flat"}


COUNT_UNIT = {"member": PERSON, "building": CERT, "tenant": ONE, "flat": ONE}


FUNCTIONS = {
    "min",
    "max",
    "clamp",
    "floor",
    "round",
    "abs",
    "sum",
    "count",
    "any",
    "sign_rate",
    "vacate_rate",
    "points_above",
    "known",
    "flag",
    "date",
    "days_between",
    "months_between",
    "add_months",
    "add_days",
    "first",
    "measure",
}


def dec_scale(d: Decimal) -> int:
    """Number of decimal places needed to write ``d`` exactly."""
    if d == 0:
        return 0
    exp = d.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def reciprocal(d: Decimal) -> Decimal | None:
    """Exact ``1/d`` when it is a terminating decimal, else ``None``."""
    if d == 0:
        return None
    sign, digits, exp = d.normalize().as_tuple()
    assert isinstance(exp, int)
    m = int("".join(map(str, digits)))
    a = b = 0
    while m % 2 == 0:
        m //= 2
        a += 1
    while m % 5 == 0:
        m //= 5
        b += 1
    if m != 1:
        return None
    k = max(a, b)
    num = 10**k // (2**a * 5**b)
    r = Decimal(num).scaleb(-k - exp)
    return -r if sign else r


@dataclass(slots=True)
class Checked:
    """A checked policy: the policy with typed formulas, parameter scales and the item order."""

    policy: Policy
    order: list[str]  # item ids in dependency order
    items: dict[str, Item]
    param_scale: dict[str, int]
    tier_scale: dict[str, int]
    item_deps: dict[str, set[str]] = field(default_factory=dict)
    derived_ty: dict[str, Ty] = field(default_factory=dict)
    subtotals: dict[str, Subtotal] = field(default_factory=dict)
    # subtotal id -> the items it adds up (nested subtotals expanded), in evaluation order
    subtotal_leaves: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # subtotal ids, inner before outer (a subtotal after every subtotal it contains)
    subtotal_order: list[str] = field(default_factory=list)
    # A what-if draft that differs from a checked policy only in parameter values (the same
    # formula trees, types, scales and table keys: anju.policy.whatif): that policy, and the
    # parameters and tiers whose values differ. The kernel generator then re-makes only those
    # values' arguments (anju.policy.jit.prepared).
    same_shape_as: Checked | None = None
    changed_values: frozenset[str] = frozenset()

    def items_for(self, option: str) -> list[Item]:
        """Items of one option in evaluation order."""
        return [self.items[i] for i in self.order if option in self.items[i].options]

    def subtotal_items(self, subtotal: str, option: str) -> tuple[str, ...]:
        """The items a subtotal adds up under ``option`` (an item not offered there is absent)."""
        return tuple(i for i in self.subtotal_leaves[subtotal] if option in self.items[i].options)

    def subtotals_for(self, option: str) -> list[Subtotal]:
        """The subtotals that have at least one item under ``option``, in the order written."""
        return [s for s in self.policy.subtotals if self.subtotal_items(s.id, option)]


class _Abort(Exception):
    """Stops checking one formula after its first error."""


# Marks a subtotal among the items a formula depends on (ids cannot contain it).
SUBTOTAL_MARK = "§"


def _node_text(x: str) -> str:
    return f"小计 {x[1:]}" if x.startswith(SUBTOTAL_MARK) else x


_DECL_ZH = {
    "parameter": "参数",
    "clock": "时钟",
    "tier": "时间窗分档",
    "derived": "中间量",
    "item": "项目",
    "subtotal": "小计",
}


FIELD_OBJECTS = {"household", "homestead", "building", "member", "tenant", "flat"}


FACT_OBJECT = "fact"  # fact.ID reads a fact the policy declares


def fact_type(decl: FactDecl) -> Ty:
    """The static type formulas see for a declared fact."""
    if decl.type == "date":
        return DATE
    if decl.type == "yesno":
        return BOOL
    if decl.type == "category":
        return Ty("str", domain=frozenset(decl.choices))
    return Ty("num", decl.unit, decl.places)


def _is_collection(n: Node) -> bool:
    """Whether ``n`` names a collection (members, buildings ... : the registry COLLECTIONS)."""
    return isinstance(n, Name) and len(n.parts) == 1 and n.parts[0] in COLLECTIONS


_KIND_ZH = {"num": "数值", "bool": "条件", "str": "类别", "date": "日期"}
