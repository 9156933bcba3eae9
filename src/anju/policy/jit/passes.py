"""Fused kernels part: the statements of a kernel into its source: value numbering, repeated
lookup-failure flags dropped, loops over the same elements fused, rendering."""

from __future__ import annotations

import re
from typing import Any

from anju.policy.jit.helpers import LoopStmt

__all__ = [
    "drop_repeated_flags",
    "fuse",
    "value_numbering",
]


# frozen household statements -> kernel source: what-if recomputations and repeated evaluations
# of one policy structure generate the same statements (values are arguments), so the passes
# below run once per structure (1.7 instead of 3 ms per call; bench/RESULTS.md, "Policy engine").
_SOURCES: dict[tuple[Any, ...], str] = {}


def _freeze(stmts: list[Any]) -> tuple[Any, ...]:
    return tuple(
        ("loop", s.el, s.header, _freeze(s.body))
        if isinstance(s, LoopStmt)
        else ("if", s[0], _freeze(s[1]))
        if isinstance(s, tuple)
        else s
        for s in stmts
    )


def _source(n_args: int, body: list[Any]) -> str:
    """The kernel source for household statements ``body`` (loops fused, repeats removed)."""
    key = (n_args, _freeze(body))
    hit = _SOURCES.get(key)
    if hit is not None:
        return hit
    params = ", ".join(["n", *[f"a{k}" for k in range(n_args)], "out_fen", "out_app", "out_sum", "err"])
    lines = [f"def kernel({params}):", "    for i in prange(n):"]
    _render(drop_repeated_flags(value_numbering(fuse(body))), 2, lines)
    source = "\n".join(lines) + "\n"
    if len(_SOURCES) > 64:
        _SOURCES.clear()
    _SOURCES[key] = source
    return source


def _render(stmts: list[Any], depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if not stmts:
        out.append(pad + "pass")
    for s in stmts:
        if isinstance(s, LoopStmt):
            out.append(pad + s.header)
            _render(s.body, depth + 1, out)
        elif isinstance(s, tuple):
            out.append(pad + s[0])
            _render(s[1], depth + 1, out)
        else:
            out.append(pad + s)


_VAR = re.compile(r"\b(?:[tvpq][0-9]+|blk)\b")
_DEF = re.compile(r"^([tvpq][0-9]+|blk) *(?:\+=|\|=|=)")


def _defs_uses(s: Any, defs: set[str], uses: set[str]) -> None:
    if isinstance(s, LoopStmt):
        for x in s.body:
            _defs_uses(x, defs, uses)
    elif isinstance(s, tuple):
        uses.update(_VAR.findall(s[0]))
        for x in s[1]:
            _defs_uses(x, defs, uses)
    else:
        m = _DEF.match(s)
        if m:
            defs.add(m.group(1))
        uses.update(_VAR.findall(s if m is None or "+=" in s or "|=" in s else s[m.end() :]))


def _subst(text: str, subst: dict[str, str]) -> str:
    if not subst:
        return text
    return _VAR.sub(lambda m: subst.get(m.group(0), m.group(0)), text)


def value_numbering(stmts: list[Any]) -> list[Any]:
    """Drop a temporary whose expression repeats an earlier one in scope (after loops are fused,
    two items often compute the same certificate values).

    Only single assignments take part: accumulators (``+=``, ``|=``) are never merged and no
    expression that reads one is reused.
    """
    multi: set[str] = set()
    counts: dict[str, int] = {}

    def scan(xs: list[Any]) -> None:
        for s in xs:
            if isinstance(s, LoopStmt):
                scan(s.body)
            elif isinstance(s, tuple):
                scan(s[1])
            else:
                m = _DEF.match(s)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
                    if "+=" in s[: m.end()] or "|=" in s[: m.end()]:
                        multi.add(m.group(1))

    scan(stmts)
    multi |= {k for k, c in counts.items() if c > 1}

    def block(xs: list[Any], seen: dict[str, str], subst: dict[str, str]) -> list[Any]:
        out: list[Any] = []
        for s in xs:
            if isinstance(s, LoopStmt):
                out.append(LoopStmt(s.el, _subst(s.header, subst), block(s.body, dict(seen), subst)))
            elif isinstance(s, tuple):
                out.append((_subst(s[0], subst), block(s[1], dict(seen), subst)))
            else:
                m = _DEF.match(s)
                name = m.group(1) if m else None
                if m is None or name in multi or "=" in s[m.start(1) + len(name or "") : m.end() - 1]:
                    out.append(_subst(s, subst))
                    continue
                assert name is not None
                rhs = _subst(s[m.end() :].strip(), subst)
                if any(v in multi for v in _VAR.findall(rhs)):
                    out.append(f"{name} = {rhs}")
                    continue
                prev = seen.get(rhs)
                if prev is not None:
                    subst[name] = prev
                    continue
                seen[rhs] = name
                out.append(f"{name} = {rhs}")
        return out

    return block(stmts, {}, {})


_FLAG = re.compile(r"^q[0-9]+ \|= (.*)\Z")  # lookup-failure flags only (p: applicability)


def drop_repeated_flags(stmts: list[Any]) -> list[Any]:
    """Drop a lookup-failure flag update whose expression an earlier flag of the same block
    already takes in (two items looking up the same table entry).

    Every flag only ends up in the household's final ``if p | q ...: err = 1``, and after value
    numbering the same lookup reads the same temporaries, so one update per expression is enough.
    """
    out: list[Any] = []
    seen: set[str] = set()
    for s in stmts:
        if isinstance(s, LoopStmt):
            out.append(LoopStmt(s.el, s.header, drop_repeated_flags(s.body)))
        elif isinstance(s, tuple):
            out.append((s[0], drop_repeated_flags(s[1])))
        else:
            m = _FLAG.match(s)
            if m is not None and m.group(1) in seen:
                continue
            if m is not None:
                seen.add(m.group(1))
            out.append(s)
    return out


def fuse(stmts: list[Any]) -> list[Any]:
    """Reorder household statements so that loops over the same elements run as one loop.

    Straight-line statements are emitted as soon as their inputs exist; then every loop whose
    inputs exist is merged with the other ready loops over the same elements. Fewer loops mean
    fewer passes over the certificates / members and fewer mispredicted loop exits.
    """
    info = []
    last_def: dict[str, list[int]] = {}
    for k, s in enumerate(stmts):
        defs: set[str] = set()
        uses: set[str] = set()
        _defs_uses(s, defs, uses)
        deps = {d for u in uses for d in last_def.get(u, ()) if d != k}
        for d in defs:
            last_def.setdefault(d, []).append(k)
        info.append(deps)
    done: set[int] = set()
    remaining = list(range(len(stmts)))
    out: list[Any] = []
    while remaining:
        progress = True
        while progress:
            progress = False
            rest = []
            for k in remaining:
                if not isinstance(stmts[k], LoopStmt) and info[k] <= done:
                    out.append(stmts[k])
                    done.add(k)
                    progress = True
                else:
                    rest.append(k)
            remaining = rest
        ready = [k for k in remaining if isinstance(stmts[k], LoopStmt) and info[k] <= done]
        if not ready:
            if remaining:
                raise AssertionError("statement dependencies form a cycle")
            break
        kinds: dict[str, list[int]] = {}
        for k in ready:
            kinds.setdefault(stmts[k].el, []).append(k)
        for group in kinds.values():
            first = stmts[group[0]]
            out.append(LoopStmt(first.el, first.header, [x for k in group for x in stmts[k].body]))
        done.update(ready)
        remaining = [k for k in remaining if k not in done]
    return out
