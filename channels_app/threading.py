"""Which ticket an inbound item continues. Documented in docs/channels.md ("Threading").

In order: (1) our own Message-ID in In-Reply-To/References, or an earlier message of the same
conversation by its external id; (2) a `[#123]` ticket token in the subject; (3) a channel-level
conversation (a LINE group); (4) the customer's most recent unsolved ticket, within the inbox's
continuity window. A sender who is not the referenced ticket's customer never joins it: they get a
new ticket, flagged for an agent to look at.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.utils import timezone

from channels_app.adapters import InboundMessage
from channels_app.email.tokens import ticket_of_message_id, ticket_of_subject
from channels_app.models import Conversation
from customers.models import Customer
from helpdesk.models import Inbox, Message, Ticket, TicketStatus

UNSOLVED = (TicketStatus.BOT, TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


@dataclasses.dataclass(frozen=True)
class ThreadDecision:
    ticket: Ticket | None  # None: open a new ticket
    rule: str  # which rule decided, for the timeline and the docs: "reference", "subject", ...
    refused_ticket_id: int | None = None  # a referenced ticket the sender may not join


def find_ticket(*, inbox: Inbox, inbound: InboundMessage, customer: Customer, continuity_hours: int) -> ThreadDecision:
    referenced = _referenced_ticket(inbox, inbound)
    if referenced is not None:
        ticket, rule = referenced
        if ticket.customer_id != customer.pk:
            return ThreadDecision(ticket=None, rule="new", refused_ticket_id=ticket.pk)
        return ThreadDecision(ticket=ticket, rule=rule)
    if inbound.conversation_key:
        conversation = Conversation.objects.select_related("ticket").filter(inbox=inbox, key=inbound.conversation_key)
        found = conversation.first()
        if found is not None and found.ticket.status != TicketStatus.CLOSED:
            return ThreadDecision(ticket=found.ticket, rule="conversation")
        return ThreadDecision(ticket=None, rule="new")
    if continuity_hours:
        since = timezone.now() - timedelta(hours=continuity_hours)
        recent = (
            Ticket.objects.filter(customer=customer, status__in=UNSOLVED, updated_at__gte=since)
            .order_by("-updated_at")
            .first()
        )
        if recent is not None:
            return ThreadDecision(ticket=recent, rule="recent")
    return ThreadDecision(ticket=None, rule="new")


def _referenced_ticket(inbox: Inbox, inbound: InboundMessage) -> tuple[Ticket, str] | None:
    for reference in reversed(inbound.replies_to):  # the most recent reference first
        ticket_id = ticket_of_message_id(reference)
        if ticket_id is not None:
            ticket = Ticket.objects.filter(pk=ticket_id).first()
            if ticket is not None:
                return ticket, "reference"
    if inbound.replies_to:
        earlier = (
            Message.objects.filter(inbox=inbox, external_id__in=list(inbound.replies_to))
            .select_related("ticket")
            .order_by("-id")
            .first()
        )
        if earlier is not None:
            return earlier.ticket, "reference"
    ticket_id = ticket_of_subject(inbound.subject)
    if ticket_id is not None:
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is not None:
            return ticket, "subject"
    return None
