"""Mail in: from raw RFC 822 bytes (an MTA pipe, IMAP, a provider webhook) to a stored message.

Loops and bounces are handled here, before the pipeline (RFC 3834): mail from our own addresses or
carrying our X-Loop is dropped; bounces are attached to the ticket of the message that bounced and
mark the address as bouncing; anything unparseable is quarantined whole for an admin.
"""

from __future__ import annotations

import dataclasses
import logging

from django.db import transaction

from channels_app.adapters import InboundMessage, Sender
from channels_app.email.parsing import ParsedEmail, UnparseableEmail, parse_email
from channels_app.email.tokens import ticket_of_message_id
from channels_app.models import Mailbox, Quarantine
from channels_app.pipeline import Received, receive
from customers.models import ChannelKind, IdentityKind
from customers.services import mark_identity_bouncing
from helpdesk.event_text import describe_in_english
from helpdesk.models import Inbox, Ticket
from helpdesk.services.messages import record_event

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 40 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class EmailOutcome:
    """What became of one raw message: stored (or a duplicate), a bounce, dropped as a loop, or quarantined."""

    outcome: str  # "stored", "duplicate", "bounce", "loop", "quarantined"
    received: Received | None = None
    quarantine: Quarantine | None = None
    detail: str = ""


def default_email_inbox() -> Inbox:
    """The inbox for mail no mailbox claims: the first email inbox, created on a fresh database."""
    inbox = Inbox.objects.filter(kind=ChannelKind.EMAIL, is_active=True).order_by("pk").first()
    if inbox is None:
        inbox, _ = Inbox.objects.get_or_create(name="Email", defaults={"kind": ChannelKind.EMAIL})
    return inbox


def ingest_raw(raw: bytes, *, inbox: Inbox | None = None, mailbox: Mailbox | None = None) -> EmailOutcome:
    """Store one raw message. The inbox is `mailbox`'s (mail fetched from it), else the mailbox the mail
    was addressed to, else `inbox`, else the default email inbox."""
    inbox = mailbox.inbox if mailbox is not None else inbox
    if len(raw) > MAX_RAW_BYTES:
        return _quarantine(raw[:MAX_RAW_BYTES], inbox, f"message larger than {MAX_RAW_BYTES} bytes (kept truncated)")
    try:
        parsed = parse_email(raw)
    except UnparseableEmail as error:
        return _quarantine(raw, inbox, f"unparseable: {error}")
    mailbox = mailbox or _addressed_mailbox(parsed)
    if mailbox is not None:
        inbox = mailbox.inbox
    inbox = inbox or default_email_inbox()
    ours = set(Mailbox.objects.values_list("address", flat=True))
    if parsed.from_address in ours or ours.intersection(value.strip().lower() for value in parsed.x_loop):
        logger.info("dropped mail loop: %s from %s", parsed.message_id, parsed.from_address)
        return EmailOutcome(outcome="loop", detail="sent by one of our own addresses")
    if parsed.is_bounce or parsed.is_complaint:
        return _bounce(parsed, raw, inbox)
    try:
        received = receive(inbox=inbox, inbound=to_inbound(parsed), config=_config_of(inbox, mailbox))
    except Exception as error:
        logger.exception("could not store mail %s", parsed.message_id)
        return _quarantine(raw, inbox, f"could not be stored: {error}", sender=parsed.from_address)
    return EmailOutcome(outcome=received.outcome, received=received)


def to_inbound(parsed: ParsedEmail) -> InboundMessage:
    return InboundMessage(
        channel=ChannelKind.EMAIL,
        external_id=parsed.message_id,
        sender=Sender(kind=IdentityKind.EMAIL, address=parsed.from_address, name=parsed.from_name),
        text=parsed.new_text or parsed.text,
        html=parsed.html,
        subject=parsed.subject,
        attachments=tuple(parsed.attachments),
        replies_to=tuple(dict.fromkeys([*parsed.references, *parsed.in_reply_to])),
        recipients=tuple(parsed.to + parsed.cc + parsed.delivered_to),
        automated=parsed.is_automated,
        received_at=parsed.date,
        reply_context={"message_id": parsed.message_id, "subject": parsed.subject},
        metadata={"full_text": parsed.text} if parsed.new_text and parsed.new_text != parsed.text else {},
    )


def _addressed_mailbox(parsed: ParsedEmail) -> Mailbox | None:
    """The mailbox the mail was sent to, plus-addressing included (support+anything@example.com)."""
    candidates = set()
    for address in [*parsed.delivered_to, *parsed.to, *parsed.cc]:
        local, _, domain = address.partition("@")
        candidates.add(address)
        candidates.add(f"{local.split('+', 1)[0]}@{domain}")
    return Mailbox.objects.select_related("inbox").filter(address__in=candidates, is_active=True).first()


def _config_of(inbox: Inbox, mailbox: Mailbox | None) -> Mailbox | None:
    return mailbox or Mailbox.objects.filter(inbox=inbox).first()


@transaction.atomic
def _bounce(parsed: ParsedEmail, raw: bytes, inbox: Inbox) -> EmailOutcome:
    ticket_id = ticket_of_message_id(parsed.original_message_id) if parsed.original_message_id else None
    ticket = Ticket.objects.filter(pk=ticket_id).first() if ticket_id else None
    for address in parsed.bounced_recipients:
        mark_identity_bouncing(kind=IdentityKind.EMAIL, value=address)
    if ticket is None:
        return _quarantine(raw, inbox, "bounce or complaint about a message we cannot find", sender=parsed.from_address)
    action = "complaint" if parsed.is_complaint else (parsed.bounce_action or "failed")
    data = {"recipients": list(parsed.bounced_recipients), "action": action}
    record_event(ticket=ticket, event="email_bounce", text=describe_in_english("email_bounce", data), data=data)
    return EmailOutcome(outcome="bounce", detail=f"ticket #{ticket.pk}")


def _quarantine(raw: bytes, inbox: Inbox | None, reason: str, *, sender: str = "") -> EmailOutcome:
    item = Quarantine.objects.create(
        inbox=inbox, channel=ChannelKind.EMAIL, reason=reason[:2000], raw=raw, size=len(raw), sender_hint=sender[:320]
    )
    logger.warning("quarantined mail #%s: %s", item.pk, reason)
    return EmailOutcome(outcome="quarantined", quarantine=item, detail=reason)
