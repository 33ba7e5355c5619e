"""The one inbound path for every channel.

parsed items -> deduplicate by (inbox, external id) -> identify the customers -> thread each to a ticket or
open one (routed as it opens) -> post the Messages through the one service -> acknowledge new tickets.

Items are received in batches (`receive_all`; `receive` is a batch of one): a burst of mail or a busy LINE
account costs a few dozen statements per batch instead of per message. A batch is one transaction: a
failure writes nothing, and the same item arriving twice (or twice at once) yields one Message.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from django.db import connection, transaction

from channels_app.acknowledge import acknowledge
from channels_app.adapters import InboundMessage
from channels_app.models import ChannelConfig, Conversation, ReplyRoute
from channels_app.threading import Item, NewTicket, ThreadDecision, Threader
from customers.models import Customer, Identity
from customers.services import Caller, identify_customers
from helpdesk.event_text import describe_in_english
from helpdesk.models import AuthorType, Inbox, Message, Ticket, TicketStatus
from helpdesk.services.messages import MessageDraft, NewAttachment, event_draft, post_messages
from helpdesk.services.routing import open_routed_tickets
from helpdesk.services.tickets import TicketDraft, change_status
from helpdesk.workflow import REOPENED_BY_CUSTOMER_REPLY

logger = logging.getLogger(__name__)

FLAG_TAG = "unverified-sender"
# For inboxes with no channel settings of their own: the same default as ChannelConfig's.
DEFAULT_CONTINUITY_HOURS = ChannelConfig._meta.get_field("continue_open_ticket_hours").default
# A concurrent batch stored one of our items first: the batch is rolled back and read again, this often.
ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class Arrival:
    """One item for the pipeline: what arrived, in which inbox, with the inbox's channel settings."""

    inbox: Inbox
    inbound: InboundMessage
    config: ChannelConfig | None = None
    opens_as: str = TicketStatus.NEW  # the status of a ticket this item opens (a chat starts with the bot)


@dataclasses.dataclass(frozen=True)
class Received:
    outcome: str  # "stored" or "duplicate"
    message: Message
    ticket: Ticket
    new_ticket: bool = False
    rule: str = ""


class _RaceLost(Exception):
    """A concurrent transaction stored one of the batch's items first."""


def receive(
    *, inbox: Inbox, inbound: InboundMessage, config: ChannelConfig | None = None, opens_as: str = TicketStatus.NEW
) -> Received:
    """Store one inbound item on the right ticket of the right customer."""
    return receive_all([Arrival(inbox, inbound, config, opens_as)])[0]


def receive_all(arrivals: Sequence[Arrival]) -> list[Received]:
    """Store inbound items, in order; the results match `arrivals`. All or nothing: an item that cannot be
    stored (a sender address that is not one, an empty body) raises and the whole batch writes nothing."""
    attempts_left = ATTEMPTS
    while True:
        try:
            return _receive_all(list(arrivals))
        except _RaceLost:
            attempts_left -= 1
            if not attempts_left:
                raise
            logger.info("an inbound batch of %s raced with another one; reading it again", len(arrivals))


@transaction.atomic
def _receive_all(arrivals: list[Arrival]) -> list[Received | None]:
    results: list[Received | None] = [None] * len(arrivals)
    stored = _stored_messages(arrivals)
    fresh: list[int] = []
    first_of: dict[tuple[int, str], int] = {}
    for index, arrival in enumerate(arrivals):
        key = (arrival.inbox.pk, arrival.inbound.external_id)
        if key in stored:
            message = stored[key]
            results[index] = Received(outcome="duplicate", message=message, ticket=message.ticket)
        elif key in first_of:
            continue  # the same item twice in one batch: answered below, once the first is stored
        else:
            first_of[key] = index
            fresh.append(index)
    if fresh:
        _store([arrivals[index] for index in fresh], fresh, results)
    for index, arrival in enumerate(arrivals):
        if results[index] is None:
            first = results[first_of[(arrival.inbox.pk, arrival.inbound.external_id)]]
            results[index] = Received(outcome="duplicate", message=first.message, ticket=first.ticket)
    return results


