"""Timestamps as evalgate writes them: UTC, ISO 8601, to the second unless asked otherwise."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now(timespec: str = "seconds") -> str:
    return datetime.now(timezone.utc).isoformat(timespec=timespec)
