"""LINE webhook events into the pipeline (runs after the webhook has been acknowledged)."""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings

from channels_app.line.delivery import client_for
from channels_app.line.webhook import LineEvent, to_inbound
from channels_app.models import LineAccount
from channels_app.pipeline import Received, receive
from customers.models import IdentityKind
from customers.services import identify_customer, record_customer_event, update_customer

logger = logging.getLogger(__name__)

CONTENT_TYPES = ("image", "video", "audio", "file")


def handle_event(account: LineAccount, event: LineEvent) -> Received | None:
    if event.kind in ("follow", "unfollow") and event.user_id:
        customer = _customer(account, event.user_id)
        record_customer_event(customer=customer, action=f"line_{event.kind}", detail={"account": account.pk})
        return None
    if event.kind != "message":
        logger.info("LINE event %s (%s) acknowledged and ignored", event.webhook_event_id, event.kind)
        return None
    if event.user_id:
        _customer(account, event.user_id)  # names a new customer from their LINE profile
    content, content_type = b"", ""
    if event.message and event.message.type in CONTENT_TYPES and event.message.content_provider != "external":
        downloaded = client_for(account).get_content(event.message.id, settings.HELPDESK_MAX_ATTACHMENT_BYTES)
        if downloaded is not None:
            content, content_type = downloaded
    inbound = to_inbound(event, content=content or None, content_type=content_type)
    if inbound is None:
        return None
    if event.mode == "standby" or not event.reply_token:
        context = {}
    else:
        context = {"reply_token": event.reply_token, "reply_token_at": event.timestamp.isoformat()}
    if not inbound.sender.address:
        # LINE may leave out the member of a group or room: the group itself is who wrote.
        inbound = dataclasses.replace(inbound, sender=dataclasses.replace(inbound.sender, address=event.chat_id))
    inbound = dataclasses.replace(
        inbound,
        reply_address=event.group_id or event.room_id or event.user_id,
        reply_context=context,
        automated=inbound.automated or event.mode == "standby",
    )
    return receive(inbox=account.inbox, inbound=inbound, config=account)


def _customer(account: LineAccount, user_id: str):
    identified = identify_customer(kind=IdentityKind.LINE, value=user_id, verified=True)
    customer = identified.customer
    if not customer.name:
        profile = client_for(account).get_profile(user_id)
        if profile is not None and profile.display_name:
            customer = update_customer(customer=customer, name=profile.display_name[:200])
    return customer
