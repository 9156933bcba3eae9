"""The five orders as a state machine: every legal transition leads where the table says, every other
(state, action) pair and every actor without the right is refused with a Chinese message."""

from __future__ import annotations

import pytest

from anju.errors import Conflict
from anju.service_request import rules

LEGAL = {
    ("", "submit"): "submitted",
    ("submitted", "accept"): "dispatched",
    ("submitted", "reject"): "rejected",
    ("submitted", "merge"): "merged",
    ("dispatched", "merge"): "merged",
    ("dispatched", "take"): "in_progress",
    ("dispatched", "send_back"): "submitted",
    ("in_progress", "send_back"): "submitted",
    ("in_progress", "publish"): "published",
    ("published", "verify"): "closed",
    ("published", "reopen"): "in_progress",
    ("published", "auto_close"): "closed",
}


def _actor(action: str) -> str:
    return sorted(rules.ACTIONS[action].actors)[0]


@pytest.mark.parametrize(("status", "action"), sorted(LEGAL))
def test_every_legal_transition(status: str, action: str) -> None:
    assert rules.check_action(status, action, _actor(action)) == LEGAL[(status, action)]


@pytest.mark.parametrize("status", ["", *rules.STATUSES])
@pytest.mark.parametrize("action", sorted(rules.ACTIONS))
def test_every_illegal_transition_is_refused(status: str, action: str) -> None:
    if (status, action) in LEGAL:
        return
    with pytest.raises(Conflict) as exc:
        rules.check_action(status, action, _actor(action))
    assert exc.value.code == "illegal_transition"
    assert rules.ACTIONS[action].label in exc.value.message_zh


def test_final_states_have_no_way_out() -> None:
    for status in rules.FINAL:
        assert not [a for a in rules.ACTIONS.values() if status in a.sources]


@pytest.mark.parametrize("action", sorted(rules.ACTIONS))
def test_actors_without_the_right_are_refused(action: str) -> None:
    status = next(s for (s, a) in LEGAL if a == action)
    for actor in ("resident", "grid_worker", "community", "department", "system"):
        if actor in rules.ACTIONS[action].actors:
            continue
        with pytest.raises(Conflict) as exc:
            rules.check_action(status, action, actor)
        assert (
            exc.value.code == "not_allowed" and exc.value.message_zh == f"无权{rules.ACTIONS[action].label}"
        )


def test_reasons_are_required_where_the_resident_must_see_why() -> None:
    assert {a.name for a in rules.ACTIONS.values() if a.needs_reason} == {
        "reject",
        "merge",
        "send_back",
        "reopen",
    }


def test_unknown_action() -> None:
    with pytest.raises(Conflict):
        rules.check_action("submitted", "approve", "community")


def test_standard_vocabulary_and_open311_status() -> None:
    assert set(rules.GB_STEP_OF_STATUS) == set(rules.STATUSES) == set(rules.OPEN311_STATUS)
    assert {s for s, v in rules.OPEN311_STATUS.items() if v == "closed"} == {"closed", "rejected", "merged"}
    assert [
        rules.GB_STEP_OF_STATUS[s] for s in ("submitted", "dispatched", "in_progress", "published", "closed")
    ] == [
        "信息收集",
        "派遣",
        "处置",
        "核查",
        "结案",
    ]


def test_progress_through_the_five_orders() -> None:
    assert [
        rules.order_index(s) for s in ("submitted", "dispatched", "in_progress", "published", "closed")
    ] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert rules.order_index("rejected") == rules.order_index("merged") == 0
