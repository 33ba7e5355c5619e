"""Domain events of the ticket core, published after commit.

Other apps subscribe in their `AppConfig.ready()`: `subscribe(MessageCreated, handler)`. The bus itself
lives in `customers.events` (the bottom app) and is re-exported here with the customer events, so this
module is the one place a subscriber needs.
"""

import dataclasses
from typing import ClassVar

from customers.events import (
    CustomerChanged,
    CustomersMerged,
    DomainEvent,
    importing_history,
    publish,
    publish_all,
    subscribe,
    unsubscribe,
)

__all__ = [
    "CustomerChanged",
    "CustomersMerged",
    "DomainEvent",
    "MessageCreated",
    "TicketAssigned",
    "TicketChanged",
    "TicketStatusChanged",
    "importing_history",
    "publish",
    "publish_all",
    "subscribe",
    "unsubscribe",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageCreated(DomainEvent):
    name: ClassVar[str] = "message_created"
    ticket_id: int
    message_id: int
    seq: int
    inbox_id: int
    customer_id: int
    kind: str
    direction: str
    channel: str
    author_type: str
    is_public: bool
    # The message as posted, for in-process subscribers (realtime serializes it without reading it back);
    # None when it had attachments. Not in the payload.
    message: object = dataclasses.field(default=None, compare=False, repr=False, metadata={"local": True})


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketStatusChanged(DomainEvent):
    name: ClassVar[str] = "ticket_status_changed"
    ticket_id: int
    inbox_id: int
    old_status: str
    new_status: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketAssigned(DomainEvent):
    name: ClassVar[str] = "ticket_assigned"
    ticket_id: int
    inbox_id: int
    assignee_id: int | None
    previous_assignee_id: int | None
    team_id: int | None
    previous_team_id: int | None
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TicketChanged(DomainEvent):
    """Any recorded change of a ticket's fields (subject, priority, tags, status, assignment)."""

    name: ClassVar[str] = "ticket_changed"
    ticket_id: int
    actor_id: int | None
    action: str
    changes: dict
