"""Which ticket an inbound item continues. Documented in docs/channels.md ("Threading").

In order: (1) our own Message-ID in In-Reply-To/References, or an earlier message of the same
conversation by its external id; (2) a `[#123]` ticket token in the subject; (3) a channel-level
conversation (a LINE group); (4) the customer's most recent unsolved ticket (not a group chat's), within
the inbox's continuity window. A sender who is not the referenced ticket's customer never joins it: they get a
new ticket, flagged for an agent to look at. A closed ticket is never continued: a follow-up opens.

A batch of items is threaded together: everything the rules look at is read (and the candidate tickets
locked) in a few queries up front, then the items are decided in order, each one seeing what the earlier
ones of the batch did (a reply to a mail of the same batch joins that mail's ticket, even a new one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from channels_app.adapters import InboundMessage
from channels_app.email.tokens import ticket_of_message_id, ticket_of_subject
from channels_app.models import Conversation
from customers.models import Customer
from helpdesk.models import Inbox, Message, Ticket, TicketStatus

UNSOLVED = (TicketStatus.BOT, TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


@dataclasses.dataclass(eq=False)
class NewTicket:
    """A ticket the batch will open (for the item that asked for it, and any later item that joins it)."""

    customer: Customer
    ticket: Ticket | None = None  # once opened


Target = Ticket | NewTicket


@dataclasses.dataclass(frozen=True)
class ThreadDecision:
    target: Target
    rule: str  # which rule decided, for the timeline and the docs: "reference", "subject", ..., "new"
    refused_ticket_id: int | None = None  # a referenced ticket the sender may not join
    follow_up_of: Ticket | None = None  # the closed ticket this item would have continued


@dataclasses.dataclass(frozen=True)
class Item:
    inbox: Inbox
    inbound: InboundMessage
    customer: Customer
    continuity_hours: int


class Threader:
    """Decides items in order. Construct it inside the transaction that stores them: it locks the tickets
    the items may continue (in id order), so a ticket cannot be closed or renumbered under the decision."""

    def __init__(self, items: Sequence[Item], *, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        by_pk = _ticket_ids_named(items)
        by_reference = _referenced_messages(items)
        conversations = _conversations(items)
        recent = _recent_tickets(items, self.now)
        candidates = set(by_pk.values()) | {t for _, t in by_reference.values()} | set(conversations.values())
        candidates |= {ticket_id for ticket_id, _ in recent.values()}
        self.tickets = {
            ticket.pk: ticket for ticket in Ticket.objects.select_for_update().filter(pk__in=candidates).order_by("pk")
        }
        self._named = by_pk
        self._referenced = {key: (message_id, self.tickets.get(t)) for key, (message_id, t) in by_reference.items()}
        self._conversations: dict[tuple[int, str], Target | None] = {
            key: self.tickets.get(ticket_id) for key, ticket_id in conversations.items()
        }
        self._recent: dict[int, tuple[Target | None, datetime]] = {
            customer_id: (self.tickets.get(ticket_id), updated_at)
            for customer_id, (ticket_id, updated_at) in recent.items()
        }
        self._stored_in_batch: dict[tuple[int, str], Target] = {}

    def decide(self, item: Item) -> ThreadDecision:
        decision = self._decide(item)
        target = decision.target
        if isinstance(target, Ticket) and target.status == TicketStatus.CLOSED:
            decision = dataclasses.replace(decision, target=NewTicket(item.customer), follow_up_of=target)
        self._remember(item, decision.target)
        return decision

    def _decide(self, item: Item) -> ThreadDecision:
        inbound, customer = item.inbound, item.customer
        referenced = self._referenced_target(item)
        if referenced is not None:
            target, rule = referenced
            if _customer_of(target) != customer.pk:
                refused = target.pk if isinstance(target, Ticket) else None
                return ThreadDecision(NewTicket(customer), "new", refused_ticket_id=refused)
            return ThreadDecision(target, rule)
        if inbound.conversation_key:
            target = self._conversations.get((item.inbox.pk, inbound.conversation_key))
            if target is not None and not _is_closed(target):
                return ThreadDecision(target, "conversation")
            return ThreadDecision(NewTicket(customer), "new")
        if item.continuity_hours:
            target, updated_at = self._recent.get(customer.pk, (None, None))
            if target is not None and updated_at >= self.now - timedelta(hours=item.continuity_hours):
                return ThreadDecision(target, "recent")
        return ThreadDecision(NewTicket(customer), "new")

    def _referenced_target(self, item: Item) -> tuple[Target, str] | None:
        inbound = item.inbound
        for reference in reversed(inbound.replies_to):  # the most recent reference first
            ticket = self.tickets.get(self._named.get(reference, 0))
            if ticket is not None:
                return ticket, "reference"
        for reference in reversed(inbound.replies_to):  # an item of this batch is the most recent message
            target = self._stored_in_batch.get((item.inbox.pk, reference))
            if target is not None:
                return target, "reference"
        earlier = [self._referenced.get((item.inbox.pk, reference)) for reference in inbound.replies_to]
        earlier = [found for found in earlier if found is not None and found[1] is not None]
        if earlier:
            return max(earlier, key=lambda found: found[0])[1], "reference"
        ticket = self.tickets.get(self._named.get(_subject_key(inbound.subject), 0))
        if ticket is not None:
            return ticket, "subject"
        return None

    def _remember(self, item: Item, target: Target) -> None:
        inbound = item.inbound
        self._stored_in_batch[(item.inbox.pk, inbound.external_id)] = target
        if inbound.conversation_key:
            self._conversations[(item.inbox.pk, inbound.conversation_key)] = target
        else:  # a group chat's ticket is the group's, not the next one-to-one message's
            self._recent[item.customer.pk] = (target, self.now)


def _customer_of(target: Target) -> int:
    return target.customer_id if isinstance(target, Ticket) else target.customer.pk


def _is_closed(target: Target) -> bool:
    return isinstance(target, Ticket) and target.status == TicketStatus.CLOSED


def _subject_key(subject: str) -> str:
    return f"subject:{subject}"


def _ticket_ids_named(items: Sequence[Item]) -> dict[str, int]:
    """Ticket ids our own Message-IDs (in references) and subject tokens name, by the text naming them."""
    named = {}
    for item in items:
        for reference in item.inbound.replies_to:
            ticket_id = ticket_of_message_id(reference)
            if ticket_id is not None:
                named[reference] = ticket_id
        ticket_id = ticket_of_subject(item.inbound.subject)
        if ticket_id is not None:
            named[_subject_key(item.inbound.subject)] = ticket_id
    return named


def _referenced_messages(items: Sequence[Item]) -> dict[tuple[int, str], tuple[int, int]]:
    """(inbox, external id) of stored messages the items refer to -> (message id, ticket id)."""
    wanted = {(item.inbox.pk, reference) for item in items for reference in item.inbound.replies_to}
    if not wanted:
        return {}
    rows = Message.objects.filter(
        inbox_id__in={inbox_id for inbox_id, _ in wanted}, external_id__in={external_id for _, external_id in wanted}
    ).values_list("inbox_id", "external_id", "pk", "ticket_id")
    return {(inbox_id, external_id): (pk, ticket_id) for inbox_id, external_id, pk, ticket_id in rows}


def _conversations(items: Sequence[Item]) -> dict[tuple[int, str], int]:
    wanted = {(item.inbox.pk, item.inbound.conversation_key) for item in items if item.inbound.conversation_key}
    if not wanted:
        return {}
    query = Q()
    for inbox_id, key in wanted:
        query |= Q(inbox_id=inbox_id, key=key)
    return {
        (inbox_id, key): ticket_id
        for inbox_id, key, ticket_id in Conversation.objects.filter(query).values_list("inbox_id", "key", "ticket_id")
    }


def _recent_tickets(items: Sequence[Item], now: datetime) -> dict[int, tuple[int, datetime]]:
    """Each customer's most recently updated unsolved ticket within the widest continuity window asked, group
    chats left out."""
    windows = [item.continuity_hours for item in items if item.continuity_hours and not item.inbound.conversation_key]
    if not windows:
        return {}
    customers = {item.customer.pk for item in items if item.continuity_hours and not item.inbound.conversation_key}
    rows = (
        Ticket.objects.filter(
            customer_id__in=customers, status__in=UNSOLVED, updated_at__gte=now - timedelta(hours=max(windows))
        )
        .exclude(pk__in=Conversation.objects.values("ticket_id"))  # group chats continue only by their group
        .order_by("-updated_at", "-id")
        .values_list("customer_id", "pk", "updated_at")
    )
    recent: dict[int, tuple[int, datetime]] = {}
    for customer_id, ticket_id, updated_at in rows:
        recent.setdefault(customer_id, (ticket_id, updated_at))
    return recent
