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

from django.db import transaction

logger = logging.getLogger(__name__)

Phase = Literal["after_commit", "in_transaction"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    name: ClassVar[str]

    def payload(self) -> dict:
        """The event as plain JSON data, with its name under "type". Events hold JSON values, and at most an
        in-process object for subscribers in the same process, in a field marked `local` (never in the
        payload)."""
        fields = (field for field in dataclasses.fields(self) if not field.metadata.get("local"))
        return {"type": self.name, **{field.name: getattr(self, field.name) for field in fields}}


Handler = Callable[[DomainEvent], None]
BatchHandler = Callable[[list[DomainEvent]], None]


@dataclasses.dataclass(frozen=True)
class _Subscription:
    handler: Callable
    live_only: bool  # acts on the outside world: skipped while history is imported
    batch: bool  # takes the list of events published together, instead of one event at a time


_subscribers: dict[tuple[type[DomainEvent], Phase], list[_Subscription]] = {}
_importing = contextvars.ContextVar("importing_history", default=False)


def subscribe(
    event_type: type[DomainEvent] | tuple[type[DomainEvent], ...],
    handler: Handler | BatchHandler,
    *,
    phase: Phase = "after_commit",
    live_only: bool = False,
    batch: bool = False,
) -> None:
    """`live_only` handlers act on the outside world (sending mail, pushing to LINE): they are skipped
    for events published while history is being imported (demo data, migrations from another tool).

    A `batch` handler is called once with every event of its types that one `publish_all` published (in
    order), so that a thousand messages stored at once cost one round trip to Redis, not a thousand."""
    for kind in event_type if isinstance(event_type, tuple) else (event_type,):
        subscriptions = _subscribers.setdefault((kind, phase), [])
        if all(subscription.handler != handler for subscription in subscriptions):
            subscriptions.append(_Subscription(handler, live_only, batch))


def unsubscribe(event_type: type[DomainEvent], handler: Callable, *, phase: Phase = "after_commit") -> None:
    subscriptions = _subscribers.get((event_type, phase), [])
    subscriptions[:] = [subscription for subscription in subscriptions if subscription.handler != handler]


@contextlib.contextmanager
def importing_history() -> Iterator[None]:
    """Writes made inside happened in the past: nothing is sent to anybody because of them."""
    token = _importing.set(True)
    try:
        yield
    finally:
        _importing.reset(token)


def publish(event: DomainEvent) -> None:
    publish_all([event])


def publish_all(events: list[DomainEvent]) -> None:
    """Publish events that happened together: in-transaction subscribers run now, the others after commit."""
    for event in events:
        # Serializing here makes a payload that is not plain JSON fail where it is made, not in a listener.
        json.dumps(event.payload())
    _dispatch(_calls(events, "in_transaction"))
    calls = _calls(events, "after_commit")
    if calls:
        transaction.on_commit(lambda: _dispatch(calls, robust=True))


def _calls(events: list[DomainEvent], phase: Phase) -> list[tuple[Callable, DomainEvent | list[DomainEvent]]]:
    """Who gets what, in publishing order: single handlers event by event, each batch handler its list once."""
    importing = _importing.get()
    calls: list[tuple[Callable, DomainEvent | list[DomainEvent]]] = []
    batches: dict[Callable, list[DomainEvent]] = {}
    for event in events:
        for subscription in _subscribers.get((type(event), phase), ()):
            if importing and subscription.live_only:
                continue
            if not subscription.batch:
                calls.append((subscription.handler, event))
            elif subscription.handler in batches:
                batches[subscription.handler].append(event)
            else:
                batches[subscription.handler] = [event]
                calls.append((subscription.handler, batches[subscription.handler]))
    return calls


def _dispatch(calls: list[tuple[Callable, DomainEvent | list[DomainEvent]]], *, robust: bool = False) -> None:
    for handler, argument in calls:
        if not robust:
            handler(argument)
            continue
        try:
            handler(argument)
        except Exception:
            # One failing listener (say, the channel layer is down) must not stop the others.
            logger.exception("event listener %r failed", handler)


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
