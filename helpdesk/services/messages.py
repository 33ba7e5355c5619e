"""The one way to add to a ticket's conversation history.

`post_messages` is the only code that creates `Message` rows (`post_message` posts one). Inbound channels,
the bot, the agent workspace, the API and system events all come through it: it assigns the per-ticket
sequence numbers, makes posting idempotent by external id, sanitizes the bodies, moves the tickets' SLA
clocks (an agent's reply meets a response target, a customer's message may start one) and publishes
`MessageCreated` after commit. A batch of drafts (a burst of inbound mail, a ticket's first message with
its system events) costs the same handful of statements as a single one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from customers.models import Customer
from helpdesk.bulk import insert_unless_any_conflicts, update_rows
from helpdesk.events import MessageCreated, publish_all
from helpdesk.models import Attachment, AuthorType, Direction, Inbox, Message, MessageKind, Ticket
from helpdesk.sanitize import html_to_text, sanitize_html, strip_nul

MAX_BODY_CHARS = 200_000
# Concurrent transactions that store the same external ids on other tickets: try again this often.
INSERT_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class NewAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


@dataclasses.dataclass(frozen=True)
class MessageDraft:
    """One message to post. `ticket` is None only for a ticket's first message inside `open_tickets`."""

    ticket: Ticket | None
    author_type: str
    inbox: Inbox | None = None  # the inbox it came through, when not the ticket's (the key of its external id)
    kind: str = MessageKind.MESSAGE
    body_text: str = ""
    body_html: str = ""
    author_user: Any = None
    author_customer: Customer | None = None
    channel: str = ""
    external_id: str | None = None
    attachments: Sequence[NewAttachment] = ()
    event: str = ""
    data: dict | None = None
    is_public: bool | None = None


@dataclasses.dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool


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
    inbox: Inbox | None = None,
) -> PostedMessage:
    """Append a message to `ticket`. With `external_id`, posting the same item again (even at the same
    moment from another process) returns the existing message with `created=False`."""
    draft = MessageDraft(
        ticket=ticket, author_type=author_type, kind=kind, body_text=body_text, body_html=body_html,
        author_user=author_user, author_customer=author_customer, channel=channel, external_id=external_id,
        attachments=attachments, event=event, data=data, is_public=is_public, inbox=inbox,
    )  # fmt: skip
    return post_messages([draft])[0]


def post_messages(drafts: Sequence[MessageDraft], *, tickets_locked: bool = False) -> list[PostedMessage]:
    """Append messages to their tickets, in order, in one transaction; the result matches `drafts`.
    `tickets_locked`: the caller's transaction holds the drafts' tickets locked, and their instances are
    the ones it read under that lock (they are not read again).

    Every draft is checked first: one bad draft (an empty body, an oversized attachment) raises
    ValidationError and nothing is written."""
    drafts = [_checked(draft) for draft in drafts]
    if not drafts:
        return []
    if tickets_locked:
        return _post({draft.ticket.pk: draft.ticket for draft in drafts}, drafts)
    # No savepoint of its own: what fails in here fails the caller's transaction too (callers that go on after
    # an error, like the intake's one-by-one fallback, give each call a transaction of its own).
    with transaction.atomic(savepoint=False):
        locking = Ticket.objects.select_for_update().filter(pk__in={d.ticket.pk for d in drafts}).order_by("pk")
        return _post({ticket.pk: ticket for ticket in locking}, drafts)


def _post(tickets: dict[int, Ticket], drafts: list[MessageDraft]) -> list[PostedMessage]:
    with transaction.atomic(savepoint=False):
        posted, new = _insert(drafts, tickets)
        created_drafts = [draft for draft, item in zip(drafts, posted, strict=True) if item.created]
        _store_attachments(new, created_drafts)
        _advance_tickets(new, drafts, tickets)
        posted_with = zip(new, created_drafts, strict=True)
        publish_all([_created_event(message, attached=bool(draft.attachments)) for message, draft in posted_with])
        # Imported here: the SLA clock records its breaches on the timeline through this module.
        from helpdesk.services.sla import sla_on_messages

        sla_on_messages(messages=new)
    return posted


