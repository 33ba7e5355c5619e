"""The waiting queue of live chats: who can take a chat, who it is offered to, where a customer stands and
how long they will honestly wait."""

from __future__ import annotations

import dataclasses
import statistics
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from channels_app.models import ChatSession, ChatState, ChatWidget
from helpdesk.business_hours import is_open
from helpdesk.models import AgentProfile, Presence, TeamAssignmentCursor
from helpdesk.services.routing import PRESENCE_FRESH_FOR
from helpdesk.services.sla import schedule

RECENT_CHATS = 20  # accepted chats the wait estimate is drawn from
RECENT_DAYS = 7


@dataclasses.dataclass(frozen=True)
class Availability:
    open_now: bool  # inside the inbox's (or its team's) business hours
    agents_free: int  # online agents of the team under their chat capacity
    agents_online: int

    @property
    def status(self) -> str:
        """What the widget shows: someone can answer now, everyone is busy, or nobody is there."""
        if not self.open_now or not self.agents_online:
            return "away"
        return "online" if self.agents_free else "busy"


def chat_agents(*, team_id: int | None, now: datetime | None = None):
    """Agents who could take a chat of this team now: active, online, seen lately, with their chat load.
    Without a team, every agent."""
    now = now or timezone.now()
    load = Count("user__assigned_tickets", filter=Q(user__assigned_tickets__chat__state=ChatState.AGENT), distinct=True)
    agents = AgentProfile.objects.filter(
        user__is_active=True, presence=Presence.ONLINE, last_seen_at__gte=now - PRESENCE_FRESH_FOR
    )
    if team_id is not None:
        agents = agents.filter(teams=team_id)
    return agents.annotate(chat_load=load).select_related("user").order_by("user_id")


def availability(*, widget: ChatWidget, team_id: int | None, now: datetime | None = None) -> Availability:
    """Whether the chat's support is open now (the inbox's business hours, else its team's) and who is there."""
    now = now or timezone.now()
    inbox = widget.inbox
    hours_id = inbox.business_hours_id or (inbox.team.business_hours_id if inbox.team_id else None)
    agents = list(chat_agents(team_id=team_id, now=now))
    free = [agent for agent in agents if agent.chat_load < agent.chat_capacity]
    return Availability(open_now=is_open(schedule(hours_id), now), agents_free=len(free), agents_online=len(agents))


def next_agent(session: ChatSession, *, now: datetime | None = None):
    """Who the waiting chat is offered to next: round robin among the team's free agents who have not let it
    pass (the team's cursor row, locked, serializes offers with ticket assignment). None if nobody is free."""
    ticket = session.ticket
    declined = set(session.declined_by)
    free = [
        agent
        for agent in chat_agents(team_id=ticket.team_id, now=now)
        if agent.chat_load < agent.chat_capacity and agent.user_id not in declined
    ]
    if not free:
        return None
    if ticket.team_id is None:
        return free[0].user
    TeamAssignmentCursor.objects.get_or_create(team_id=ticket.team_id)
    cursor = TeamAssignmentCursor.objects.select_for_update().get(team_id=ticket.team_id)
    chosen = next((agent for agent in free if agent.user_id > (cursor.last_assignee_id or 0)), free[0])
    cursor.last_assignee_id, cursor.last_assigned_at = chosen.user_id, now or timezone.now()
    cursor.save(update_fields=["last_assignee", "last_assigned_at"])
    return chosen.user


def waiting(*, team_ids: list[int] | None = None):
    """Chats waiting for an agent, longest waiting first (of these teams; None: all)."""
    chats = ChatSession.objects.filter(state=ChatState.QUEUED).select_related(
        "ticket__customer", "ticket__team", "ticket__assignee__agent_profile", "offered_to"
    )
    if team_ids is not None:
        chats = chats.filter(Q(ticket__team_id__in=team_ids) | Q(ticket__team__isnull=True))
    return chats.order_by("queued_at", "ticket_id")


def team_queue(team_id: int | None):
    """The chats waiting in one team's queue (None: the chats of no team), in the order they will be taken."""
    return ChatSession.objects.filter(state=ChatState.QUEUED, ticket__team_id=team_id).order_by(
        "queued_at", "ticket_id"
    )


def position(session: ChatSession) -> int | None:
    """1 for the next chat an agent of the team will take."""
    if session.state != ChatState.QUEUED or session.queued_at is None:
        return None
    queued_at = session.queued_at
    ahead = team_queue(session.ticket.team_id).filter(
        Q(queued_at__lt=queued_at) | Q(queued_at=queued_at, ticket_id__lt=session.pk)
    )
    return ahead.count() + 1


def recent_waits(team_id: int | None, *, now: datetime) -> list[timedelta]:
    """How long the team's recently accepted chats waited (queued to accepted), newest first."""
    recent = (
        ChatSession.objects.filter(
            ticket__team_id=team_id,
            accepted_at__isnull=False,
            queued_at__isnull=False,
            accepted_at__gte=now - timedelta(days=RECENT_DAYS),
        )
        .order_by("-accepted_at")
        .values_list("queued_at", "accepted_at")[:RECENT_CHATS]
    )
    return [accepted - queued for queued, accepted in recent if accepted >= queued]


def wait_at(place: int, *, waits: list[timedelta], agents_free: int) -> timedelta | None:
    """The most likely wait at this place in the queue: the recent waits' median, times the queue ahead shared
    among the free agents. None when there is too little history to tell."""
    if len(waits) < 3:
        return None
    return statistics.median(waits) * max(1, -(-place // max(agents_free, 1)))


def chat_load(user) -> int:
    return ChatSession.objects.filter(state=ChatState.AGENT, ticket__assignee=user).count()


def can_take(user) -> bool:
    profile = AgentProfile.objects.filter(user=user, user__is_active=True).first()
    return profile is not None and chat_load(user) < profile.chat_capacity


def expired_offers(*, now: datetime | None = None) -> list[ChatSession]:
    """Waiting chats whose offer ran out (or was never made: an agent may have come online since)."""
    now = now or timezone.now()
    waiting_chats = ChatSession.objects.filter(state=ChatState.QUEUED).select_related("widget")
    return [
        chat
        for chat in waiting_chats
        if chat.offered_at is None or chat.offered_at < now - timedelta(seconds=chat.widget.offer_seconds)
    ]
