"""The one way to add to a ticket's conversation history.

`post_message` is the only code that creates `Message` rows. Inbound channels, the bot, the agent
workspace, the API and system events all come through it: it assigns the per-ticket sequence number,
makes posting idempotent by external id, sanitizes the body, moves the ticket's SLA clock (an agent's reply
meets a response target, a customer's message may start one) and publishes `MessageCreated` after commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer
from helpdesk.events import MessageCreated, publish
from helpdesk.models import Attachment, AuthorType, Direction, Message, MessageKind, Ticket
from helpdesk.sanitize import html_to_text, sanitize_html, strip_nul

MAX_BODY_CHARS = 200_000


@dataclasses.dataclass(frozen=True)
class NewAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


@dataclasses.dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool


def _direction(kind: str, author_type: str) -> str:
    if kind != MessageKind.MESSAGE:
        return Direction.INTERNAL
    return Direction.INBOUND if author_type == AuthorType.CUSTOMER else Direction.OUTBOUND


def _default_channel(ticket: Ticket, kind: str, author_type: str) -> str:
    """Answers go back by the channel the customer last wrote from; the ticket's own channel otherwise."""
    if kind == MessageKind.MESSAGE and author_type != AuthorType.CUSTOMER:
        latest = (
            Message.objects.filter(ticket=ticket, direction=Direction.INBOUND)
            .order_by("-seq")
            .values_list("channel", flat=True)
            .first()
        )
        if latest:
            return latest
    return ticket.channel


def _check_author(author_type: str, author_user, author_customer: Customer | None) -> None:
    if author_type == AuthorType.CUSTOMER and author_customer is None:
        raise ValidationError("A customer message needs its customer.")
    if author_type == AuthorType.AGENT and author_user is None:
        raise ValidationError("An agent message needs its agent.")


def _check_attachments(attachments: Sequence[NewAttachment]) -> None:
    limit = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    for attachment in attachments:
        if len(attachment.content) > limit:
            raise ValidationError(f"{attachment.filename!r} is larger than {limit} bytes.")


def post_message(
    *,
    ticket: Ticket,
    author_type: str,
    kind: str = MessageKind.MESSAGE,
    body_text: str = "",
    body_html: str = "",
    author_user=None,
    author_customer: Customer | None = None,
    channel: str = "",
    external_id: str | None = None,
    attachments: Sequence[NewAttachment] = (),
    event: str = "",
    data: dict | None = None,
    is_public: bool | None = None,
) -> PostedMessage:
    """Append a message to `ticket`. With `external_id`, posting the same item again (even at the same
    moment from another process) returns the existing message with `created=False`."""
    body_html = sanitize_html(body_html) if body_html else ""
    body_text = strip_nul(body_text).strip() or (html_to_text(body_html) if body_html else "")
    if len(body_text) > MAX_BODY_CHARS or len(body_html) > MAX_BODY_CHARS * 2:
        raise ValidationError(f"A message body is limited to {MAX_BODY_CHARS} characters.")
    if kind != MessageKind.EVENT and not body_text and not attachments:
        raise ValidationError("A message needs a body or an attachment.")
    _check_author(author_type, author_user, author_customer)
    _check_attachments(attachments)
    external_id = strip_nul(external_id)[:255] if external_id else None
    if is_public is None:
        is_public = kind == MessageKind.MESSAGE
    elif kind == MessageKind.NOTE and is_public:
        raise ValidationError("Internal notes are never public.")

    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if external_id:
            existing = Message.objects.filter(inbox_id=locked.inbox_id, external_id=external_id).first()
            if existing is not None:
                return PostedMessage(existing, created=False)
        seq = locked.last_message_seq + 1
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    ticket=locked,
                    inbox_id=locked.inbox_id,
                    seq=seq,
                    kind=kind,
                    direction=_direction(kind, author_type),
                    channel=channel or _default_channel(locked, kind, author_type),
                    is_public=is_public,
                    author_type=author_type,
                    author_user=author_user,
                    author_customer=author_customer,
                    body_text=body_text,
                    body_html=body_html,
                    event=event,
                    data=data or {},
                    external_id=external_id,
                )
        except IntegrityError:
            if external_id:
                # Another transaction stored the same item first (on another ticket) and committed.
                existing = Message.objects.filter(inbox_id=locked.inbox_id, external_id=external_id).first()
                if existing is not None:
                    return PostedMessage(existing, created=False)
            raise
        for attachment in attachments:
            _store_attachment(message, attachment)

        now = timezone.now()
        updates: dict = {"last_message_seq": seq, "updated_at": now}
        if locked.first_response_at is None and is_public and author_type == AuthorType.AGENT:
            updates["first_response_at"] = now
        Ticket.objects.filter(pk=locked.pk).update(**updates)
        for field, value in updates.items():
            setattr(ticket, field, value)

        publish(
            MessageCreated(
                ticket_id=locked.pk,
                message_id=message.pk,
                seq=seq,
                inbox_id=locked.inbox_id,
                customer_id=locked.customer_id,
                kind=kind,
                direction=message.direction,
                channel=message.channel,
                author_type=author_type,
                is_public=is_public,
            )
        )
        # Imported here: the SLA clock records its breaches on the timeline through this module.
        from helpdesk.services.sla import sla_on_message

        sla_on_message(ticket=ticket, message=message)
    return PostedMessage(message, created=True)


def _store_attachment(message: Message, attachment: NewAttachment) -> Attachment:
    filename = strip_nul(attachment.filename).replace("/", "_").replace("\\", "_").strip()[:200] or "attachment"
    stored = Attachment(
        message=message,
        filename=filename,
        content_type=attachment.content_type[:127] or "application/octet-stream",
        size=len(attachment.content),
        content_id=attachment.content_id[:255],
    )
    stored.file.save(filename, ContentFile(attachment.content), save=False)
    stored.save()
    return stored


def record_event(*, ticket: Ticket, event: str, text: str, data: dict, actor=None, is_public: bool = False) -> Message:
    """A system event on the timeline: assignment, status change, hand-off, merge."""
    return post_message(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_type=AuthorType.SYSTEM,
        author_user=actor,
        body_text=text,
        event=event,
        data=data,
        is_public=is_public,
    ).message


def record_delivery(*, message_id: int, status: str, detail: str = "") -> None:
    """A channel reports how sending a message went; shown beside the message on the timeline."""
    Message.objects.filter(pk=message_id).update(delivery_status=status, delivery_detail=strip_nul(detail)[:500])
