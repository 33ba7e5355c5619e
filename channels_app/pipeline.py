"""The one inbound path for every channel.

parsed item -> deduplicate by (inbox, external id) -> identify the customer -> thread to a ticket or
open one -> post the Message through the one service -> route new tickets -> acknowledge.
Everything from identifying to posting happens in one transaction: a failure writes nothing, and the
same item arriving twice (or twice at once) yields one Message.
"""

from __future__ import annotations

import dataclasses
import logging

from django.db import transaction

from channels_app.acknowledge import acknowledge
from channels_app.adapters import InboundMessage
from channels_app.models import ChannelConfig, Conversation, ReplyRoute
from channels_app.threading import find_ticket
from customers.services import clear_identity_bouncing, identify_customer
from helpdesk.event_text import describe_in_english
from helpdesk.models import Inbox, Message, Ticket, TicketStatus
from helpdesk.services.messages import NewAttachment, record_event
from helpdesk.services.routing import route_ticket
from helpdesk.services.tickets import open_ticket, receive_customer_message, update_ticket

logger = logging.getLogger(__name__)

FLAG_TAG = "unverified-sender"
# For inboxes with no channel settings of their own: the same default as ChannelConfig's.
DEFAULT_CONTINUITY_HOURS = ChannelConfig._meta.get_field("continue_open_ticket_hours").default


@dataclasses.dataclass(frozen=True)
class Received:
    outcome: str  # "stored" or "duplicate"
    message: Message
    ticket: Ticket
    new_ticket: bool = False
    rule: str = ""


class _Duplicate(Exception):
    def __init__(self, message: Message):
        self.message = message


def receive(*, inbox: Inbox, inbound: InboundMessage, config: ChannelConfig | None = None) -> Received:
    """Store one inbound item on the right ticket of the right customer."""
    earlier = Message.objects.filter(inbox=inbox, external_id=inbound.external_id).select_related("ticket").first()
    if earlier is not None:
        return Received(outcome="duplicate", message=earlier, ticket=earlier.ticket)
    try:
        return _receive_new(inbox=inbox, inbound=inbound, config=config)
    except _Duplicate as duplicate:
        # The same item was stored by a concurrent request; everything this one wrote is rolled back.
        return Received(outcome="duplicate", message=duplicate.message, ticket=duplicate.message.ticket)


@transaction.atomic
def _receive_new(*, inbox: Inbox, inbound: InboundMessage, config: ChannelConfig | None) -> Received:
    sender = inbound.sender
    identified = identify_customer(kind=sender.kind, value=sender.address, name=sender.name, verified=sender.verified)
    clear_identity_bouncing(identity=identified.identity)
    customer = identified.customer.merged_into or identified.customer
    continuity = config.continue_open_ticket_hours if config is not None else DEFAULT_CONTINUITY_HOURS
    decision = find_ticket(inbox=inbox, inbound=inbound, customer=customer, continuity_hours=continuity)

    ticket, new_ticket = decision.ticket, False
    if ticket is not None and ticket.status == TicketStatus.CLOSED:
        follow_up_of, ticket = ticket, None
    else:
        follow_up_of = None
    if ticket is None:
        ticket = open_ticket(
            inbox=inbox, customer=customer, subject=inbound.subject or _subject_from(inbound), channel=inbound.channel
        )
        new_ticket = True
    if inbound.conversation_key:
        Conversation.objects.update_or_create(inbox=inbox, key=inbound.conversation_key, defaults={"ticket": ticket})
    ReplyRoute.objects.update_or_create(
        ticket=ticket,
        channel=inbound.channel,
        defaults={"address": inbound.reply_address or sender.address, "context": inbound.reply_context},
    )

    # Lock the ticket, then look again: a concurrent delivery of the same item on this ticket has either
    # committed (found here) or waits for us. On different tickets, the unique index decides (below).
    Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
    stored = Message.objects.filter(inbox=inbox, external_id=inbound.external_id).first()
    if stored is not None:
        raise _Duplicate(stored)
    message = receive_customer_message(
        ticket=ticket,
        body_text=inbound.text,
        body_html=inbound.html,
        channel=inbound.channel,
        external_id=inbound.external_id,
        attachments=[
            NewAttachment(filename=a.filename, content=a.content, content_type=a.content_type, content_id=a.content_id)
            for a in inbound.attachments
        ],
    )
    if message.ticket_id != ticket.pk:
        raise _Duplicate(message)
    if new_ticket:
        _explain_new_ticket(ticket=ticket, follow_up_of=follow_up_of, refused_ticket_id=decision.refused_ticket_id)
        route_ticket(ticket=ticket, first_message_text=inbound.text)
        if config is not None and config.acknowledge and not inbound.automated:
            acknowledge(ticket=ticket, channel=inbound.channel)
    return Received(outcome="stored", message=message, ticket=ticket, new_ticket=new_ticket, rule=decision.rule)


def _explain_new_ticket(*, ticket: Ticket, follow_up_of: Ticket | None, refused_ticket_id: int | None) -> None:
    if follow_up_of is not None:
        record_event(
            ticket=ticket,
            event="follow_up",
            text=describe_in_english("follow_up", {"follow_up_of": follow_up_of.pk}),
            data={"follow_up_of": follow_up_of.pk},
        )
    if refused_ticket_id is not None:
        record_event(
            ticket=ticket,
            event="unverified_reference",
            text=describe_in_english("unverified_reference", {"referenced_ticket": refused_ticket_id}),
            data={"referenced_ticket": refused_ticket_id},
        )
        update_ticket(ticket=ticket, tags=[FLAG_TAG])


def _subject_from(inbound: InboundMessage) -> str:
    first_line = (inbound.text or "").strip().splitlines()[0] if (inbound.text or "").strip() else ""
    return first_line[:80] or f"New {inbound.channel} conversation"
