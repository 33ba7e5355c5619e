"""LINE webhook events into the pipeline. The webhook stores each verified event as an intake item and
answers at once; here a worker turns a batch of events into arrivals: profiles of new users and media
contents are fetched from LINE (concurrently, outside any transaction), follow and unfollow go to the
customer's history, other events are acknowledged and ignored."""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from channels_app.intake import Incoming, Settled
from channels_app.line.delivery import client_for
from channels_app.line.webhook import CHANNEL, LineEvent, parse_event, to_inbound
from channels_app.models import InboundItem, IntakeSource, LineAccount
from channels_app.pipeline import Arrival
from customers.models import Identity, IdentityKind
from customers.services import identify_customer, record_customer_event, update_customer
from helpdesk.configuration import cached

logger = logging.getLogger(__name__)

CONTENT_TYPES = ("image", "video", "audio", "file")
FETCHERS = 8  # concurrent requests to LINE's API per batch


def incoming(account: LineAccount, events: list[dict]) -> list[Incoming]:
    """The events of one verified webhook as intake items, keyed by their webhookEventId."""
    return [
        Incoming(
            channel=CHANNEL,
            key=f"{CHANNEL}:{account.inbox_id}:{event.get('webhookEventId') or _message_id(event)}",
            source=IntakeSource.LINE,
            payload=json.dumps(event, ensure_ascii=False).encode(),
            inbox_id=account.inbox_id,
        )
        for event in events
    ]


def accounts_by_inbox() -> dict[int, LineAccount]:
    return cached("line-accounts", lambda: {a.inbox_id: a for a in LineAccount.objects.select_related("inbox")})


def _message_id(event: dict) -> str:
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    return str(message.get("id") or json.dumps(event, sort_keys=True))


class LineIntake:
    def arrivals(self, items: list[InboundItem]) -> list[Arrival | Settled]:
        accounts = accounts_by_inbox()
        events = [parse_event(json.loads(bytes(item.payload))) for item in items]
        jobs = [(accounts.get(item.inbox_id), event) for item, event in zip(items, events, strict=True)]
        names = _profile_names([(account, event) for account, event in jobs if account is not None])
        contents = _contents([(account, event) for account, event in jobs if account is not None])
        return [
            _arrival(account, event, names, contents.get(event.message.id if event.message else ""))
            for account, event in jobs
        ]

    def give_up(self, item: InboundItem, error: Exception) -> Settled | None:
        return None  # LINE keeps nothing for us: try again later, then leave it failed for an admin


def _arrival(
    account: LineAccount | None, event: LineEvent, names: dict[str, str], content: tuple[bytes, str] | None
) -> Arrival | Settled:
    if account is None or not account.is_active:
        return Settled("ignored", "the LINE account is gone or inactive")
    if event.kind in ("follow", "unfollow") and event.user_id:
        return Settled(f"line_{event.kind}", action=lambda: _record_follow(account, event, names))
    if event.kind != "message":
        logger.info("LINE event %s (%s) acknowledged and ignored", event.webhook_event_id, event.kind)
        return Settled("ignored", f"{event.raw_type} event")
    inbound = to_inbound(event, content=content[0] if content else None, content_type=content[1] if content else "")
    if inbound is None:
        return Settled("ignored", f"{event.raw_type} event")
    context = {}
    if event.mode != "standby" and event.reply_token:
        context = {"reply_token": event.reply_token, "reply_token_at": event.timestamp.isoformat()}
    sender = inbound.sender
    if not sender.address:
        # LINE may leave out the member of a group or room: the group itself is who wrote.
        sender = dataclasses.replace(sender, address=event.chat_id)
    sender = dataclasses.replace(sender, name=names.get(sender.address, ""))
    inbound = dataclasses.replace(
        inbound,
        sender=sender,
        reply_address=event.group_id or event.room_id or event.user_id,
        reply_context=context,
        automated=inbound.automated or event.mode == "standby",
    )
    return Arrival(inbox=account.inbox, inbound=inbound, config=account)


def _record_follow(account: LineAccount, event: LineEvent, names: dict[str, str]) -> None:
    customer = identify_customer(kind=IdentityKind.LINE, value=event.user_id, name=names.get(event.user_id, ""))
    record_customer_event(customer=customer.customer, action=f"line_{event.kind}", detail={"account": account.pk})


def _profile_names(jobs: list[tuple[LineAccount, LineEvent]]) -> dict[str, str]:
    """Display names of the users whose customer has no name yet (new users), read from LINE's API; an
    existing nameless customer is named here too."""
    users = {event.user_id: account for account, event in jobs if event.user_id and event.kind != "unfollow"}
    if not users:
        return {}
    named = set(
        Identity.objects.filter(kind=IdentityKind.LINE, value__in=users)
        .exclude(customer__name="")
        .values_list("value", flat=True)
    )
    wanted = [(user_id, account) for user_id, account in users.items() if user_id not in named]
    with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
        profiles = pool.map(lambda job: client_for(job[1]).get_profile(job[0]), wanted)
        names = {
            user_id: profile.display_name[:200]
            for (user_id, _), profile in zip(wanted, profiles, strict=True)
            if profile is not None and profile.display_name
        }
    nameless = Identity.objects.filter(kind=IdentityKind.LINE, value__in=names, customer__name="")
    for identity in nameless.select_related("customer"):
        update_customer(customer=identity.customer, name=names[identity.value])
    return names


def _contents(jobs: list[tuple[LineAccount, LineEvent]]) -> dict[str, tuple[bytes, str]]:
    """Media kept by LINE (images, video, audio, files), by message id; what could not be fetched is left out
    (the message says so)."""
    wanted = [
        (account, event.message.id)
        for account, event in jobs
        if event.kind == "message"
        and event.message
        and event.message.type in CONTENT_TYPES
        and event.message.content_provider != "external"
    ]
    if not wanted:
        return {}
    limit = settings.HELPDESK_MAX_ATTACHMENT_BYTES
    with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
        downloaded = pool.map(lambda job: client_for(job[0]).get_content(job[1], limit), wanted)
        return {message_id: content for (_, message_id), content in zip(wanted, downloaded, strict=True) if content}
