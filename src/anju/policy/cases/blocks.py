"""Cases part: the group facts of a cases file (blocks with their totals and event dates, parents)
and office-set measures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from anju.policy.cases.values import Ref, _ValueReader, where, where_en
from anju.policy.facts import GroupFacts, group_from_dict

GROUP_KEYS = {"blocks", "parents", "measures"}
BLOCK_KEYS = {
    "total_households",
    "sign_dates",
    "vacate_dates",
    "total_certificates",
    "total_area",
    "sign_weights",
    "vacate_weights",
}
MEASURE_VALUE_KEYS = {"effective_on", "value"}
MEASURE_LIMIT = Decimal(10) ** 9


class _GroupReader(_ValueReader):
    """Reads group facts and measures."""

    def group(self, value: Any, path: tuple[Any, ...]) -> GroupFacts | None:
        d = self.fields(value, path, GROUP_KEYS)
        if d is None:
            return None
        before = len(self.problems)
        blocks: dict[str, Any] = {}
        for code, spec in self.named(d.get("blocks"), (*path, "blocks")).items():
            b = self.block(spec, (*path, "blocks", code))
            if b is not None:
                blocks[str(code)] = b
        parents: dict[str, str] = {}
        for code, parent in self.named(d.get("parents"), (*path, "parents")).items():
            p = self.text(parent, (*path, "parents", code), required=True)
            if p is not None:
                parents[str(code)] = p
        measures = self.measures(d["measures"], (*path, "measures")) if d.get("measures") is not None else {}
        if len(self.problems) > before:
            return None
        return self.build_group({"blocks": blocks, "parents": parents, "measures": measures or {}}, path)

    def block(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        d = self.fields(value, path, BLOCK_KEYS)
        if d is None:
            return None
        out: dict[str, Any] = {}
        if d.get("total_households") is None:
            self.err(
                path,
                "missing",
                f"{where(path)} 缺少总户数 total_households",
                f"{where_en(path)} needs total_households",
            )
        else:
            out["total_households"] = self.count(d["total_households"], (*path, "total_households"))
        for k in ("total_certificates",):
            if d.get(k) is not None:
                out[k] = self.count(d[k], (*path, k))
        if d.get("total_area") is not None:
            out["total_area"] = self.area(d["total_area"], (*path, "total_area"))
        for k in ("sign_dates", "vacate_dates"):
            dates = self.items_of(d.get(k), (*path, k)) or []
            out[k] = [None if x is None else self.day(x, (*path, k, j)) for j, x in enumerate(dates)]
            total = out.get("total_households")
            signed = sum(1 for x in out[k] if x is not None)
            if isinstance(total, int) and signed > total:
                self.err(
                    (*path, k),
                    "cases",
                    f"{where((*path, k))} 有 {signed} 个日期，多于总户数 {total}",
                    f"{where_en((*path, k))} has more dates than households",
                )
        for k, dk in (("sign_weights", "sign_dates"), ("vacate_weights", "vacate_dates")):
            if d.get(k) is None:
                continue
            ws = []
            for j, w in enumerate(self.items_of(d[k], (*path, k)) or []):
                wp = (*path, k, j)
                if not isinstance(w, list) or len(w) != 2:
                    self.err(
                        wp,
                        "type",
                        f"{where(wp)} 应为 [证数, 面积]",
                        f"{where_en(wp)} must be [certificates, area]",
                    )
                    continue
                ws.append([self.count(w[0], (*wp, 0)), self.area(w[1], (*wp, 1))])
            if len(ws) != len(out[dk]):
                self.err(
                    (*path, k),
                    "cases",
                    f"{where((*path, k))} 的个数应与 {dk} 相同",
                    f"{where_en((*path, k))}: one weight per date",
                )
            out[k] = ws
        weighted = "total_area" in out or "total_certificates" in out
        for k, dk in (("sign_weights", "sign_dates"), ("vacate_weights", "vacate_dates")):
            if k in out and not weighted:
                self.key_err(
                    path,
                    k,
                    "cases",
                    f"{where((*path, k))} 只在写了 total_area 或 total_certificates（按面积、按证统计）时使用",
                    f"{where_en((*path, k))} needs total_area or total_certificates",
                )
            elif weighted and k not in out and out[dk]:
                self.err(
                    (*path, dk),
                    "cases",
                    f"{where(path)} 按面积、按证统计，需要与 {dk} 一一对应的 {k}",
                    f"{where_en(path)} is weighted: {k} must give one weight per date of {dk}",
                )
        return out

    def measures(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        before = len(self.problems)
        out: dict[str, Any] = {}
        for mid, scopes in self.named(value, path).items():
            mp = (*path, mid)
            self.refs.append(Ref("measure", str(mid), mp))
            per: dict[Any, list[dict[str, Any]]] = {}
            for scope, values in self.named(scopes, mp).items():
                sp = (*mp, scope)
                vals = []
                for j, v in enumerate(self.items_of(values, sp) or []):
                    vd = self.fields(v, (*sp, j), MEASURE_VALUE_KEYS)
                    if vd is None:
                        continue
                    if vd.get("effective_on") is None or "value" not in vd:
                        self.err(
                            (*sp, j),
                            "missing",
                            f"{where((*sp, j))} 需要 effective_on 和 value",
                            f"{where_en((*sp, j))} needs effective_on and value",
                        )
                        continue
                    on = self.day(vd["effective_on"], (*sp, j, "effective_on"))
                    num = self.number(
                        vd["value"], (*sp, j, "value"), places=4, limit=MEASURE_LIMIT, negative=True
                    )
                    vals.append({"effective_on": on, "value": num})
                per[scope] = vals
            out[str(mid)] = per
        return None if len(self.problems) > before else out

    def build_group(self, d: dict[str, Any], path: tuple[Any, ...]) -> GroupFacts:
        """Group facts from values already checked (a failure left is reported, never raised)."""
        try:
            return group_from_dict(d)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            self.err(
                path, "cases", f"{where(path)} 无法读取：{exc}", f"{where_en(path)} cannot be read: {exc}"
            )
            return GroupFacts()
