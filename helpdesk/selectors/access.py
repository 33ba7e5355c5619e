"""Who may see what. Every list and detail (pages, API, websockets, exports) reads through here.

A ticket that exists but is not the caller's is reported exactly like one that does not exist.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from customers.models import Customer
from helpdesk.models import AgentProfile, Attachment, Message, Role, Ticket


def role_of(user) -> str | None:
    """The user's helpdesk role, or None for a user with no business here."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    profile = _profile(user)
    if profile is not None:
        return profile.role
    if _customer_id(user) is not None:
        return Role.CUSTOMER
    return None


def is_staff_role(user) -> bool:
    return role_of(user) in (Role.ADMIN, Role.SUPERVISOR, Role.AGENT)


def _profile(user) -> AgentProfile | None:
    try:
        return user.agent_profile
    except AgentProfile.DoesNotExist:
        return None


def _customer_id(user) -> int | None:
    try:
        customer = user.customer
    except Customer.DoesNotExist:
        return None
    return None if customer.is_merged else customer.pk


def restricted_team_ids(user) -> list[int] | None:
    """The teams an agent is confined to, or None when the agent may see every ticket.

    An agent is confined when any of their teams is set to `restrict_to_team_tickets`.
    """
    profile = _profile(user)
    if profile is None or profile.role != Role.AGENT:
        return None
    teams = list(profile.teams.values_list("pk", "restrict_to_team_tickets"))
    if not any(restricted for _, restricted in teams):
        return None
    return [pk for pk, _ in teams]


def tickets_visible_to(user) -> QuerySet[Ticket]:
    role = role_of(user)
    if role in (Role.ADMIN, Role.SUPERVISOR):
        return Ticket.objects.all()
    if role == Role.AGENT:
        team_ids = restricted_team_ids(user)
        if team_ids is None:
            return Ticket.objects.all()
        return Ticket.objects.filter(Q(team_id__in=team_ids) | Q(assignee=user))
    if role == Role.CUSTOMER:
        return Ticket.objects.filter(customer_id=_customer_id(user))
    return Ticket.objects.none()


def ticket_access(*, user, ticket_id: int, for_update: bool = False) -> Ticket:
    """The ticket, if `user` may see it; Ticket.DoesNotExist otherwise (missing or forbidden alike)."""
    tickets = tickets_visible_to(user)
    if for_update:
        tickets = tickets.select_for_update(of=("self",))
    return tickets.get(pk=ticket_id)


def messages_visible_to(user, ticket: Ticket) -> QuerySet[Message]:
    """The ticket's timeline as `user` may see it: customers never see internal notes or events."""
    messages = Message.objects.filter(ticket=ticket)
    if role_of(user) == Role.CUSTOMER:
        messages = messages.filter(is_public=True)
    return messages


def attachment_access(*, user, ticket_id: int, attachment_id: int) -> Attachment:
    ticket = ticket_access(user=user, ticket_id=ticket_id)
    return Attachment.objects.select_related("message").get(
        pk=attachment_id, message__in=messages_visible_to(user, ticket)
    )
