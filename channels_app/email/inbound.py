"""Mail in: from raw RFC 822 bytes (an MTA pipe, IMAP, a provider webhook) to a stored message.

Raw mail is accepted into the intake first (keyed by its bytes and inbox, so the same mail delivered
twice is stored once), then parsed and stored in batches (`EmailIntake`). Loops and bounces are handled
before the pipeline (RFC 3834): mail from our own addresses or carrying our X-Loop is dropped; bounces are
attached to the ticket of the message that bounced and mark the address as bouncing; anything
unparseable or unstorable is quarantined whole for an admin.
"""

from __future__ import annotations

import hashlib
import logging

from channels_app import intake
from channels_app.adapters import InboundMessage, Sender
from channels_app.email.parsing import ParsedEmail, UnparseableEmail, parse_email
from channels_app.email.tokens import ticket_of_message_id
from channels_app.intake import Incoming, Outcome, Settled
from channels_app.models import InboundItem, IntakeSource, Mailbox, Quarantine
from channels_app.pipeline import Arrival, Received
from customers.models import ChannelKind, IdentityKind
from customers.services import mark_identity_bouncing
from helpdesk.configuration import cached
from helpdesk.event_text import describe_in_english
from helpdesk.models import Inbox, Ticket
from helpdesk.services.messages import record_event

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 40 * 1024 * 1024


def default_email_inbox() -> Inbox:
    """The inbox for mail no mailbox claims: the first email inbox, created on a fresh database."""
    inbox = Inbox.objects.filter(kind=ChannelKind.EMAIL, is_active=True).order_by("pk").first()
    if inbox is None:
        inbox, _ = Inbox.objects.get_or_create(name="Email", defaults={"kind": ChannelKind.EMAIL})
    return inbox


def incoming_email(raw: bytes, *, source: str, inbox: Inbox | None = None) -> Incoming:
    """Raw mail as an intake item. `inbox` is the mailbox's inbox for mail fetched from it (IMAP), else only a
    fallback for mail that no mailbox address claims (`ingest_email --inbox`)."""
    digest = hashlib.sha256(raw).hexdigest()
    inbox_id = inbox.pk if inbox is not None else None
    return Incoming(
        channel=ChannelKind.EMAIL, key=f"email:{inbox_id or 0}:{digest}", source=source, payload=raw, inbox_id=inbox_id
    )


def ingest_raw(
    raw: bytes, *, inbox: Inbox | None = None, mailbox: Mailbox | None = None, source: str = IntakeSource.MTA
) -> Outcome:
    """Store one raw message now. The inbox is `mailbox`'s (mail fetched from it), else the mailbox the mail
    was addressed to, else `inbox`, else the default email inbox. The same bytes again are a duplicate."""
    inbox = mailbox.inbox if mailbox is not None else inbox
    if len(raw) > MAX_RAW_BYTES:
        return _quarantined(raw[:MAX_RAW_BYTES], inbox, f"message larger than {MAX_RAW_BYTES} bytes (kept truncated)")
    item = incoming_email(raw, source=IntakeSource.IMAP if mailbox is not None else source, inbox=inbox)
    if intake.known([item.key]):
        return _earlier(item.key)
    intake.accept([item], schedule=False)
    return intake.process_items([item.key]).get(item.key) or Outcome("queued", "being processed by a worker")


def retry_quarantined(quarantine: Quarantine) -> Outcome:
    """An admin tries a quarantined mail again (after a fix): the same bytes go through the intake anew."""
    item = incoming_email(bytes(quarantine.raw), source=IntakeSource.MTA, inbox=quarantine.inbox)
    if not intake.known([item.key]):
        intake.accept([item], schedule=False)
    elif not intake.requeue(item.key):
        return _earlier(item.key)
    return intake.process_items([item.key]).get(item.key) or Outcome("queued", "being processed by a worker")


def _earlier(key: str) -> Outcome:
    """Mail stored before: a duplicate of what became of it."""
    earlier = InboundItem.objects.select_related("message__ticket").filter(key=key).first()
    if earlier is None or earlier.message is None:
        return Outcome("duplicate", "received before")
    received = Received(outcome="duplicate", message=earlier.message, ticket=earlier.message.ticket)
    return Outcome("duplicate", "received before", received=received)