def _stored_messages(arrivals: list[Arrival]) -> dict[tuple[int, str], Message]:
    found = Message.objects.select_related("ticket").filter(
        inbox_id__in={arrival.inbox.pk for arrival in arrivals},
        external_id__in={arrival.inbound.external_id for arrival in arrivals},
    )
    return {(message.inbox_id, message.external_id): message for message in found}


def _hold_conversations(items: list[Item]) -> None:
    """Group chats are threaded by their group, not by their members (who are locked as customers): two
    batches with messages of one new group would each open a ticket for it. A transaction-level advisory lock
    per group, taken in one order, makes the second batch wait until the first committed the group's ticket.
    (SQLite runs one writing transaction at a time anyway.)"""
    keys = sorted({(item.inbox.pk, item.inbound.conversation_key) for item in items if item.inbound.conversation_key})
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for inbox_id, key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [inbox_id, key])


def _store(arrivals: list[Arrival], indexes: list[int], results: list[Received | None]) -> None:
    customers = _customers(arrivals)
    items = [
        Item(inbox=a.inbox, inbound=a.inbound, customer=customer, continuity_hours=_continuity(a.config))
        for a, customer in zip(arrivals, customers, strict=True)
    ]
    _hold_conversations(items)
    threader = Threader(items)
    decisions = [threader.decide(item) for item in items]

    # New tickets open with their first message (and routed); later items post onto them afterwards.
    openers: dict[NewTicket, int] = {}
    for position, decision in enumerate(decisions):
        if isinstance(decision.target, NewTicket):
            openers.setdefault(decision.target, position)
    drafts = [
        _ticket_draft(items[position], decisions[position], arrivals[position].opens_as)
        for position in openers.values()
    ]
    opened = open_routed_tickets(drafts) if drafts else []
    first_messages = {}
    for (new_ticket, position), ticket in zip(openers.items(), opened, strict=True):
        if not ticket.first_message.created:
            raise _RaceLost
        new_ticket.ticket = ticket.ticket
        first_messages[position] = ticket.first_message.message

    following = [p for p in range(len(items)) if p not in first_messages]
    posted = post_messages([_message_draft(items[p], _ticket_of(decisions[p].target)) for p in following])
    if any(not item.created for item in posted):
        raise _RaceLost
    messages = first_messages | {p: item.message for p, item in zip(following, posted, strict=True)}

    _remember_routes(items, decisions)
    _reopen_answered(decisions, following)
    for position, item in enumerate(items):
        ticket = _ticket_of(decisions[position].target)
        new_ticket = position in first_messages
        results[indexes[position]] = Received(
            outcome="stored", message=messages[position], ticket=ticket, new_ticket=new_ticket,
            rule=decisions[position].rule,
        )  # fmt: skip
        config = arrivals[position].config
        if new_ticket and config is not None and config.acknowledge and not item.inbound.automated:
            acknowledge(ticket=ticket, channel=item.inbound.channel)


def _continuity(config: ChannelConfig | None) -> int:
    return config.continue_open_ticket_hours if config is not None else DEFAULT_CONTINUITY_HOURS


def _customers(arrivals: list[Arrival]) -> list[Customer]:
    """Who wrote each item (a merged customer stands for the one they were merged into), locked in id order:
    two batches with the same customer thread one after the other, so they agree on the customer's ticket."""
    callers = [
        Caller(kind=a.inbound.sender.kind, value=a.inbound.sender.address, name=a.inbound.sender.name,
               verified=a.inbound.sender.verified)
        for a in arrivals
    ]  # fmt: skip
    identified = identify_customers(callers)
    bouncing = {found.identity.pk for found in identified if found.identity.bouncing_since is not None}
    if bouncing:  # the customer wrote from the address again: it works
        Identity.objects.filter(pk__in=bouncing).update(bouncing_since=None)
    customers = [found.customer.merged_into or found.customer for found in identified]
    locking = Customer.objects.select_for_update().filter(pk__in={c.pk for c in customers}).order_by("pk")
    list(locking.values_list("pk", flat=True))
    return customers


