"""What every channel adapter speaks: plain dataclasses in, plain dataclasses out.

An adapter verifies a request, parses it into `InboundMessage`s, and sends an `OutboundMessage`,
reporting a `SendResult`. Adapters never touch tickets: the inbound pipeline (`channels_app.pipeline`)
and outbound delivery (`channels_app.delivery`) do.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""  # for inline images referenced as cid: in the HTML body


@dataclasses.dataclass(frozen=True)
class Sender:
    """Who wrote: an identity (customers.models.IdentityKind) and how they call themselves."""

    kind: str
    address: str
    name: str = ""
    verified: bool = False


@dataclasses.dataclass(frozen=True)
class InboundMessage:
    """One item a customer sent, on any channel, as the pipeline needs it."""

    channel: str  # customers.models.ChannelKind
    external_id: str  # the channel's own id: Message-ID, webhookEventId, call id... (deduplication)
    sender: Sender
    text: str = ""
    html: str = ""
    subject: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    # Threading hints: ids of earlier messages this one answers (In-Reply-To, References).
    replies_to: tuple[str, ...] = ()
    # Where it was sent (email recipients), to choose the inbox and to spot our own addresses.
    recipients: tuple[str, ...] = ()
    # A channel-level conversation (LINE group or room, chat visitor session): same key, same ticket.
    conversation_key: str = ""
    # Sent by a machine (Auto-Submitted, bulk, list, a bounce...): never acknowledged or auto-answered.
    automated: bool = False
    received_at: datetime | None = None
    # Where answers go, when not to the sender itself (a LINE group), and what answering in thread needs
    # (the email's Message-ID, a LINE reply token and when it was issued).
    reply_address: str = ""
    reply_context: dict = dataclasses.field(default_factory=dict)
    metadata: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class OutboundMessage:
    """An agent's (or the bot's) message going out to one customer address."""

    message_id: int
    ticket_id: int
    recipient: str
    text: str
    html: str = ""
    subject: str = ""
    attachments: tuple[InboundAttachment, ...] = ()
    # Channel context: email Message-IDs to answer, a LINE reply token, ...
    context: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str = ""  # the channel's id of what we sent (Message-ID, LINE request id)
    transient: bool = False  # a failure worth retrying (timeouts, 5xx, rate limits)
    error: str = ""


class ChannelAdapter(Protocol):
    kind: str

    def send(self, outbound: OutboundMessage) -> SendResult: ...
