"""A forked computation returns what the function returns, from another process, or falls back."""

from __future__ import annotations

import os
import time

import pytest

from anju.core.forked import Forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_result_comes_from_a_child_process() -> None:
    parent = os.getpid()
    job = Forked(lambda: (os.getpid(), {"户": ["张三", 1, None]}))
    pid, value = job.result()
    assert pid != parent
    assert value == {"户": ["张三", 1, None]}
    job.cancel()  # nothing left to stop


def test_without_fork_the_function_runs_here_when_asked() -> None:
    calls: list[int] = []
    job = Forked(lambda: calls.append(os.getpid()) or len(calls), fork=False)
    assert calls == []
    assert job.result() == 1
    assert calls == [os.getpid()]


def test_a_failing_child_is_replaced_by_a_computation_here() -> None:
    parent = os.getpid()

    def only_in_parent() -> int:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return 42

    assert Forked(only_in_parent).result() == 42


def test_cancel_stops_a_child_that_is_still_working() -> None:
    job = Forked(lambda: time.sleep(60))
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started < 10
    job.cancel()


def test_results_arrive_in_order_and_a_later_failure_is_computed_here() -> None:
    parent = os.getpid()

    def second() -> str:
        if os.getpid() != parent:
            raise RuntimeError("the child fails after its first result")
        return "here"

    job = Forked(lambda: ("child", os.getpid() != parent), second, lambda: "third")
    assert job.result(0) == ("child", True)
    assert job.result(2) == "third"
    assert job.result(1) == "here"
    assert job.result(0) == ("child", True)  # kept


def test_a_child_reaped_by_someone_else_is_not_trusted() -> None:
    parent = os.getpid()
    job = Forked(lambda: os.getpid())
    os.waitpid(job.pid, 0)  # as a process-wide child reaper would
    assert job.result() == parent  # computed here instead
