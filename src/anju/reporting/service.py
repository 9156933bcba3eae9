"""Daily dispatch report (每日调度通报): service."""

from __future__ import annotations
