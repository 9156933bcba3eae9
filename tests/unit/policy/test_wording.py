"""The calculation sheet in words (anju.policy.wording, issue #13 item 1): every item of every example
and demo policy, evaluated for every case household, reads as Chinese with the family's own numbers:
no identifier, no formula syntax, no English, no line twice, percentages as %, and the amount the
item comes to; plus exact lines for the shapes a family meets."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from policy_helpers import policy

from anju.core.dates import DayWindow
from anju.core.money import format_yuan
from anju.policy.check import Checked, load_policy_file
from anju.policy.facts import (
    Building,
    GroupFacts,
    Homestead,
    Household,
    Member,
    group_from_dict,
    household_from_dict,
)
from anju.policy.model import load_yaml
from anju.policy.scalar import Result, evaluate
from anju.policy.wording import clean_label, quantity, window_text

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "anju" / "policy" / "examples"
DEMO = Path(__file__).resolve().parents[3] / "src" / "anju" / "demo" / "policies"
SYNTAX = ("*", "[", "]", "==", "!=", "<", ">", "_", "'", '"', "/ ", " if ", "then", "sum(", "count(")


def _case_results(name: str) -> list[tuple[Checked, Household, Result]]:
    path = EXAMPLES / f"{name}.cases.yaml"
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    checked = load_policy_file(path.parent / data["policy"])
    hs = [household_from_dict(c["household"]) for c in data["cases"]]
    group = group_from_dict(data["group"]) if data.get("group") else GroupFacts.from_households(hs)
    as_of = data.get("as_of")
    return [
        (checked, h, evaluate(checked, h, str(case.get("option", "cash")), as_of, group))
        for case, h in zip(data["cases"], hs, strict=True)
    ]


def _demo_households() -> list[Household]:
    kids = [Member("户主", resettlement_counted=True), Member("配偶", resettlement_counted=True, dibao=True)]
    return [
        Household(
            code="D1",
            block_code="一组",
            block_chain=("东村",),
            sign_on=date(2024, 5, 15),
            members=(*kids, Member("子女", resettlement_counted=True)),
            buildings=(
                Building(
                    "青房权101", structure="brick_concrete", use="residential", legal_area=Decimal("98.60")
                ),
                Building("青房权102", structure="simple", use="business", legal_area=Decimal("20.00")),
            ),
            homestead=Homestead(area=Decimal("300.00")),
        ),
        Household(
            code="D2",
            block_code="二组",
            block_chain=("东村",),
            members=(Member("户主", resettlement_counted=True),),
            buildings=(
                Building("青房权103", structure="brick_wood", use="residential", legal_area=Decimal("30.50")),
            ),
            homestead=Homestead(area=Decimal("80.00")),
        ),
    ]


def _demo_results(name: str) -> list[tuple[Checked, Household, Result]]:
    checked = load_policy_file(DEMO / f"{name}.yaml")
    hs = _demo_households()
    group = GroupFacts.from_households(hs)
    return [
        (checked, h, evaluate(checked, h, opt, None, group)) for h in hs for opt in checked.policy.options
    ]


def _categories(checked: Checked) -> set[str]:
    """Category values the policy itself writes (table keys, category parameters such as 区位 A)."""
    out: set[str] = set()
    for p in checked.policy.params.values():
        for dated in [*p.values, *(d for ds in p.overrides.values() for d in ds)]:
            if isinstance(dated.value, dict):
                out |= {k for keys in dated.value for k in keys}
            elif isinstance(dated.value, str):
                out.add(dated.value)
    return {c for c in out if re.fullmatch(r"[A-Za-z0-9]+", c)}


ALL = [("example", n) for n in ("state_land", "homestead", "shantytown")] + [
    ("demo", n) for n in ("rural", "shantytown")
]


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_every_item_of_every_policy_reads_as_chinese_with_the_family_numbers(kind: str, name: str) -> None:
    runs = _case_results(name) if kind == "example" else _demo_results(name)
    assert runs
    for checked, h, result in runs:
        identifiers = {
            *checked.policy.params,
            *checked.items,
            *checked.policy.tiers,
            *checked.policy.derived,
            *checked.policy.clocks,
        }
        allowed = _categories(checked)
        for it in result.items:
            where = f"{name} {h.code} {result.option} {it.id}: {it.basis}"
            assert it.basis, where
            assert len(it.basis) == len(set(it.basis)), where
            text = "\n".join(it.basis)
            for word in identifiers:
                assert not re.search(rf"(?<![A-Za-z_]){re.escape(word)}(?![A-Za-z_])", text), (word, where)
            for bit in SYNTAX:
                assert bit not in text, (bit, where)
            stripped = text
            for c in sorted(allowed, key=len, reverse=True):
                stripped = re.sub(rf"(?<![A-Za-z]){re.escape(c)}(?![A-Za-z])", "", stripped)
            assert not re.search(r"[A-Za-z]", stripped), where
            if it.applies and it.amount_fen:
                whole = it.amount_fen % 100 == 0
                assert format_yuan(it.amount_fen) + " 元" in text or (
                    whole and f"{it.amount_fen // 100:,} 元" in text
                ), where
            if not it.applies:
                assert all("不适用" in line for line in it.basis), where
            for p in checked.policy.params.values():
                label = clean_label(p.label, p.name, "")
                if p.percent and label and label in text:
                    assert re.search(re.escape(label) + r" \d+(\.\d+)?%", text), (label, where)


def _item(result: Result, item_id: str) -> list[str]:
    return next(i.basis for i in result.items if i.id == item_id)


def test_state_land_lines_for_the_first_case() -> None:
    (_c, _h, cash), (_c2, _h2, swap), (_c3, _h3, wang), (_c4, _h4, zhao), *_ = _case_results("state_land")
    assert _item(cash, "house_value") == [
        "证 青房权001：合法面积 98.60 ㎡ × 房屋价值补偿单价（砖混，A）12,000 元/㎡ = 1,183,200.00 元",
        "证 青房权002：合法面积 12.00 ㎡ × 房屋价值补偿单价（简易，A）2,000 元/㎡ = 24,000.00 元",
        "各证合计 1,207,200.00 元",
    ]
    assert _item(cash, "cash_bonus") == [
        "房屋价值补偿 1,207,200.00 元 × 选择货币补偿奖励比例 10% = 120,720.00 元"
    ]
    assert _item(cash, "transition_cash") == [
        "各证合法面积合计 110.60 ㎡ × 临时安置费 12 元/㎡/月 × 货币补偿过渡期 6 月 = 7,963.20 元"
    ]
    assert _item(cash, "special_groups") == [
        "家庭成员中低保的 1 人 × 低保补助 5,000 元/人 + 家庭成员中残疾且残疾等级不超过2的 1 人 × 一二级残疾补助 8,000 元/人"
        " = 13,000.00 元"
    ]
    assert _item(cash, "sign_reward") == [
        "证 青房权001：合法面积 98.60 ㎡ × 签约奖励 300 元/㎡ = 29,580.00 元",
        "2025年4月10日签约，为签约期开始（2025年4月1日）当日起第 10 日，落在“30日内（含第30日）”，签约奖励 300 元/㎡",
        "证 青房权002：不适用：用途为非住宅，不是住宅",
    ]
    assert _item(cash, "vacate_reward") == [
        "2025年5月28日腾空，为协议生效日（2025年5月20日）次日起第 8 日，落在“15日内”，腾空奖励 5,000 元"
    ]
    assert _item(cash, "block_vacate") == [
        "本区块截至2025年6月30日的腾空率 100% 不低于 100%，计 10,000.00 元"
    ]
    assert _item(cash, "collective_sign") == [
        "本片区截至2025年5月31日的签约率 90% 不低于 集体签约率门槛 85%，集体签约奖励基数 5,000 元"
        " + 每多一个百分点 500 元 × 超出集体签约率门槛的整百分点数 5 = 7,500.00 元"
    ]
    assert _item(cash, "shidu") == ["不适用：家庭成员中没有失独的"]
    assert _item(cash, "appliance") == ["空调热水器等移机费 2,000 元"]
    assert _item(swap, "relocation_swap") == [
        "各证合法面积合计 110.60 ㎡ × 搬迁费 15 元/㎡ × 2 = 3,318.00 元"
    ]
    # a cap and a floor, said in words
    assert _item(wang, "business_loss") == [
        "证 青房权003：合法面积 45.50 ㎡ × 房屋价值补偿单价（砖混，A）12,000 元/㎡ × 停产停业损失比例 8% = 43,680.00 元",
        "超过最高标准，按“不超过停产停业损失每证最高 40,000 元”计 40,000.00 元",
        "证 青房权004：不适用：用途为住宅，不是营业",
    ]
    assert (
        _item(wang, "sign_reward")[-1] == "低于最低标准，按“不低于签约奖励每证最低 20,000 元”计 20,000.00 元"
    )
    assert _item(wang, "vacate_reward") == ["尚未腾空，腾空奖励按 0 元计"]
    assert _item(wang, "block_vacate") == ["本区块截至2025年6月30日的腾空率 50% 低于 100%，计 0.00 元"]
    assert _item(zhao, "relocation_cash") == [
        "各证合法面积合计 60.25 ㎡ × 搬迁费 15 元/㎡ = 903.75 元",
        "低于最低标准，按“不低于搬迁费每户最低 1,000 元”计 1,000.00 元",
    ]
    assert _item(zhao, "sign_reward")[1] == (
        "2025年3月28日签约，早于签约期开始（2025年4月1日），落在“30日内（含第30日）”，签约奖励 300 元/㎡"
    )


def test_homestead_and_shantytown_lines() -> None:
    first, *_rest = _case_results("homestead")
    _c, _h, chen = first
    assert _item(chen, "land") == [
        "（宅基地面积 300.00 ㎡ 与 宅基地控制面积 266.67 ㎡ 取较小者 266.67 ㎡） × 宅基地区位补偿单价 800 元/㎡"
        " + （宅基地面积 300.00 ㎡ − 宅基地控制面积 266.67 ㎡ = 33.33 ㎡） × 宅基地区位补偿单价 800 元/㎡"
        " × 超出控制面积部分补偿比例 50% = 226,668.00 元"
    ]
    assert _item(chen, "buildings_value") == ["各证“合法面积 × 房屋重置价”合计 144,000.00 元"]
    assert _item(chen, "transition") == ["安置人口 4 人 × 过渡费 400 元/人/月 × 过渡期 18 月 = 28,800.00 元"]
    sun = _case_results("shantytown")[0][2]
    assert _item(sun, "house_value") == [
        "合法面积 33.33 ㎡ × 评估单价 7,321.50 元/㎡ = 244,025.595 元",
        "五舍六入到分，计 244,025.59 元",
    ]
    assert _item(sun, "relocation") == [
        "各证合法面积合计 33.33 ㎡ × 搬迁费 12.5 元/㎡ × 1（项目类型为棚户区） = 416.625 元",
        "五舍六入到分，计 416.62 元",
    ]
    assert _item(sun, "decoration") == ["装修评估价 8,000.00 元"]


def test_bands_derived_quantities_and_day_windows_are_named_by_their_labels() -> None:
    rural = _demo_results("rural")
    d1_swap = next(r for _c, h, r in rural if h.code == "D1" and r.option == "swap")
    assert _item(d1_swap, "sign_reward") == [
        "2024年5月15日签约，为签约期开始（2024年5月10日）当日起第 6 日，落在“签约期第1-10日”，签约奖励 30,000 元"
    ]
    d2 = next(r for _c, h, r in rural if h.code == "D2" and r.option == "swap")
    assert _item(d2, "sign_reward") == ["不适用：尚未签约"]
    assert _item(d2, "transition") == ["安置人口 1 人 × 过渡费 400 元/人/月 × 过渡期 18 月 = 7,200.00 元"]
    c = policy("""parameters:
  per_capita:
    label: 人均安置面积 per capita area
    unit: ㎡/人
    by: 人
    bands:
      - {upto: 2, value: 50, label: 1至2人户}
      - {after: 2, value: 40}
  unit_price: {unit: 元/㎡, value: 100}
