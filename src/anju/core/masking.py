"""Masking of personal data for roles that need not see it in full."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """``330102199001011234`` -> ``330102********1234`` (region and last four kept)."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``."""
    if len(value) < 7:
        return value
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**`` (public disclosures)."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def mask_account(value: str) -> str:
    """A bank account for roles that need not see it: ``6222021234567890`` -> ``6222********7890``
    (first and last four kept when at least 12 digits, else only the last four)."""
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 12:
        return "*" * (len(digits) - 4) + digits[-4:]
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]
