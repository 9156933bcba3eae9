"""Demo grids (#14): 11 communities and 82 grids tiling a fictional town around lng 120.1,
lat 30.2, a grid worker for every grid, buildings with building leaders (many party members),
and a few mediation cases.

The grids are the cells of a jittered lattice: neighbouring cells share their corner points, so
the boundaries tile the town without gaps or overlaps. Cells are numbered in a serpentine order
and cut into 11 runs, which keeps every community one contiguous piece. Everything goes through
the grid service (validated, audited), with a random generator of its own so the rest of the demo
draws the same numbers as before.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anju.core.actor import Actor
from anju.grid import service as grid_service
from anju.identity import service as identity_service

SEED = 14_082
COLUMNS, ROWS = 10, 9
#: Corner cells left out of the 10 x 9 lattice so that 82 remain (the town's ragged outline).
LEFT_OUT = {(0, 0), (1, 0), (0, 1), (9, 0), (9, 8), (8, 8), (0, 8), (9, 7)}
ORIGIN = (Decimal("120.070"), Decimal("30.175"))
CELL = (Decimal("0.0065"), Decimal("0.0055"))  # about 620 m x 610 m
JITTER = Decimal("0.0012")
COMMUNITIES = (
    "东埠社区",
    "西河社区",
    "清河社区",
    "仓前社区",
    "埠头社区",
    "河埠社区",
    "粮站社区",
    "青溪社区",
    "杭垟社区",
    "塘桥社区",
    "上溪社区",
)
ESTATES = (
    "幸福里",
    "清河苑",
    "埠头新村",
    "仓前小区",
    "西河花园",
    "粮站宿舍",
    "河埠人家",
    "青溪公寓",
    "杨柳岸",
    "桂香园",
)
WORKERS = (
    ("wangge01", "孙晓梅"),
    ("wangge02", "钱立新"),
    ("wangge03", "周海燕"),
    ("wangge04", "吴建平"),
    ("wangge05", "郑丽华"),
    ("wangge06", "冯志远"),
    ("wangge07", "陈秀兰"),
    ("wangge08", "褚国庆"),
    ("wangge09", "卫春燕"),
    ("wangge10", "蒋明辉"),
)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = (
    "建国",
    "秀英",
    "玉兰",
    "国华",
    "桂芳",
    "志强",
    "丽娟",
    "德明",
    "淑芬",
    "海涛",
    "春梅",
    "立军",
    "小红",
    "文斌",
)
DISPUTES = (
    ("楼上漏水致楼下天花板受损", "neighbour", "success"),
    ("楼道堆物占用消防通道", "neighbour", "success"),
    ("老旧小区加装电梯意见不一", "property", "partial"),
    ("停车位占用纠纷", "property", None),
    ("房屋租赁押金退还纠纷", "tenancy", "failed"),
    ("赡养老人费用分担", "family", "transferred"),
    ("装修噪声扰民", "neighbour", None),
)


def _jitter(rng: random.Random) -> Decimal:
    return (JITTER * Decimal(rng.randint(-1000, 1000)) / 1000).quantize(Decimal("0.000001"))


def lattice(rng: random.Random) -> list[tuple[int, int, list[list[float]]]]:
    """(column, row, ring) of every kept cell, in serpentine order; the shared corners are jittered
    (the outer edge of the lattice too), so the cells tile without overlaps."""
    corners: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for i in range(COLUMNS + 1):
        for j in range(ROWS + 1):
            x = ORIGIN[0] + CELL[0] * i + _jitter(rng)
            y = ORIGIN[1] + CELL[1] * j + _jitter(rng)
            corners[(i, j)] = (x, y)
    cells = []
    for j in range(ROWS):
        columns = range(COLUMNS) if j % 2 == 0 else range(COLUMNS - 1, -1, -1)
        for i in columns:
            if (i, j) in LEFT_OUT:
                continue
            ring = [
                corners[(i, j)],
                corners[(i + 1, j)],
                corners[(i + 1, j + 1)],
                corners[(i, j + 1)],
                corners[(i, j)],
            ]
            cells.append((i, j, [[float(x), float(y)] for x, y in ring]))
    return cells


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def build_grids(
    session: Session, *, actor: Actor, today: date, password_of: Any, household_ids: list[int]
) -> dict[str, int]:
    """Create the communities, grids, workers, buildings and mediation cases; returns counts.

    ``password_of(username)`` gives the demo password of the extra grid workers (not printed: the
    printed ``wangge`` login is one of them); ``household_ids`` are households a case may be about.
    """
    rng = random.Random(SEED)
    workers = [identity_service.get_user_by_username(session, "wangge").id]
    for username, display in WORKERS:
        user = identity_service.create_user(
            session,
            actor=actor,
            username=username,
            display_name=display,
            password=password_of(username),
            role="grid_worker",
        )
        workers.append(user.id)
    cells = lattice(rng)
    per = [
        len(cells) // len(COMMUNITIES) + (1 if k < len(cells) % len(COMMUNITIES) else 0)
        for k in range(len(COMMUNITIES))
    ]
    counts = {"communities": 0, "grids": 0, "buildings": 0, "cases": 0}
    grid_ids: list[int] = []
    at = 0
    for k, name in enumerate(COMMUNITIES):
        community = grid_service.create_community(
            session,
            actor=actor,
            values={
                "code": f"SQ{k + 1:02d}",
                "name": name,
                "phone": f"0570-86{k + 1:02d}{rng.randint(1000, 9999)}",
                "address": f"青溪街道{name.removesuffix('社区')}路{rng.randint(1, 200)}号",
                "sort": k,
            },
        )
        counts["communities"] += 1
        for n in range(per[k]):
            _, _, ring = cells[at]
            worker = workers[at * len(workers) // len(cells)]
            at += 1
            grid = grid_service.create_grid(
                session,
                actor=actor,
                community_id=community.id,
                values={
                    "code": f"SQ{k + 1:02d}-{n + 1:02d}",
                    "name": f"{name.removesuffix('社区')}第{n + 1}网格",
                    "boundary": {"type": "Polygon", "coordinates": [ring]},
                    "worker_user_id": worker,
                    "public_phone": f"0570-87{at:03d}{rng.randint(100, 999)}",
                    "public_note": "工作日 8:30—17:30 在网格服务站，其他时间请拨打电话。",
                },
            )
            grid_ids.append(grid.id)
            counts["grids"] += 1
            estate = rng.choice(ESTATES)
            total = 0
            for b in range(rng.randint(3, 6)):
                households = rng.randint(18, 72)
                total += households
                leader = _name(rng)
                grid_service.add_building(
                    session,
                    actor=actor,
                    grid_id=grid.id,
                    values={
                        "name": f"{estate} {b + 1} 幢",
                        "address": f"{estate}{b + 1}幢",
                        "households": households,
                        "leader_name": leader,
                        "leader_phone": _phone(rng),
                        "leader_party_member": rng.random() < 0.6,
                    },
                )
                counts["buildings"] += 1
            grid_service.update_grid(
                session, actor=actor, grid_id=grid.id, values={"households": total}, expected_version=None
            )
    for d, (title, kind, outcome) in enumerate(DISPUTES):
        opened = today - timedelta(days=60 - d * 8)
        case = grid_service.open_case(
            session,
            actor=actor,
            values={
                "grid_id": grid_ids[(d * 11) % len(grid_ids)],
                "title": title,
                "kind": kind,
                "summary": f"{title}，双方多次协商未果，向网格员反映。",
                "opened_on": opened.isoformat(),
                "household_ids": household_ids[d : d + 1] if kind == "neighbour" and household_ids else [],
                "parties": [
                    {"name": _name(rng), "role": "applicant", "phone": _phone(rng)},
                    {"name": _name(rng), "role": "respondent", "phone": _phone(rng)},
                ],
            },
        )
        counts["cases"] += 1
        grid_service.add_session(
            session,
            actor=actor,
            case_id=case.id,
            values={
                "held_on": (opened + timedelta(days=3)).isoformat(),
                "place": "社区人民调解室",
                "mediator": "何社区",
                "notes": "双方到场陈述，调解员讲解相关规定，约定下次调解时间。",
            },
            expected_version=None,
        )
        if outcome:
            grid_service.close_case(
                session,
                actor=actor,
                case_id=case.id,
                values={
                    "outcome": outcome,
                    "outcome_note": "转交街道司法所" if outcome == "transferred" else "双方签署调解协议",
                    "closed_on": (opened + timedelta(days=7)).isoformat(),
                },
                expected_version=None,
            )
    return counts
