"""Configuration that the hot paths read for every batch of inbound messages (routing rules, SLA targets,
business hours, teams, inboxes, mailboxes, LINE accounts), kept in each process until it changes.

Saving or deleting a watched model (the admin, the API, a migration) stamps a new configuration version in
the shared cache (Redis in production, so every process sees it); `cached` reloads a value once the
version it was loaded under is no longer current. The stamp is set at once (this process) and again after
the commit (a process that reloaded in between would otherwise keep the old rows under the new stamp).
Other processes look at the stamp at most once per `RECHECK_SECONDS`, so a change reaches them within it.
Bulk writes send no signals: code that bulk-creates watched rows calls `changed()`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

VERSION_KEY = "helpdesk:configuration-version"

RECHECK_SECONDS = 1.0

T = TypeVar("T")
_values: dict[str, tuple[str, object]] = {}
_seen = {"version": "", "at": 0.0}


def cached(name: str, load: Callable[[], T]) -> T:
    """`load()`'s value, as loaded under the current configuration version."""
    version = current_version()
    entry = _values.get(name)
    if entry is None or entry[0] != version:
        entry = (version, load())
        _values[name] = entry
    return entry[1]  # type: ignore[return-value]


def current_version() -> str:
    if time.monotonic() - _seen["at"] < RECHECK_SECONDS:
        return _seen["version"]
    version = cache.get(VERSION_KEY)
    if version is None:  # a fresh cache (or Redis restarted): start a version nobody has loaded under
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    _seen.update(version=version, at=time.monotonic())
    return version


def watch(*watched: type[models.Model]) -> None:
    """Changes to these models (and their many-to-many relations) make cached configuration stale."""
    for model in watched:
        post_save.connect(changed, sender=model, dispatch_uid=f"configuration:{model._meta.label}:save")
        post_delete.connect(changed, sender=model, dispatch_uid=f"configuration:{model._meta.label}:delete")
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(
                changed, sender=field.remote_field.through, dispatch_uid=f"configuration:{model._meta.label}:{field}"
            )


def changed(**kwargs) -> None:
    """Cached configuration is stale (a signal receiver, or called after bulk writes)."""
    _stamp()
    transaction.on_commit(_stamp)


def forget() -> None:
    """Drop what this process holds (tests start each with an empty cache and database)."""
    _values.clear()
    _seen.update(version="", at=0.0)


def _stamp() -> None:
    version = uuid.uuid4().hex
    cache.set(VERSION_KEY, version, timeout=None)
    _seen.update(version=version, at=time.monotonic())
