"""The project's domain-event bus, and the events of the customers app.

The bus lives in the bottom app so that every app can publish through it (helpdesk re-exports it in
`helpdesk/events.py`). Services publish typed events; subscribers register in `AppConfig.ready()`:

- `after_commit` subscribers (the default) run only once the surrounding transaction commits, so a
  rolled-back write never notifies anyone: websocket fan-out, delivery, survey invitations.
- `in_transaction` subscribers run immediately, inside the write, and fail it if they fail: the audit
  trail, which must never disagree with the data it describes.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

Phase = Literal["after_commit", "in_transaction"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    name: ClassVar[str]

    def payload(self) -> dict:
        """The event as plain JSON data, with its name under "type"."""
        data = json.loads(json.dumps(dataclasses.asdict(self), cls=DjangoJSONEncoder))
        return {"type": self.name, **data}


Handler = Callable[[DomainEvent], None]
_subscribers: dict[tuple[type[DomainEvent], Phase], list[Handler]] = {}
_live_only: set[Handler] = set()
_importing = contextvars.ContextVar("importing_history", default=False)


def subscribe(
    event_type: type[DomainEvent], handler: Handler, *, phase: Phase = "after_commit", live_only: bool = False
) -> None:
    """`live_only` handlers act on the outside world (sending mail, pushing to LINE): they are skipped
    for events published while history is being imported (demo data, migrations from another tool)."""
    handlers = _subscribers.setdefault((event_type, phase), [])
    if handler not in handlers:
        handlers.append(handler)
    if live_only:
        _live_only.add(handler)


@contextlib.contextmanager
def importing_history() -> Iterator[None]:
    """Writes made inside happened in the past: nothing is sent to anybody because of them."""
    token = _importing.set(True)
    try:
        yield
    finally:
        _importing.reset(token)


def unsubscribe(event_type: type[DomainEvent], handler: Handler, *, phase: Phase = "after_commit") -> None:
    handlers = _subscribers.get((event_type, phase), [])
    if handler in handlers:
        handlers.remove(handler)


def publish(event: DomainEvent) -> None:
    # Serializing here makes a payload that is not plain JSON fail where it is made, not in a listener.
    event.payload()
    for handler in list(_subscribers.get((type(event), "in_transaction"), [])):
        handler(event)
    handlers = [
        handler
        for handler in _subscribers.get((type(event), "after_commit"), [])
        if not (_importing.get() and handler in _live_only)
    ]
    if handlers:
        transaction.on_commit(lambda: _deliver_after_commit(event, handlers))


def _deliver_after_commit(event: DomainEvent, handlers: list[Handler]) -> None:
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            # One failing listener (say, the channel layer is down) must not stop the others.
            logger.exception("event listener %r failed on %s", handler, event.name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerChanged(DomainEvent):
    name: ClassVar[str] = "customer_changed"
    customer_id: int
    actor_id: int | None
    action: str
    changes: dict


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomersMerged(DomainEvent):
    name: ClassVar[str] = "customers_merged"
    merge_id: int
    source_id: int
    target_id: int
    actor_id: int | None
    undone: bool = False