def _ticket_draft(item: Item, decision: ThreadDecision, status: str) -> TicketDraft:
    inbound = item.inbound
    events = []
    if decision.follow_up_of is not None:
        data = {"follow_up_of": decision.follow_up_of.pk}
        events.append(
            event_draft(ticket=None, event="follow_up", text=describe_in_english("follow_up", data), data=data)
        )
    if decision.refused_ticket_id is not None:
        data = {"referenced_ticket": decision.refused_ticket_id}
        text = describe_in_english("unverified_reference", data)
        events.append(event_draft(ticket=None, event="unverified_reference", text=text, data=data))
    return TicketDraft(
        inbox=item.inbox,
        customer=item.customer,
        subject=inbound.subject or _subject_from(inbound),
        channel=inbound.channel,
        status=status,
        tags=(FLAG_TAG,) if decision.refused_ticket_id is not None else (),
        first_message=_message_draft(item, None),
        events=tuple(events),
    )


def _message_draft(item: Item, ticket: Ticket | None) -> MessageDraft:
    inbound = item.inbound
    return MessageDraft(
        ticket=ticket,
        inbox=item.inbox,
        author_type=AuthorType.CUSTOMER,
        author_customer=item.customer,
        body_text=inbound.text,
        body_html=inbound.html,
        channel=inbound.channel,
        external_id=inbound.external_id,
        attachments=[
            NewAttachment(filename=a.filename, content=a.content, content_type=a.content_type, content_id=a.content_id)
            for a in inbound.attachments
        ],
    )


def _ticket_of(target: Ticket | NewTicket) -> Ticket:
    return target.ticket if isinstance(target, NewTicket) else target


def _remember_routes(items: list[Item], decisions: list[ThreadDecision]) -> None:
    """Where answers go (per ticket and channel) and which ticket a channel conversation continues; the
    latest item wins."""
    routes, conversations = {}, {}
    for item, decision in zip(items, decisions, strict=True):
        inbound, ticket = item.inbound, _ticket_of(decision.target)
        routes[(ticket.pk, inbound.channel)] = ReplyRoute(
            ticket=ticket,
            channel=inbound.channel,
            address=inbound.reply_address or inbound.sender.address,
            context=inbound.reply_context,
        )
        if inbound.conversation_key:
            key = (item.inbox.pk, inbound.conversation_key)
            conversations[key] = Conversation(inbox=item.inbox, key=inbound.conversation_key, ticket=ticket)
    ReplyRoute.objects.bulk_create(
        routes.values(),
        update_conflicts=True,
        unique_fields=["ticket", "channel"],
        update_fields=["address", "context", "updated_at"],
    )
    if conversations:
        Conversation.objects.bulk_create(
            conversations.values(),
            update_conflicts=True,
            unique_fields=["inbox", "key"],
            update_fields=["ticket", "updated_at"],
        )


def _reopen_answered(decisions: list[ThreadDecision], following: list[int]) -> None:
    """A customer writing on a pending, on-hold or solved ticket brings it back to the agents."""
    reopened = set()
    for position in following:
        ticket = _ticket_of(decisions[position].target)
        if ticket.status in REOPENED_BY_CUSTOMER_REPLY and ticket.pk not in reopened:
            reopened.add(ticket.pk)
            change_status(ticket=ticket, status=TicketStatus.OPEN, reason="customer replied")


def _subject_from(inbound: InboundMessage) -> str:
    first_line = (inbound.text or "").strip().splitlines()[0] if (inbound.text or "").strip() else ""
    return first_line[:80] or f"New {inbound.channel} conversation"
