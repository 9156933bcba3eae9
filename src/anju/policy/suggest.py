""" "Did you mean" for names a policy, a cases file or a command line gets wrong.

Close matches are found with :mod:`difflib` (the same ratio the Python interpreter uses for its own
hints); a message names at most three, nearest first, in Chinese and in English.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_SUGGESTIONS = 3
CUTOFF = 0.6  # difflib's default: "house_rte" finds "house_rate", "abc" finds nothing


def close_matches(word: str, candidates: Iterable[object]) -> list[str]:
    """The candidates closest to ``word`` (case-insensitive), nearest first; ``word`` itself is left out."""
    names = sorted({str(c) for c in candidates} - {word})
    lowered: dict[str, str] = {}
    for n in names:
        lowered.setdefault(n.lower(), n)
    found = difflib.get_close_matches(word.lower(), list(lowered), n=MAX_SUGGESTIONS, cutoff=CUTOFF)
    return [lowered[f] for f in found]


def did_you_mean(word: str, candidates: Iterable[object]) -> tuple[str, str]:
    """Suffixes for a message in Chinese and in English: ``（是不是“house_rate”？）`` and
    `` (did you mean 'house_rate'?)``; two empty strings when nothing is close."""
    found = close_matches(word, candidates)
    if not found:
        return "", ""
    zh = "或".join(f"“{f}”" for f in found)
    en = " or ".join(f"'{f}'" for f in found)
    return f"（是不是{zh}？）", f" (did you mean {en}?)"