derived:
  persons: {label: 安置人口, formula: "count(members, where=member.resettlement_counted)"}
  area: {label: 应安置面积（人口×人均）, formula: persons * per_capita(persons)}
tiers:
  reward:
    event: sign_on
    clock: start
    unit: 元
    windows:
      - {upto: 10, value: 500}
      - {after: 10, upto: 20, value: 200}
    otherwise: 0
clocks:
  start: {label: 签约期开始, date: 2025-04-01}
options: {cash: 货币补偿}
items:
  - {id: a, label: 面积款, formula: area * unit_price}
  - {id: r, label: 签约奖励, formula: reward}
""")
    one = Household(
        "H1",
        "一地块",
        ("东片区",),
        sign_on=date(2025, 4, 15),
        members=(Member("甲", resettlement_counted=True),),
    )
    three = Household(
        "H2", "一地块", ("东片区",), members=tuple(Member(n, resettlement_counted=True) for n in "甲乙丙")
    )
    r1 = evaluate(c, one, "cash")
    assert _item(r1, "a") == [
        "应安置面积 50 ㎡ × 单价 100 元/㎡ = 5,000.00 元",
        "应安置面积：安置人口 1 人 × 人均安置面积 50 ㎡/人 = 50 ㎡",
        "安置人口 1 人，落在“1至2人户”这一档，人均安置面积 50 ㎡/人",
    ]
    # a window without a label is named in Chinese (the generated bilingual label loses its English)
    assert _item(r1, "r") == [
        "2025年4月15日签约，为签约期开始（2025年4月1日）当日起第 15 日，落在“超过第10日、不超过第20日”，奖励标准 200 元"
    ]
    r3 = evaluate(c, three, "cash")
    assert _item(r3, "a")[2] == "安置人口 3 人，落在“超过 2 人”这一档，人均安置面积 40 ㎡/人"
    assert _item(r3, "r") == ["尚未签约，奖励标准按 0 元计"]


def test_labels_numbers_and_windows() -> None:
    assert clean_label("房屋价值补偿单价 house value per ㎡", "house_rate", "单价") == "房屋价值补偿单价"
    assert clean_label("区位 zone", "zone", "方案标准") == "区位"
    assert (
        clean_label("宅基地控制面积（0.4亩，按 1亩 = 666.67㎡ 折算）", "control_area", "面积")
        == "宅基地控制面积"
    )
    assert clean_label("house_rate", "house_rate", "单价") == "单价"
    assert clean_label("A rate", "r", "单价") == "单价"
    assert clean_label("", "r", "金额") == "金额"
    assert quantity(Decimal("0.085"), pct=True) == "8.5%"
    assert quantity(Decimal("1000"), None) == "1,000"
    assert quantity(date(2025, 4, 1)) == "2025年4月1日"
    assert quantity("brick_concrete") == "砖混"
    assert window_text(DayWindow(None, 2), "人") == "不超过 2 人"
    assert window_text(DayWindow(2, 3), "人") == "超过 2 人、不超过 3 人"
    assert window_text(DayWindow(None, None)) == "不限"


def test_the_wording_is_left_out_without_a_trace() -> None:
    _c, h, _r = _case_results("state_land")[0]
    checked = load_policy_file(EXAMPLES / "state_land.yaml")
    quiet = evaluate(checked, h, "cash", None, GroupFacts.from_households([h]), trace=False)
    assert all(i.basis == [] for i in quiet.items)
