"""Cases part: what only the policy can tell about a cases file: options, expected items and
subtotals, declared facts and their values, selection rules, measures, and expectations of parts
(settlement, entitlement, transition) the policy does not have."""

from __future__ import annotations

from anju.policy.cases.shape import CasesFile, Ref
from anju.policy.cases.values import where, where_en
from anju.policy.check import Checked
from anju.policy.declared import LEVELS, FactValueError, parse_value
from anju.policy.errors import Problem
from anju.policy.selection_rules import BUILTIN_RULE_IDS
from anju.policy.suggest import did_you_mean

WHERE_ZH = {"household": " household ", "building": " buildings 的每一项", "member": " members 的每一项"}
WHERE_EN = {"household": "household.facts", "building": "each of buildings", "member": "each of members"}


def _level(path: tuple[object, ...]) -> str:
    """The level a ``facts:`` mapping is written at: in a building, a member, else the household."""
    return "building" if "buildings" in path else "member" if "members" in path else "household"


PARTS = {
    "settlement": ("产权调换结算（swap_settlement）", "swap settlement (swap_settlement)"),
    "entitlement": ("产权调换结算（swap_settlement）", "swap settlement (swap_settlement)"),
    "transition": ("按月过渡费（transition）", "monthly transition fees (transition)"),
}


def check_against_policy(cf: CasesFile, checked: Checked) -> list[Problem]:
    """Every name of ``cf`` the policy does not know and every declared fact whose value does not
    fit its declaration, each with its place and (for names) the nearest known ones."""
    policy = checked.policy
    out: list[Problem] = []

    def bad(ref: Ref, code: str, zh: str, en: str, *, key: bool = False) -> None:
        out.append(Problem(code, zh, en, cf.location(ref.path, key=key)))

    expectable = [*checked.items, *checked.subtotals, "total"]
    rules = (
        {r.id for r in policy.swap.entitlement.rules} if policy.swap and policy.swap.entitlement else set()
    )
    rules |= set(BUILTIN_RULE_IDS)
    for ref in cf.refs:
        if ref.kind == "option" and ref.name not in policy.options:
            zh, en = did_you_mean(ref.name, policy.options)
            shown = "、".join(f"{k}（{v}）" for k, v in policy.options.items())
            bad(
                ref,
                "option",
                f"{where(ref.path)} 方案没有补偿方式“{ref.name}”{zh}（可选：{shown}）",
                f"{where_en(ref.path)}: the policy has no option '{ref.name}'{en}",
            )
        elif ref.kind == "expect" and ref.name not in expectable:
            zh, en = did_you_mean(ref.name, expectable)
            bad(ref, "name", f"没有项目“{ref.name}”{zh}", f"no item {ref.name!r}{en}", key=True)
        elif ref.kind in ("fact", "missing") and ref.name not in policy.facts:
            zh, en = did_you_mean(ref.name, policy.facts)
            declared = "、".join(policy.facts) or "无"
            bad(
                ref,
                "fact",
                f"方案没有声明事实“{ref.name}”{zh}（方案声明的事实：{declared}）",
                f"the policy declares no fact '{ref.name}'{en}",
                key=ref.kind == "fact",
            )
        elif ref.kind == "fact" and policy.facts[ref.name].level != _level(ref.path):
            decl = policy.facts[ref.name]
            bad(
                ref,
                "fact",
                f"事实“{ref.name}”（{decl.label}）是{LEVELS[decl.level]}的事实，应写在{WHERE_ZH[decl.level]}的 facts 中",
                f"fact '{ref.name}' is a {decl.level}-level fact: write it under {WHERE_EN[decl.level]}",
                key=True,
            )
        elif ref.kind == "fact":
            try:
                parse_value(policy.facts[ref.name], ref.value)
            except FactValueError as exc:
                bad(
                    ref,
                    "fact",
                    f"{where(ref.path)}：{exc.message_zh}",
                    f"{where_en(ref.path)}: {exc.message_en}",
                )
        elif ref.kind == "missing" and not policy.facts[ref.name].required:
            decl = policy.facts[ref.name]
            bad(
                ref,
                "fact",
                f"事实“{ref.name}”（{decl.label}）不是必填的，缺少时该户照常计算，不能写在 missing 中",
                f"fact '{ref.name}' is not required: a household without it is still computed",
            )
        elif ref.kind == "rule" and ref.name not in rules:
            zh, en = did_you_mean(ref.name, rules)
            bad(
                ref,
                "rule",
                f"方案没有选房规则“{ref.name}”{zh}（规则：{'、'.join(sorted(rules))}）",
                f"the policy has no selection rule '{ref.name}'{en}",
            )
        elif ref.kind == "measure" and ref.name not in policy.measures:
            zh, en = did_you_mean(ref.name, policy.measures)
            bad(
                ref,
                "measure",
                f"方案没有声明指标“{ref.name}”{zh}（measures 中声明的：{'、'.join(policy.measures) or '无'}）",
                f"the policy declares no measure '{ref.name}'{en}",
                key=True,
            )
        elif ref.kind in PARTS and (
            policy.swap is None if ref.kind != "transition" else policy.transition is None
        ):
            zh, en = PARTS[ref.kind]
            bad(
                ref,
                "cases",
                f"{where(ref.path)}：方案没有{zh}，无从比较",
                f"{where_en(ref.path)}: the policy has no {en} to compare with",
                key=True,
            )
    return out
