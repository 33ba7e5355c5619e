"""Ticket reads shared by the inbox pages and the API, with a constant number of queries per page."""

from django.db.models import Prefetch, QuerySet

from helpdesk.models import Attachment, Message, Ticket
from helpdesk.selectors.access import messages_visible_to, tickets_visible_to


def with_list_relations(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What a ticket row shows (customer, inbox, team, assignee, tags), fetched in two queries per page."""
    return tickets.select_related("customer", "inbox", "team", "assignee__agent_profile").prefetch_related("tags")


def ticket_list(*, user) -> QuerySet[Ticket]:
    return with_list_relations(tickets_visible_to(user)).order_by("-updated_at", "-id")


def ticket_timeline(*, user, ticket: Ticket) -> QuerySet[Message]:
    return (
        messages_visible_to(user, ticket)
        .select_related("author_user__agent_profile", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("seq")
    )
