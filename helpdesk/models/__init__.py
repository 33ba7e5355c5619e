"""The models of the ticket core, one module per concern. Import them from here: `from helpdesk.models import X`."""

from helpdesk.models.business_hours import BusinessHours, BusinessPeriod, Holiday, Weekday
from helpdesk.models.core import (
    AgentProfile,
    AssignmentStrategy,
    Attachment,
    AuditEntry,
    AuthorType,
    Direction,
    Inbox,
    Message,
    MessageKind,
    Presence,
    Priority,
    Role,
    Team,
    Ticket,
    TicketStatus,
    attachment_path,
)
from helpdesk.models.routing import RoutingRule, TeamAssignmentCursor
from helpdesk.models.sla import SlaClock, SlaMetric, SlaPolicy, SlaTarget, TicketSla

__all__ = [
    "AgentProfile",
    "AssignmentStrategy",
    "Attachment",
    "AuditEntry",
    "AuthorType",
    "BusinessHours",
    "BusinessPeriod",
    "Direction",
    "Holiday",
    "Inbox",
    "Message",
    "MessageKind",
    "Presence",
    "Priority",
    "Role",
    "RoutingRule",
    "SlaClock",
    "SlaMetric",
    "SlaPolicy",
    "SlaTarget",
    "Team",
    "TeamAssignmentCursor",
    "Ticket",
    "TicketSla",
    "TicketStatus",
    "Weekday",
    "attachment_path",
]