def _insert(drafts: list[MessageDraft], tickets: dict[int, Ticket]) -> tuple[list[PostedMessage], list[Message]]:
    idempotent = any(draft.external_id for draft in drafts)
    if idempotent:
        # Most items with an external id are new: planned as such and inserted in one statement, unless one
        # of them was stored before (a redelivery), when they are planned again knowing what is stored.
        posted = _plan(drafts, tickets, stored={})
        new = [item.message for item in posted if item.created]
        if insert_unless_any_conflicts(new):
            return posted, new
    attempts_left = INSERT_ATTEMPTS
    while True:
        posted = _plan(drafts, tickets, stored=_stored_by_external_id(drafts, tickets))
        new = [item.message for item in posted if item.created]
        if not (new and idempotent):
            Message.objects.bulk_create(new)
            return posted, new
        try:
            with transaction.atomic():
                Message.objects.bulk_create(new)
            return posted, new
        except IntegrityError:
            # Another transaction stored one of these external ids (on another ticket) and committed:
            # the next plan finds that message and returns it instead.
            attempts_left -= 1
            if not attempts_left:
                raise


def _checked(draft: MessageDraft) -> MessageDraft:
    body_html = sanitize_html(draft.body_html) if draft.body_html else ""
    body_text = strip_nul(draft.body_text).strip() or (html_to_text(body_html) if body_html else "")
    if len(body_text) > MAX_BODY_CHARS or len(body_html) > MAX_BODY_CHARS * 2:
        raise ValidationError(f"A message body is limited to {MAX_BODY_CHARS} characters.")
    if draft.kind != MessageKind.EVENT and not body_text and not draft.attachments:
        raise ValidationError("A message needs a body or an attachment.")
    if draft.author_type == AuthorType.CUSTOMER and draft.author_customer is None:
        raise ValidationError("A customer message needs its customer.")
    if draft.author_type == AuthorType.AGENT and draft.author_user is None:
        raise ValidationError("An agent message needs its agent.")
    limit = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    for attachment in draft.attachments:
        if len(attachment.content) > limit:
            raise ValidationError(f"{attachment.filename!r} is larger than {limit} bytes.")
    is_public = draft.is_public
    if is_public is None:
        is_public = draft.kind == MessageKind.MESSAGE
    elif draft.kind == MessageKind.NOTE and is_public:
        raise ValidationError("Internal notes are never public.")
    if draft.ticket is None:
        raise ValidationError("A message needs its ticket.")
    return dataclasses.replace(
        draft,
        body_text=body_text,
        body_html=body_html,
        external_id=strip_nul(draft.external_id)[:255] if draft.external_id else None,
        is_public=is_public,
    )


def _plan(
    drafts: list[MessageDraft], tickets: dict[int, Ticket], *, stored: dict[tuple[int, str], Message]
) -> list[PostedMessage]:
    """The unsaved messages, numbered after each ticket's last one; drafts whose external id is `stored`
    (or earlier in this batch) come back as the stored message, `created=False`."""
    stored = dict(stored)
    answer_channels = _answer_channels(drafts, tickets)
    next_seq = {pk: ticket.last_message_seq for pk, ticket in tickets.items()}
    posted = []
    for draft in drafts:
        ticket = tickets[draft.ticket.pk]
        inbox_id = draft.inbox.pk if draft.inbox else ticket.inbox_id
        key = (inbox_id, draft.external_id)
        if draft.external_id and key in stored:
            posted.append(PostedMessage(stored[key], created=False))
            continue
        direction = _direction(draft.kind, draft.author_type)
        if draft.channel:
            channel = draft.channel
        elif direction == Direction.OUTBOUND:
            channel = answer_channels.get(ticket.pk) or ticket.channel
        else:
            channel = ticket.channel
        if direction == Direction.INBOUND:
            answer_channels[ticket.pk] = channel  # an answer later in this batch goes back the same way
        next_seq[ticket.pk] += 1
        message = Message(
            ticket=ticket,
            inbox_id=inbox_id,
            seq=next_seq[ticket.pk],
            kind=draft.kind,
            direction=direction,
            channel=channel,
            is_public=draft.is_public,
            author_type=draft.author_type,
            author_user=draft.author_user,
            author_customer=draft.author_customer,
            body_text=draft.body_text,
            body_html=draft.body_html,
            event=draft.event,
            data=draft.data or {},
            external_id=draft.external_id,
        )
        if draft.external_id:
            stored[key] = message
        posted.append(PostedMessage(message, created=True))
    return posted


