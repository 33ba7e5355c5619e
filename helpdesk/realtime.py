"""Fan-out of domain events to Channels groups, after commit.

Groups (the websocket protocol in docs/chat-protocol.md subscribes sockets to them):
- `ticket.<id>.staff`: everything that happens on a ticket (messages, status, assignment, field and
  SLA changes), for agents viewing it;
- `ticket.<id>.public`: only what the customer may see (never internal notes or system events);
- `inbox.<id>`: ticket-level changes for agents watching an inbox list;
- `user.<id>`: assignments, for the agent concerned.
"""

import asyncio
import functools
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from helpdesk.channel_layer import BatchingPubSubChannelLayer, BatchingRedisChannelLayer
from helpdesk.events import DomainEvent, MessageCreated, TicketAssigned, TicketChanged, TicketStatusChanged, subscribe
from helpdesk.models import Message

logger = logging.getLogger(__name__)

BATCHING_LAYERS = (BatchingRedisChannelLayer, BatchingPubSubChannelLayer)

GROUP_MESSAGE_TYPE = "helpdesk.event"  # consumers handle it in `helpdesk_event`
# TicketChanged actions that have an event of their own (TicketStatusChanged, TicketAssigned).
ANNOUNCED_SEPARATELY = frozenset({"created", "status_changed", "assigned"})
FEW_MESSAGES = 20  # at most this many messages just posted: serialized without asking who listens first
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
    """After commit: every group message of events published together, sent in one go. A stored message
    travels with its event, serialized once (as the REST timeline shows it), for the groups someone listens
    to: sockets forward it without reading the database again."""
    sends = [(group, event) for event in events for group in groups_for(event)]
    if not sends:
        return
    created = [event for event in events if isinstance(event, MessageCreated)]
    if len(created) > FEW_MESSAGES or any(event.message is None for event in created):
        # Ask Redis who listens first: most of a large batch goes to tickets nobody has open, and a message
        # read back from the database costs more than the round trip. A few messages in memory are serialized
        # at once, and the layer skips the groups nobody listens to as it sends (one round trip less).
        listened = _listened(get_channel_layer(), {group for group, _ in sends})
        sends = [(group, event) for group, event in sends if group in listened]
    messages = _serialized_messages([e for _, e in sends if isinstance(e, MessageCreated)])
    send([(group, _group_message(event, messages.get(getattr(event, "message_id", None)))) for group, event in sends])


def send(sends: list[tuple[str, dict]]) -> None:
    """Send group messages, in order, from synchronous code (after a commit)."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    if isinstance(layer, BATCHING_LAYERS):
        _redis_loop.run(layer.group_send_many(sends))
        return

    async def send_all() -> None:
        for group, message in sends:  # in order: a socket sees a ticket's events as they happened
            await layer.group_send(group, message)

    # The in-memory layer lives in the server's event loop: async_to_sync finds it from a request thread.
    async_to_sync(send_all)()


def _group_message(event: DomainEvent, message: dict | None) -> dict:
    group_message = {"type": GROUP_MESSAGE_TYPE, "event": event.payload()}
    if message is not None:
        group_message["message"] = message
    return group_message


def _listened(layer, groups: set[str]) -> set[str]:
    """The groups with at least one socket in them (all of them when the layer cannot tell)."""
    if isinstance(layer, BATCHING_LAYERS):
        return _redis_loop.run(layer.listened_groups(groups))
    members = getattr(layer, "groups", None)  # the in-memory layer's own bookkeeping
    return {group for group in groups if members.get(group)} if isinstance(members, dict) else groups


def _serialized_messages(events: list[MessageCreated]) -> dict[int, dict]:
    """The messages as the REST timeline shows them: those just posted from the instances their events carry
    (they have no attachments), the others read back."""
    serialized = {}
    for event in events:
        if event.message is not None and event.message.pk is not None and event.message_id not in serialized:
            serialized[event.message_id] = _just_posted().to_representation(event.message)
    missing = {event.message_id for event in events} - serialized.keys()
    if missing:
        from helpdesk.api.serializers import MessageSerializer  # the API's shape; imported late: DRF settings

        rows = (
            Message.objects.filter(pk__in=missing)
            .select_related("author_user__agent_profile", "author_customer")
            .prefetch_related("attachments")
        )
        serialized |= {row["id"]: row for row in MessageSerializer(rows, many=True).data}
    return serialized


@functools.cache
def _just_posted():
    """One serializer for the messages just posted, its fields built once (they cost more than the message)."""
    from rest_framework import serializers

    from helpdesk.api.serializers import MessageSerializer

    class JustPosted(MessageSerializer):
        attachments = serializers.SerializerMethodField()

        def get_attachments(self, message) -> list:
            return []  # a message with attachments is read back from the database

    return JustPosted()


class _LayerLoop:
    """An event loop of its own, in a thread, for sending to Redis from synchronous code (views, Celery
    workers): one loop and one connection pool for the life of the process, where async_to_sync would start
    a thread, a loop and a Redis connection for every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine):
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked worker starts its own
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                threading.Thread(target=self._loop.run_forever, name="channel-layer", daemon=True).start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=SEND_TIMEOUT)


_redis_loop = _LayerLoop()


def connect() -> None:
    subscribe((MessageCreated, TicketStatusChanged, TicketAssigned, TicketChanged), send_to_groups, batch=True)
