"""Phone calls on the conversation history: one message per call, on the caller's ticket."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db import models, transaction

from channels_app.adapters import InboundMessage, Sender
from channels_app.models import PhoneLine
from channels_app.pipeline import Received, receive
from customers.identities import normalize_phone
from customers.models import ChannelKind, IdentityKind
from customers.services import identify_customer
from helpdesk.models import Inbox, Ticket, TicketStatus
from helpdesk.services.tickets import add_internal_note, open_ticket, reply


class CallStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    VOICEMAIL = "voicemail", "Voicemail"


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "The customer called"
    OUTBOUND = "outbound", "We called"


UNSOLVED = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.BOT)


@dataclasses.dataclass(frozen=True)
class Call:
    call_id: str
    direction: str  # "inbound" (the customer called) or "outbound" (we called)
    number: str  # the customer's number
    duration_seconds: int = 0
    started_at: datetime | None = None
    recording_url: str = ""  # shown as a link, never fetched
    status: str = "completed"  # completed, missed, busy, failed, voicemail
    notes: str = ""


def describe(call: Call, number: str) -> str:
    minutes, seconds = divmod(max(call.duration_seconds, 0), 60)
    what = {
        ("inbound", "completed"): f"Incoming call from {number}",
        ("outbound", "completed"): f"Outgoing call to {number}",
        ("inbound", "missed"): f"Missed call from {number}",
        ("inbound", "voicemail"): f"Voicemail from {number}",
    }.get((call.direction, call.status), f"{call.direction.title()} call with {number} ({call.status})")
    parts = [what + (f", {minutes} min {seconds} s" if call.duration_seconds else "")]
    if call.recording_url:
        parts.append(f"Recording: {call.recording_url}")
    return "\n".join(parts)


@transaction.atomic
def log_call(*, inbox: Inbox, call: Call, agent=None, ticket: Ticket | None = None, line: PhoneLine | None = None):
    """Record a call. A customer's call goes through the inbound pipeline (it continues their open ticket
    or opens one); a call we made is the agent's message on the given or the customer's open ticket."""
    number = normalize_phone(call.number)
    external_id = f"call:{call.call_id}"
    if call.direction == "inbound":
        received: Received = receive(
            inbox=inbox,
            inbound=InboundMessage(
                channel=ChannelKind.PHONE,
                external_id=external_id,
                sender=Sender(kind=IdentityKind.PHONE, address=number),  # caller ids can be spoofed: unverified
                subject=f"Call from {number}",
                text=describe(call, number),
                received_at=call.started_at,
            ),
            config=line,
        )
        ticket, message = received.ticket, received.message
    else:
        customer = identify_customer(kind=IdentityKind.PHONE, value=number).customer
        if ticket is None:
            ticket = Ticket.objects.filter(customer=customer, status__in=UNSOLVED).order_by("-updated_at").first()
        if ticket is None:
            ticket = open_ticket(inbox=inbox, customer=customer, subject=f"Call to {number}", channel=ChannelKind.PHONE)
        message = reply(
            ticket=ticket,
            agent=agent,
            body_text=describe(call, number),
            channel=ChannelKind.PHONE,
            external_id=external_id,
        )
    if call.notes.strip() and agent is not None:
        add_internal_note(ticket=ticket, agent=agent, body_text=call.notes, external_id=f"{external_id}:notes")
    return ticket, message
