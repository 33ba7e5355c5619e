"""Outbound delivery: every public answer on a ticket goes out by its channel, one Delivery row per
message, attempts counted, transient failures retried with backoff, permanent ones shown on the
timeline. Saleor's webhook transport is the model: record first, send after commit, never twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_app.adapters import InboundAttachment, OutboundMessage, SendResult
from channels_app.email.sending import EmailAdapter
from channels_app.email.tokens import make_message_id, subject_with_token
from channels_app.models import Delivery, DeliveryStatus, Mailbox, ReplyRoute
from customers.models import ChannelKind, Identity, IdentityKind
from helpdesk.event_text import describe_in_english
from helpdesk.events import MessageCreated
from helpdesk.models import AuthorType, Message
from helpdesk.services.messages import record_delivery, record_event

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
EMAIL_CHANNELS = (ChannelKind.EMAIL, ChannelKind.WEB_FORM)


def backoff(attempt: int) -> timedelta:
    """30 s, 2 min, 8 min, 32 min, ~2 h: transient outages pass, hard failures surface within hours."""
    return timedelta(seconds=30 * 4 ** (attempt - 1))


def on_message_created(event: MessageCreated) -> None:
    """After commit: queue a delivery for each public outbound message on a channel we send through."""
    if not event.is_public or event.direction != "outbound" or event.author_type == AuthorType.CUSTOMER:
        return
    if event.channel not in (*EMAIL_CHANNELS, ChannelKind.LINE):
        return  # chat goes over websockets; phone and API items are records, not sends
    delivery = create_delivery(message_id=event.message_id)
    if delivery is not None:
        from channels_app.tasks import deliver

        deliver.delay(delivery.pk)


def create_delivery(*, message_id: int) -> Delivery | None:
    message = Message.objects.select_related("ticket", "ticket__customer").get(pk=message_id)
    recipient = _recipient(message)
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            message=message,
            defaults={"channel": message.channel, "recipient": recipient or "", "status": DeliveryStatus.QUEUED},
        )
        if created and not recipient:
            _fail(delivery, f"The customer has no {message.get_channel_display()} address to send to.")
            return None
        if created:
            record_delivery(message_id=message.pk, status=DeliveryStatus.QUEUED)
    return delivery if created else None


def _recipient(message: Message) -> str:
    channel = ChannelKind.EMAIL if message.channel in EMAIL_CHANNELS else message.channel
    route = ReplyRoute.objects.filter(ticket=message.ticket, channel__in=_route_channels(channel)).order_by(
        "-updated_at"
    )
    if (found := route.first()) is not None:
        return found.address
    kind = {ChannelKind.EMAIL: IdentityKind.EMAIL, ChannelKind.LINE: IdentityKind.LINE}.get(channel)
    identity = (
        Identity.objects.filter(customer=message.ticket.customer, kind=kind, bouncing_since__isnull=True)
        .order_by("-verified", "-created_at")
        .first()
    )
    return identity.value if identity else ""


def _route_channels(channel: str) -> tuple[str, ...]:
    return EMAIL_CHANNELS if channel == ChannelKind.EMAIL else (channel,)


def attempt(delivery_id: int) -> Delivery:
    """One try at sending; safe to call again (a sent delivery is never sent twice)."""
    with transaction.atomic():
        deliveries = Delivery.objects.select_for_update(of=("self",)).select_related("message__ticket")
        delivery = deliveries.get(pk=delivery_id)
        if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    result = _send(delivery)
    with transaction.atomic():
        if result.ok:
            record_delivery(message_id=delivery.message_id, status=DeliveryStatus.SENT)
            delivery.status, delivery.sent_at, delivery.provider_id = (
                DeliveryStatus.SENT,
                timezone.now(),
                result.provider_id,
            )
            delivery.last_error = ""
            delivery.save(update_fields=["status", "sent_at", "provider_id", "last_error"])
        elif result.transient and delivery.attempts < MAX_ATTEMPTS:
            record_delivery(message_id=delivery.message_id, status=DeliveryStatus.RETRYING, detail=result.error)
            delivery.status, delivery.last_error = DeliveryStatus.RETRYING, result.error[:2000]
            delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        else:
            _fail(delivery, result.error)
    return delivery


def _fail(delivery: Delivery, error: str) -> None:
    record_delivery(message_id=delivery.message_id, status=DeliveryStatus.FAILED, detail=error)
    delivery.status, delivery.last_error, delivery.next_attempt_at = DeliveryStatus.FAILED, error[:2000], None
    delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
    data = {
        "message": delivery.message_id,
        "seq": delivery.message.seq,
        "channel": delivery.channel,
        "error": error[:500],
    }
    text = describe_in_english("delivery_failed", data)
    record_event(ticket=delivery.message.ticket, event="delivery_failed", text=text, data=data)


def _send(delivery: Delivery) -> SendResult:
    message = delivery.message
    try:
        if delivery.channel in EMAIL_CHANNELS:
            return _send_email(delivery, message)
        if delivery.channel == ChannelKind.LINE:
            from channels_app.line.delivery import send_line

            return send_line(delivery, message)
    except Exception as error:
        logger.exception("delivery %s failed unexpectedly", delivery.pk)
        return SendResult(ok=False, transient=True, error=f"{type(error).__name__}: {error}")
    return SendResult(ok=False, error=f"No sender for channel {delivery.channel!r}.")


def _send_email(delivery: Delivery, message: Message) -> SendResult:
    ticket = message.ticket
    mailbox = Mailbox.objects.filter(inbox=ticket.inbox).first() or Mailbox.objects.order_by("pk").first()
    from_address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    domain = from_address.rpartition("@")[2] or "localhost"
    route = ReplyRoute.objects.filter(ticket=ticket, channel__in=EMAIL_CHANNELS).order_by("-updated_at").first()
    last_inbound = route.context.get("message_id", "") if route else ""
    sent_before = list(
        Delivery.objects.filter(message__ticket=ticket, status=DeliveryStatus.SENT, channel__in=EMAIL_CHANNELS)
        .exclude(pk=delivery.pk)
        .order_by("sent_at")
        .values_list("provider_id", flat=True)
    )
    message_id = delivery.provider_id or make_message_id(ticket_id=ticket.pk, message_id=message.pk, domain=domain)
    if not delivery.provider_id:
        Delivery.objects.filter(pk=delivery.pk).update(provider_id=message_id)  # the same id on every retry
        delivery.provider_id = message_id
    subject = message.data.get("subject") or (route.context.get("subject") if route else "") or ticket.subject
    if not message.data.get("subject") and not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    outbound = OutboundMessage(
        message_id=message.pk,
        ticket_id=ticket.pk,
        recipient=delivery.recipient,
        text=message.body_text,
        html=message.body_html,
        subject=subject_with_token(subject, ticket.pk),
        attachments=tuple(
            InboundAttachment(filename=a.filename, content=a.file.read(), content_type=a.content_type)
            for a in message.attachments.all()
        ),
        context={
            "message_id": message_id,
            "in_reply_to": last_inbound,
            "references": [ref for ref in [last_inbound, *sent_before] if ref],
            "automatic": message.author_type == AuthorType.SYSTEM,
        },
    )
    adapter = EmailAdapter(from_address=from_address, from_name=mailbox.from_name if mailbox else "")
    return adapter.send(outbound)
