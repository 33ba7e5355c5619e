"""Intake: store what arrives first, then turn it into messages in batches.

Every webhook, mail pipe and poller hands what it received to `accept`: one INSERT per request, an item
seen before (same key) is ignored, and the sender gets its answer as soon as the item is safe in the
database (a LINE webhook is answered in milliseconds; Redis may lose a queued task, PostgreSQL keeps the
item). `process_pending` claims waiting items in batches and turns them into messages through the
pipeline: a batch is one transaction, so a hundred messages cost a few dozen statements, not thousands.

Each channel registers how its items become pipeline arrivals (`register`): the email channel parses raw
mail, LINE reads events and fetches profiles and media. An item that is not a message (a bounce, a loop, a
LINE follow) is settled on its own. A batch that fails is retried item by item, so one bad item never holds
up the others: the channel decides whether a failed item is quarantined or tried again later.

With Celery eager (the embedded default and the tests) items are processed right after they are accepted,
in the same process; with workers, one task at a time is scheduled (a flag in the cache) and drains the
queue; a periodic sweep releases items of a worker that died and retries failed ones after a backoff.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Length
from django.utils import timezone

from channels_app.models import InboundItem, IntakeStatus, Quarantine
from channels_app.pipeline import Arrival, Received, receive_all
from helpdesk.bulk import insert_ignoring_conflicts, update_rows

logger = logging.getLogger(__name__)

BATCH_SIZE = 250  # items per transaction at most; under load, batches fill up and each item costs less
BATCH_BYTES = 64 * 1024 * 1024  # and no more raw mail than this in memory at once (at least one item)
MAX_ATTEMPTS = 6
SCHEDULED = "channels_app:intake:scheduled"  # set while a processing task is queued or starting


@dataclasses.dataclass(frozen=True)
class Incoming:
    channel: str
    key: str  # the same item again has the same key: "<channel>:<inbox id or 0>:<the channel's own id>"
    source: str  # IntakeSource
    payload: bytes
    inbox_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Settled:
    """An item that becomes no new message: a duplicate, a loop, a bounce, a quarantined mail, a LINE follow.
    `action` records what must be recorded, in the transaction that marks the item done."""

    outcome: str
    detail: str = ""
    action: Callable[[], Quarantine | None] | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one item."""

    outcome: str  # "stored", "duplicate", "loop", "bounce", "quarantined", "ignored", "queued", "retrying"...
    detail: str = ""
    received: Received | None = None
    quarantine: Quarantine | None = None


class ChannelIntake(Protocol):
    def arrivals(self, items: list[InboundItem]) -> list[Arrival | Settled]:
        """The items as pipeline arrivals (or settled here), in order."""

    def give_up(self, item: InboundItem, error: Exception) -> Settled | None:
        """An item the pipeline could not store: settle it (quarantine), or None to try again later."""


_channels: dict[str, ChannelIntake] = {}


def register(channel: str, intake: ChannelIntake) -> None:
    _channels[channel] = intake


def accept(incoming: Sequence[Incoming], *, schedule: bool = True) -> None:
    """Store the items; an item stored before (same key) is left as it is. Processing is scheduled for after
    the commit, unless the caller processes the items itself (`process_items`).

    One INSERT ... ON CONFLICT DO NOTHING, with no transaction around it: this runs for every webhook and
    every mail, and is the whole of what a LINE webhook waits for."""
    rows = [
        InboundItem(
            channel=item.channel, key=item.key, source=item.source, inbox_id=item.inbox_id, payload=item.payload
        )
        for item in {item.key: item for item in incoming}.values()
    ]
    if rows:
        insert_ignoring_conflicts(rows, conflict_on="key")
    if schedule:
        transaction.on_commit(schedule_processing)


def known(keys: Sequence[str]) -> set[str]:
    """The keys of items stored before."""
    return set(InboundItem.objects.filter(key__in=keys).values_list("key", flat=True))


def schedule_processing() -> None:
    """Have the waiting items processed: now, in this process (Celery eager), or by one queued task."""
    from channels_app.tasks import process_inbound

    if process_inbound.app.conf.task_always_eager:
        process_pending()
    elif _scheduled.set():
        process_inbound.delay()


class _Flag:
    """ "A processing task is queued": a key in Redis (shared by every process; set on every accepted item, so
    a plain SET NX rather than the cache framework's slower `add`), or in the cache without Redis."""

    TIMEOUT = 60  # a task lost on the way (a worker that died) blocks new ones no longer than this

    def __init__(self, key: str) -> None:
        self.key = key
        self._redis = None

    def _client(self):
        if self._redis is None and settings.REDIS_URL:
            self._redis = redis.Redis.from_url(settings.REDIS_URL)
        return self._redis

    def set(self) -> bool:
        """True when the flag was not set: the caller queues the task."""
        client = self._client()
        if client is None:
            return cache.add(self.key, 1, timeout=self.TIMEOUT)
        return bool(client.set(self.key, 1, nx=True, ex=self.TIMEOUT))

    def clear(self) -> None:
        client = self._client()
        if client is None:
            cache.delete(self.key)
        else:
            client.delete(self.key)


_scheduled = _Flag(SCHEDULED)


def process_pending(*, batch_size: int = BATCH_SIZE) -> int:
    """Process waiting items, batch after batch, until none is left; returns how many were processed."""
    processed = 0
    while True:
        _scheduled.clear()  # an item accepted from now on schedules another run
        outcomes = _process_batch(batch_size)
        if not outcomes:
            return processed
        processed += len(outcomes)


