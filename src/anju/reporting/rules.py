"""Pure rules of issued reports."""

from __future__ import annotations

REPORT_STATUSES = {"draft": "草稿", "issued": "已签发"}
