"""Policy document part: clocks and tiers (time windows)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from anju.core.dates import DayCount, DayWindow
from anju.policy.model.base import _ReaderBase, _window_label
from anju.policy.model.definitions import Clock, Tier, TierWindow


class _ReaderClocks(_ReaderBase):
    """Clocks and tiers."""

    def read_clock(self, name: str, spec: Any, path: tuple[Any, ...]) -> Clock | None:
        if not isinstance(spec, dict):
            spec = {"date": spec}
        self.unknown_keys(spec, {"label", "date", "overrides", "ref"}, path)
        on = self.a_date(spec.get("date"), (*path, "date"), "日期 date")
        if on is None:
            return None
        overrides = {}
        for block, v in self.mapping(spec.get("overrides"), (*path, "overrides"), "overrides").items():
            d = self.a_date(v, (*path, "overrides", block), "日期 date")
            if d is not None:
                overrides[str(block)] = d
        return Clock(
            name, str(spec.get("label", name)), on, overrides, str(spec.get("ref", "")), self.src(path)
        )

    def read_tier(self, name: str, spec: Any, path: tuple[Any, ...]) -> Tier | None:
        spec = self.mapping(spec, path, "tier")
        self.unknown_keys(
            spec, {"label", "event", "clock", "count", "unit", "windows", "otherwise", "ref"}, path
        )
        event = str(spec.get("event", "sign_on"))
        if event not in ("sign_on", "vacate_on"):
            self.err(
                (*path, "event"),
                "tier",
                "event 只能是 sign_on（签约日）或 vacate_on（腾空日）",
                "event must be sign_on or vacate_on",
            )
        count = DayCount.CLOCK_DAY_IS_DAY_1
        try:
            count = DayCount(str(spec.get("count", "clock_day_is_day_1")))
        except ValueError:
            self.err(
                (*path, "count"),
                "tier",
                "count 只能是 clock_day_is_day_1 或 next_day_is_day_1",
                "count must be clock_day_is_day_1 or next_day_is_day_1",
            )
        unit, unit_text, percent = self.unit(spec.get("unit"), (*path, "unit"))
        scale = Decimal("0.01") if percent else Decimal(1)
        windows = []
        for i, w in enumerate(self.seq(spec.get("windows"), (*path, "windows"), "时间窗 windows")):
            wp = (*path, "windows", i)
            if not isinstance(w, dict):
                self.err(wp, "tier", "时间窗应为映射", "each window must be a mapping")
                continue
            self.unknown_keys(w, {"after", "upto", "value", "label"}, wp)
            v = self.decimal(w.get("value"), (*wp, "value"), "value")
            if v is None:
                continue
            win = DayWindow(
                self.whole(w.get("after"), (*wp, "after"), "after"),
                self.whole(w.get("upto"), (*wp, "upto"), "upto"),
            )
            label = str(w.get("label") or _window_label(win))
            windows.append(TierWindow(win, v * scale, label))
        if not windows:
            self.err(path, "tier", "时间窗分档至少需要一个窗口 windows", "a tier needs at least one window")
        otherwise = self.decimal(spec.get("otherwise", 0), (*path, "otherwise"), "otherwise") or Decimal(0)
        return Tier(
            name,
            str(spec.get("label", name)),
            event,
            str(spec.get("clock", "")),
            count,
            unit,
            unit_text,
            windows,
            otherwise * scale,
            str(spec.get("ref", "")),
            self.src(path),
        )