def _stored_by_external_id(drafts: list[MessageDraft], tickets: dict[int, Ticket]) -> dict[tuple[int, str], Message]:
    external_ids = {draft.external_id for draft in drafts if draft.external_id}
    if not external_ids:
        return {}
    inboxes = {draft.inbox.pk if draft.inbox else tickets[draft.ticket.pk].inbox_id for draft in drafts}
    found = Message.objects.filter(inbox_id__in=inboxes, external_id__in=external_ids)
    return {(message.inbox_id, message.external_id): message for message in found}


def _answer_channels(drafts: list[MessageDraft], tickets: dict[int, Ticket]) -> dict[int, str]:
    """Answers go back by the channel the customer last wrote from: that channel, per ticket answered
    without a channel of its own."""
    answered = {
        draft.ticket.pk
        for draft in drafts
        if not draft.channel and _direction(draft.kind, draft.author_type) == Direction.OUTBOUND
    }
    if not answered:
        return {}
    latest_inbound = Message.objects.filter(ticket=OuterRef("pk"), direction=Direction.INBOUND).order_by("-seq")
    rows = Ticket.objects.filter(pk__in=answered).annotate(channel_used=Subquery(latest_inbound.values("channel")[:1]))
    return {pk: channel for pk, channel in rows.values_list("pk", "channel_used") if channel}


def _direction(kind: str, author_type: str) -> str:
    if kind != MessageKind.MESSAGE:
        return Direction.INTERNAL
    return Direction.INBOUND if author_type == AuthorType.CUSTOMER else Direction.OUTBOUND


def _store_attachments(messages: list[Message], drafts: list[MessageDraft]) -> None:
    rows = []
    for message, draft in zip(messages, drafts, strict=True):
        for attachment in draft.attachments:
            name = strip_nul(attachment.filename).replace("/", "_").replace("\\", "_").strip()[:200] or "attachment"
            row = Attachment(
                message=message,
                filename=name,
                content_type=attachment.content_type[:127] or "application/octet-stream",
                size=len(attachment.content),
                content_id=attachment.content_id[:255],
            )
            row.file.save(name, ContentFile(attachment.content), save=False)
            rows.append(row)
    Attachment.objects.bulk_create(rows)


def _advance_tickets(messages: list[Message], drafts: list[MessageDraft], tickets: dict[int, Ticket]) -> None:
    """Each ticket's last sequence number, activity time and first response; the callers' instances too."""
    now = timezone.now()
    changed: dict[int, Ticket] = {}
    for message in messages:
        ticket = changed.setdefault(message.ticket_id, tickets[message.ticket_id])
        ticket.last_message_seq = message.seq
        ticket.updated_at = now
        if ticket.first_response_at is None and message.is_public and message.author_type == AuthorType.AGENT:
            ticket.first_response_at = now
    fields = ["last_message_seq", "updated_at", "first_response_at"]
    update_rows(list(changed.values()), fields)
    for draft in drafts:
        ticket = changed.get(draft.ticket.pk)
        if ticket is not None and draft.ticket is not ticket:
            for field in fields:
                setattr(draft.ticket, field, getattr(ticket, field))


def _created_event(message: Message, *, attached: bool) -> MessageCreated:
    return MessageCreated(
        ticket_id=message.ticket_id,
        message_id=message.pk,
        seq=message.seq,
        inbox_id=message.ticket.inbox_id,
        customer_id=message.ticket.customer_id,
        kind=message.kind,
        direction=message.direction,
        channel=message.channel,
        author_type=message.author_type,
        is_public=message.is_public,
        message=None if attached else message,
    )


def record_event(*, ticket: Ticket, event: str, text: str, data: dict, actor=None, is_public: bool = False) -> Message:
    """A system event on the timeline: assignment, status change, hand-off, merge."""
    draft = event_draft(ticket=ticket, event=event, text=text, data=data, actor=actor, is_public=is_public)
    return post_messages([draft])[0].message


def event_draft(
    *, ticket: Ticket | None, event: str, text: str, data: dict, actor=None, is_public: bool = False
) -> MessageDraft:
    return MessageDraft(
        ticket=ticket,
        kind=MessageKind.EVENT,
        author_type=AuthorType.SYSTEM,
        author_user=actor,
        body_text=text,
        event=event,
        data=data,
        is_public=is_public,
    )


def record_delivery(*, message_id: int, status: str, detail: str = "") -> None:
    """A channel reports how sending a message went; shown beside the message on the timeline."""
    Message.objects.filter(pk=message_id).update(delivery_status=status, delivery_detail=strip_nul(detail)[:500])
