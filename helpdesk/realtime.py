"""Fan-out of domain events to Channels groups, after commit.

Groups (the websocket protocol in docs/chat-protocol.md subscribes sockets to them):
- `ticket.<id>.staff`: everything that happens on a ticket (messages, status, assignment, field and
  SLA changes), for agents viewing it;
- `ticket.<id>.public`: only what the customer may see (never internal notes or system events);
- `inbox.<id>`: ticket-level changes for agents watching an inbox list;
- `user.<id>`: assignments, for the agent concerned.
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from helpdesk.channel_layer import BatchingRedisChannelLayer
from helpdesk.events import DomainEvent, MessageCreated, TicketAssigned, TicketChanged, TicketStatusChanged, subscribe

logger = logging.getLogger(__name__)

GROUP_MESSAGE_TYPE = "helpdesk.event"  # consumers handle it in `helpdesk_event`
# TicketChanged actions that have an event of their own (TicketStatusChanged, TicketAssigned).
ANNOUNCED_SEPARATELY = frozenset({"created", "status_changed", "assigned"})
SEND_TIMEOUT = 10  # seconds; a channel layer that does not answer must not hold a request or a worker forever


def ticket_group(ticket_id: int, *, public: bool) -> str:
    return f"ticket.{ticket_id}.{'public' if public else 'staff'}"


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def groups_for(event: DomainEvent) -> list[str]:
    if isinstance(event, MessageCreated):
        groups = [ticket_group(event.ticket_id, public=False), inbox_group(event.inbox_id)]
        if event.is_public:
            groups.append(ticket_group(event.ticket_id, public=True))
        return groups
    if isinstance(event, TicketStatusChanged):
        return [
            ticket_group(event.ticket_id, public=False),
            ticket_group(event.ticket_id, public=True),
            inbox_group(event.inbox_id),
        ]
    if isinstance(event, TicketAssigned):
        groups = [ticket_group(event.ticket_id, public=False), inbox_group(event.inbox_id)]
        groups += [user_group(pk) for pk in {event.assignee_id, event.previous_assignee_id} if pk]
        return groups
    if isinstance(event, TicketChanged) and event.action not in ANNOUNCED_SEPARATELY:
        # Field changes and SLA warnings matter to agents only.
        return [ticket_group(event.ticket_id, public=False)]
    return []


def send_to_groups(events: list[DomainEvent]) -> None:
    """After commit: every group message of events published together, sent in one go."""
    layer = get_channel_layer()
    sends = [
        (group, {"type": GROUP_MESSAGE_TYPE, "event": event.payload()})
        for event in events
        for group in groups_for(event)
    ]
    if layer is None or not sends:
        return
    if isinstance(layer, BatchingRedisChannelLayer):
        _redis_loop.run(layer.group_send_many(sends))
        return

    async def send_all() -> None:
        for group, message in sends:  # in order: a socket sees a ticket's events as they happened
            await layer.group_send(group, message)

    # The in-memory layer lives in the server's event loop: async_to_sync finds it from a request thread.
    async_to_sync(send_all)()


class _LayerLoop:
    """An event loop of its own, in a thread, for sending to Redis from synchronous code (views, Celery
    workers): one loop and one connection pool for the life of the process, where async_to_sync would start
    a thread, a loop and a Redis connection for every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine) -> None:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked worker starts its own
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                threading.Thread(target=self._loop.run_forever, name="channel-layer", daemon=True).start()
            loop = self._loop
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=SEND_TIMEOUT)


_redis_loop = _LayerLoop()


def connect() -> None:
    subscribe((MessageCreated, TicketStatusChanged, TicketAssigned, TicketChanged), send_to_groups, batch=True)
