"""Answers to LINE: by reply token while it is fresh (free, and in the conversation's flow), else by
push with a retry key derived from the delivery, so a retried push is never shown twice."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from channels_app.adapters import SendResult
from channels_app.line.client import LineClient
from channels_app.models import Delivery, LineAccount, ReplyRoute
from customers.models import ChannelKind
from helpdesk.models import Direction, Message

# LINE accepts a reply token for about a minute; stay well inside it.
REPLY_TOKEN_LIFETIME = timedelta(seconds=50)
RETRY_KEY_NAMESPACE = uuid.UUID("6f1d2c1e-4b7a-4c55-9d38-2f0f8a6b1c11")


def client_for(account: LineAccount) -> LineClient:
    return LineClient(
        account.channel_access_token,
        api_base=settings.LINE_API_BASE,
        data_base=settings.LINE_DATA_BASE,
    )


def send_line(delivery: Delivery, message: Message) -> SendResult:
    account = account_for(message)
    if account is None:
        return SendResult(ok=False, error="No LINE account to answer from: the customer never wrote to an active one.")
    client = client_for(account)
    texts = [message.body_text] + [
        f"{a.filename}: (attachment kept in the helpdesk)" for a in message.attachments.all()
    ]
    route = ReplyRoute.objects.filter(ticket=message.ticket, channel=ChannelKind.LINE).first()
    token = _take_fresh_reply_token(route)
    if token:
        result = client.reply(token, texts)
        if result.ok or result.transient:
            return result
        # An expired or used token: fall through to push.
    retry_key = str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"delivery-{delivery.pk}"))
    return client.push(delivery.recipient, texts, retry_key=retry_key)


def account_for(message: Message) -> LineAccount | None:
    """The LINE account to answer from: the ticket's own, or, for a ticket of another channel (a chat whose
    visitor left), the one the customer last wrote to on LINE (a LINE user id belongs to one provider)."""
    ticket = message.ticket
    accounts = LineAccount.objects.filter(is_active=True)
    account = accounts.filter(inbox=ticket.inbox_id).first()
    if account is not None:
        return account
    last_line_inbox = (
        Message.objects.filter(
            ticket__customer=ticket.customer_id, channel=ChannelKind.LINE, direction=Direction.INBOUND
        )
        .order_by("-created_at")
        .values_list("ticket__inbox", flat=True)
        .first()
    )
    return accounts.filter(inbox=last_line_inbox).first() if last_line_inbox else None


def _take_fresh_reply_token(route: ReplyRoute | None) -> str:
    """The route's reply token if it is still fresh; it is used at most once either way."""
    if route is None or not route.context.get("reply_token"):
        return ""
    context = dict(route.context)
    token = context.pop("reply_token")
    issued = context.pop("reply_token_at", None)
    ReplyRoute.objects.filter(pk=route.pk).update(context=context)
    if issued is None or timezone.now() - datetime.fromisoformat(issued) > REPLY_TOKEN_LIFETIME:
        return ""
    return token
