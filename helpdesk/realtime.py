"""Fan-out of domain events to Channels groups, after commit.

Groups (the websocket protocol in docs/chat-protocol.md subscribes sockets to them):
- `ticket.<id>.staff`: everything that happens on a ticket (messages, status, assignment, field and
  SLA changes), for agents viewing it;
- `ticket.<id>.public`: only what the customer may see (never internal notes or system events);
- `inbox.<id>`: ticket-level changes for agents watching an inbox list;
- `user.<id>`: assignments, for the agent concerned.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from helpdesk.events import DomainEvent, MessageCreated, TicketAssigned, TicketChanged, TicketStatusChanged, subscribe

logger = logging.getLogger(__name__)

GROUP_MESSAGE_TYPE = "helpdesk.event"  # consumers handle it in `helpdesk_event`
# TicketChanged actions that have an event of their own (TicketStatusChanged, TicketAssigned).
ANNOUNCED_SEPARATELY = frozenset({"created", "status_changed", "assigned"})


def ticket_group(ticket_id: int, *, public: bool) -> str:
    return f"ticket.{ticket_id}.{'public' if public else 'staff'}"


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def groups_for(event: DomainEvent) -> list[str]:
    if isinstance(event, MessageCreated):
        groups = [ticket_group(event.ticket_id, public=False), inbox_group(event.inbox_id)]
        if event.is_public:
            groups.append(ticket_group(event.ticket_id, public=True))
        return groups
    if isinstance(event, TicketStatusChanged):
        return [
            ticket_group(event.ticket_id, public=False),
            ticket_group(event.ticket_id, public=True),
            inbox_group(event.inbox_id),
        ]
    if isinstance(event, TicketAssigned):
        groups = [ticket_group(event.ticket_id, public=False), inbox_group(event.inbox_id)]
        groups += [user_group(pk) for pk in {event.assignee_id, event.previous_assignee_id} if pk]
        return groups
    if isinstance(event, TicketChanged) and event.action not in ANNOUNCED_SEPARATELY:
        # Field changes and SLA warnings matter to agents only.
        return [ticket_group(event.ticket_id, public=False)]
    return []


def send_to_groups(event: DomainEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": GROUP_MESSAGE_TYPE, "event": event.payload()}
    for group in groups_for(event):
        async_to_sync(layer.group_send)(group, message)


def connect() -> None:
    for event_type in (MessageCreated, TicketStatusChanged, TicketAssigned, TicketChanged):
        subscribe(event_type, send_to_groups)