class EmailIntake:
    def arrivals(self, items: list[InboundItem]) -> list[Arrival | Settled]:
        mailboxes = _Mailboxes()
        return [_arrival(item, mailboxes) for item in items]

    def give_up(self, item: InboundItem, error: Exception) -> Settled:
        raw = bytes(item.payload)
        reason = f"could not be stored: {error}"
        return Settled("quarantined", reason, action=lambda: _quarantine(raw, item.inbox, reason))


class _Mailboxes:
    """Every mailbox (cached configuration): which one mail was sent to, which are ours (loops)."""

    def __init__(self) -> None:
        mailboxes = cached("mailboxes", lambda: list(Mailbox.objects.select_related("inbox")))
        self.ours = {mailbox.address for mailbox in mailboxes}
        self._active = {mailbox.address: mailbox for mailbox in mailboxes if mailbox.is_active}
        self._of_inbox = {mailbox.inbox_id: mailbox for mailbox in mailboxes}

    def of_inbox(self, inbox_id: int | None) -> Mailbox | None:
        return self._of_inbox.get(inbox_id)

    def addressed(self, parsed: ParsedEmail) -> Mailbox | None:
        """The mailbox the mail was sent to, plus-addressing included (support+anything@example.com)."""
        for address in [*parsed.delivered_to, *parsed.to, *parsed.cc]:
            local, _, domain = address.partition("@")
            for candidate in (address, f"{local.split('+', 1)[0]}@{domain}"):
                if candidate in self._active:
                    return self._active[candidate]
        return None


def _arrival(item: InboundItem, mailboxes: _Mailboxes) -> Arrival | Settled:
    raw = bytes(item.payload)
    try:
        parsed = parse_email(raw)
    except UnparseableEmail as error:
        reason = f"unparseable: {error}"
        return Settled("quarantined", reason, action=lambda: _quarantine(raw, item.inbox, reason))
    # Mail fetched from a mailbox (IMAP) belongs to it, whoever it names; other mail to the mailbox it names.
    fetched_from = mailboxes.of_inbox(item.inbox_id) if item.source == IntakeSource.IMAP else None
    mailbox = fetched_from or mailboxes.addressed(parsed)
    inbox = mailbox.inbox if mailbox is not None else item.inbox or default_email_inbox()
    ours = mailboxes.ours
    if parsed.from_address in ours or ours.intersection(value.strip().lower() for value in parsed.x_loop):
        logger.info("dropped mail loop: %s from %s", parsed.message_id, parsed.from_address)
        return Settled("loop", "sent by one of our own addresses")
    if parsed.is_bounce or parsed.is_complaint:
        return _bounce(parsed, raw, inbox)
    config = mailbox or mailboxes.of_inbox(inbox.pk)
    return Arrival(inbox=inbox, inbound=to_inbound(parsed), config=config)


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


def _bounce(parsed: ParsedEmail, raw: bytes, inbox: Inbox) -> Settled:
    ticket_id = ticket_of_message_id(parsed.original_message_id) if parsed.original_message_id else None
    ticket = Ticket.objects.filter(pk=ticket_id).first() if ticket_id else None
    if ticket is None:
        reason = "bounce or complaint about a message we cannot find"

        def quarantine() -> Quarantine:
            _mark_bouncing(parsed)
            return _quarantine(raw, inbox, reason, sender=parsed.from_address)

        return Settled("quarantined", reason, action=quarantine)
    action = "complaint" if parsed.is_complaint else (parsed.bounce_action or "failed")
    data = {"recipients": list(parsed.bounced_recipients), "action": action}

    def record() -> None:
        _mark_bouncing(parsed)
        record_event(ticket=ticket, event="email_bounce", text=describe_in_english("email_bounce", data), data=data)

    return Settled("bounce", f"ticket #{ticket.pk}", action=record)


def _mark_bouncing(parsed: ParsedEmail) -> None:
    for address in parsed.bounced_recipients:
        mark_identity_bouncing(kind=IdentityKind.EMAIL, value=address)


def _quarantine(raw: bytes, inbox: Inbox | None, reason: str, *, sender: str = "") -> Quarantine:
    item = Quarantine.objects.create(
        inbox=inbox, channel=ChannelKind.EMAIL, reason=reason[:2000], raw=raw, size=len(raw), sender_hint=sender[:320]
    )
    logger.warning("quarantined mail #%s: %s", item.pk, reason)
    return item


def _quarantined(raw: bytes, inbox: Inbox | None, reason: str) -> Outcome:
    return Outcome("quarantined", reason, quarantine=_quarantine(raw, inbox, reason))
