"""Errors of the policy engine: every message names the place (file, line, column) and is given
in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a policy file; line and column are 1-based (0 when unknown)."""

    file: str = "<policy>"
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One error found in a policy, with a stable code and both language versions."""

    code: str
    message_zh: str
    message_en: str
    location: Location = Location()

    def __str__(self) -> str:
        return f"{self.location}: [{self.code}] {self.message_zh} / {self.message_en}"


class PolicyError(Exception):
    """A policy could not be loaded or checked; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class EvaluationError(Exception):
    """A household could not be evaluated (e.g. missing group facts, flat area over the limit)."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"[{code}] {message_zh} / {message_en}")