def process_items(keys: Sequence[str]) -> dict[str, Outcome]:
    """Process these items now, if they are still waiting (an item another worker holds is left to it)."""
    return _process_batch(len(keys), keys=keys)


def requeue(key: str) -> bool:
    """Put an item that was quarantined or given up back in the queue (an admin retrying it)."""
    retryable = Q(status=IntakeStatus.FAILED) | Q(outcome="quarantined")
    return bool(
        InboundItem.objects.filter(retryable, key=key).update(
            status=IntakeStatus.PENDING, outcome="", attempts=0, not_before=None
        )
    )


def purge(*, now=None) -> int:
    """Delete processed items past their retention (failed ones stay for an admin); returns how many."""
    keep = timedelta(days=settings.HELPDESK_INBOUND_RETENTION_DAYS)
    purged, _ = InboundItem.objects.filter(
        status=IntakeStatus.DONE, processed_at__lt=(now or timezone.now()) - keep
    ).delete()
    return purged


def _process_batch(limit: int, *, keys: Sequence[str] | None = None) -> dict[str, Outcome]:
    """Claim up to `limit` waiting items and process them in one transaction: the claim is the rows' lock
    (other workers skip locked rows), so a worker that dies leaves its items waiting, nothing half-done. If
    the batch fails, its items are processed one by one, each in a transaction of its own."""
    items: list[InboundItem] = []
    try:
        with transaction.atomic():
            items = _claim(limit, keys=keys)
            return _process(items)
    except Exception as error:
        if not items:
            raise  # the claim itself failed (the database is away): the items wait for the next run
        if len(items) == 1:
            logger.exception("intake: %s item #%s could not be stored", items[0].channel, items[0].pk)
            return {items[0].key: _failed(items[0], error)}
        logger.warning("intake: a batch of %s failed; processing its items one by one", len(items), exc_info=True)
    outcomes = {}
    for item in items:
        outcomes.update(_process_batch(1, keys=[item.key]))
    return outcomes


def _claim(limit: int, *, keys: Sequence[str] | None = None) -> list[InboundItem]:
    """Lock up to `limit` waiting items (up to BATCH_BYTES of payload), oldest first, for the transaction;
    other workers skip them."""
    due = InboundItem.objects.filter(status=IntakeStatus.PENDING).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=timezone.now())
    )
    if keys is not None:
        due = due.filter(key__in=keys)
    locked = due.select_for_update(skip_locked=True, of=("self",)).select_related("inbox").order_by("pk")
    items = list(locked.defer("payload").annotate(size=Length("payload"))[:limit])
    total, chosen = 0, []
    for item in items:  # the rest stay locked, untouched, until this transaction ends
        total += item.size
        if chosen and total > BATCH_BYTES:
            break
        chosen.append(item)
    payloads = dict(InboundItem.objects.filter(pk__in=[item.pk for item in chosen]).values_list("pk", "payload"))
    for item in chosen:
        item.payload = payloads[item.pk]
    return chosen


def _process(items: list[InboundItem]) -> dict[str, Outcome]:
    """Turn claimed items into messages (or settle them); run inside the claiming transaction."""
    outcomes: dict[str, Outcome] = {}
    arrivals: list[tuple[InboundItem, Arrival]] = []
    for channel in dict.fromkeys(item.channel for item in items):
        mine = [item for item in items if item.channel == channel]
        for item, result in zip(mine, _channels[channel].arrivals(mine), strict=True):
            if isinstance(result, Arrival):
                arrivals.append((item, result))
            else:
                outcomes[item.key] = _settle(item, result)
    if arrivals:
        received = receive_all([arrival for _, arrival in arrivals])
        _finish([item for item, _ in arrivals], received)
        outcomes.update(
            {item.key: Outcome(r.outcome, received=r) for (item, _), r in zip(arrivals, received, strict=True)}
        )
    return {item.key: outcomes[item.key] for item in items}


def _finish(items: list[InboundItem], received: list[Received]) -> None:
    now = timezone.now()
    for item, result in zip(items, received, strict=True):
        item.status, item.outcome, item.message = IntakeStatus.DONE, result.outcome, result.message
        item.detail, item.processed_at = "", now
    update_rows(items, ["status", "outcome", "message", "detail", "processed_at"])


def _settle(item: InboundItem, settled: Settled) -> Outcome:
    quarantine = settled.action() if settled.action is not None else None
    InboundItem.objects.filter(pk=item.pk).update(
        status=IntakeStatus.DONE, outcome=settled.outcome, detail=settled.detail[:2000], processed_at=timezone.now()
    )
    return Outcome(settled.outcome, settled.detail, quarantine=quarantine)


@transaction.atomic
def _failed(item: InboundItem, error: Exception) -> Outcome:
    settled = _channels[item.channel].give_up(item, error)
    if settled is not None:
        return _settle(item, settled)
    attempts = item.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    InboundItem.objects.filter(pk=item.pk, status=IntakeStatus.PENDING).update(
        status=IntakeStatus.FAILED if gave_up else IntakeStatus.PENDING,
        attempts=attempts,
        detail=str(error)[:2000],
        not_before=None if gave_up else timezone.now() + timedelta(seconds=30 * 4 ** (attempts - 1)),
    )
    return Outcome("failed" if gave_up else "retrying", str(error))
