"""A small process-local cache with a time to live, kept on the app (app.extensions).

Each gunicorn worker holds its own copy, so a cached value is at most `ttl` seconds old in any
worker. Time is read from taskflow.core.clock, so tests move it with clock.frozen_at. Only
content that is the same for every user allowed to see it belongs here (never a whole page: the
page carries the session's CSRF token and the user's name).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Hashable

from flask import Flask, current_app

from taskflow.core import clock

EXTENSION_KEY = "taskflow_cache"


@dataclass(frozen=True)
class Entry:
    value: Any
    stored_at: datetime  # UTC


class TTLCache:
    """{key: value} where each value expires `ttl` seconds after it was stored."""

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._entries: dict[Hashable, Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, ttl: float) -> Entry | None:
        """The fresh entry for `key`, or None (missing, expired, or ttl <= 0)."""
        if ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            age = clock.utcnow() - entry.stored_at
            if age < timedelta(0) or age >= timedelta(seconds=ttl):
                del self._entries[key]
                return None
            return entry

    def put(self, key: Hashable, value: Any) -> Entry:
        entry = Entry(value, clock.utcnow())
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.max_entries:
                # Drop the oldest entry: the keys carry the date, so old ones are dead anyway.
                oldest = min(self._entries, key=lambda k: self._entries[k].stored_at)
                del self._entries[oldest]
            self._entries[key] = entry
        return entry

    def get_or_compute(self, key: Hashable, ttl: float, compute: Callable[[], Any]) -> Entry:
        """The cached entry, or compute the value now (and keep it when ttl > 0)."""
        entry = self.get(key, ttl)
        if entry is not None:
            return entry
        value = compute()
        if ttl <= 0:
            return Entry(value, clock.utcnow())
        return self.put(key, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def app_cache(name: str, app: Flask | None = None, *, max_entries: int = 64) -> TTLCache:
    """The app's cache called `name` (created on first use, holding at most `max_entries`)."""
    app = app or current_app._get_current_object()
    caches = app.extensions.setdefault(EXTENSION_KEY, {})
    cache = caches.get(name)
    if cache is None:
        cache = caches.setdefault(name, TTLCache(max_entries))
    return cache


def ttl_setting(name: str, app: Flask | None = None) -> float:
    """Seconds from the declared setting app.config[name] (config.py); never negative."""
    app = app or current_app
    return max(0.0, float(app.config[name]))
