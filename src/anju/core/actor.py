"""Who is acting: passed into every service call that writes, so audit never guesses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The person (or system job) performing an action."""

    user_id: int | None
    username: str
    display_name: str
    role: str
    ip: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """An actor for CLI jobs run by an operator without a user account."""
        return cls(user_id=None, username=name, display_name="系统", role="admin")
