"""Routing of new tickets: rules set the team, priority, tags or agent; then automatic assignment gives a
ticket waiting in a team queue to an available agent of that team. Semantics in docs/routing-and-sla.md.

Every change goes through the ticket services, so the timeline and the audit trail show it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from customers.models import Customer
from helpdesk.models import (
    AgentProfile,
    AssignmentStrategy,
    Presence,
    RoutingRule,
    Team,
    TeamAssignmentCursor,
    Ticket,
    TicketStatus,
)
from helpdesk.services.audit import record_audit
from helpdesk.services.messages import record_event
from helpdesk.services.tickets import UNCHANGED, assign_ticket, update_ticket

logger = logging.getLogger(__name__)

# An agent counts as online when marked online and seen this recently.
PRESENCE_FRESH_FOR = timedelta(minutes=5)
# Tickets that count against an agent's capacity.
LOAD_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)
KEYWORD_SEPARATORS = re.compile(r"[,\n、]")


@dataclasses.dataclass(frozen=True)
class TicketFacts:
    """What routing conditions look at."""

    inbox_id: int
    channel: str
    language: str
    organization_id: int | None
    customer_tag_ids: frozenset[int]
    text: str  # subject and first message, normalized


@dataclasses.dataclass(frozen=True)
class RoutingOutcome:
    rule_ids: tuple[int, ...] = ()  # the rules that matched, in the order applied
    team_id: int | None = None
    priority: str = ""
    tags_added: tuple[str, ...] = ()
    assignee_id: int | None = None
    assigned_by: str = ""  # "rule", "round_robin", "least_load", or "" for nobody


def normalize(text: str) -> str:
    """Case- and width-insensitive form: ＲＥＦＵＮＤ, Refund and refund agree, and so do ｶﾞ and ガ."""
    return unicodedata.normalize("NFKC", text).casefold()


def keywords_of(rule: RoutingRule) -> list[str]:
    return [word.strip() for word in KEYWORD_SEPARATORS.split(normalize(rule.keywords)) if word.strip()]


def rule_matches(rule: RoutingRule, facts: TicketFacts) -> bool:
    """Every condition the rule gives holds; keywords match as substrings (no word boundaries, so
    Japanese works), any one of them is enough."""
    if rule.inbox_id is not None and rule.inbox_id != facts.inbox_id:
        return False
    if rule.channel and rule.channel != facts.channel:
        return False
    if rule.language and rule.language != facts.language:
        return False
    if rule.organization_id is not None and rule.organization_id != facts.organization_id:
        return False
    if rule.customer_tag_id is not None and rule.customer_tag_id not in facts.customer_tag_ids:
        return False
    keywords = keywords_of(rule)
    return not keywords or any(keyword in facts.text for keyword in keywords)


def matching_rules(*, facts: TicketFacts) -> list[RoutingRule]:
    """The active rules that match, in position order, up to the first one that stops processing."""
    matched = []
    for rule in RoutingRule.objects.filter(is_active=True).prefetch_related("add_tags").order_by("position", "id"):
        if rule_matches(rule, facts):
            matched.append(rule)
            if rule.stop_processing:
                break
    return matched


@transaction.atomic
def route_ticket(*, ticket: Ticket, first_message_text: str = "") -> RoutingOutcome:
    """Apply the matching routing rules to a new ticket, then, if it sits in a team queue with nobody
    assigned, give it to an agent of the team by the rule's strategy (or the team's)."""
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)  # the ticket first, then the team's cursor
    customer = Customer.objects.prefetch_related("tags").get(pk=locked.customer_id)
    facts = TicketFacts(
        inbox_id=locked.inbox_id,
        channel=locked.channel,
        language=customer.preferred_language,
        organization_id=customer.organization_id,
        customer_tag_ids=frozenset(tag.pk for tag in customer.tags.all()),
        text=normalize(f"{locked.subject}\n{first_message_text}"),
    )
    rules = matching_rules(facts=facts)
    team_id, priority, assignee_id, strategy = locked.team_id, locked.priority, None, ""
    new_tags: list[str] = []
    for rule in rules:  # a later rule (after one that did not stop) overrides; tags add up
        team_id = rule.set_team_id or team_id
        priority = rule.set_priority or priority
        assignee_id = rule.assign_to_id or assignee_id
        strategy = rule.assign_by or strategy
        new_tags += [tag.name for tag in rule.add_tags.all() if tag.name not in new_tags]

    if rules:
        names = ", ".join(f"“{rule.name}”" for rule in rules)
        details = {"rules": [rule.pk for rule in rules]}
        record_event(ticket=ticket, event="routed", text=f"Routed by {names}", data=details)
        record_audit(obj=locked, actor_id=None, action="routed", changes=details)
    old_tags = [tag.name for tag in locked.tags.all()]
    tags_added = tuple(name for name in new_tags if name not in old_tags)
    if priority != locked.priority or tags_added:
        update_ticket(ticket=ticket, priority=priority, tags=[*old_tags, *tags_added] if tags_added else None)
    assigned_by = _apply_team_and_agent(ticket, locked, team_id, assignee_id)
    if not assigned_by:
        assignee = auto_assign(ticket=ticket, strategy=strategy or None)
        assigned_by = (strategy or _team_strategy(ticket.team_id)) if assignee else ""
    return RoutingOutcome(
        rule_ids=tuple(rule.pk for rule in rules),
        team_id=ticket.team_id,
        priority=ticket.priority,
        tags_added=tags_added,
        assignee_id=ticket.assignee_id,
        assigned_by=assigned_by,
    )


def _apply_team_and_agent(ticket: Ticket, locked: Ticket, team_id: int | None, assignee_id: int | None) -> str:
    """Move the ticket to the rules' team and agent; "rule" when the agent was assigned.

    An agent already assigned stays, and keeps the ticket out of a team they are not part of. An agent named
    by a rule must be active and in the team, else the ticket waits for automatic assignment instead; so
    does a ticket that is still with the bot.
    """
    if locked.assignee_id is not None:
        if team_id != locked.team_id and not _is_agent(locked.assignee_id, team_id):
            logger.warning("routing: ticket #%s stays in its team: its agent is not in team %s", locked.pk, team_id)
            team_id = locked.team_id
        assignee_id = None
    elif assignee_id is not None and (locked.status == TicketStatus.BOT or not _is_agent(assignee_id, team_id)):
        logger.warning("routing: ticket #%s not given to user %s, not an agent of the team", locked.pk, assignee_id)
        assignee_id = None
    team = UNCHANGED if team_id == locked.team_id else Team.objects.get(pk=team_id)
    assignee = UNCHANGED if assignee_id is None else get_user_model().objects.get(pk=assignee_id)
    if team is not UNCHANGED or assignee is not UNCHANGED:
        assign_ticket(ticket=ticket, team=team, assignee=assignee)
    return "" if assignee is UNCHANGED else "rule"


def _is_agent(user_id: int, team_id: int | None) -> bool:
    agents = AgentProfile.objects.filter(user_id=user_id, user__is_active=True)
    return (agents.filter(teams=team_id) if team_id is not None else agents).exists()


def _team_strategy(team_id: int | None) -> str:
    return Team.objects.filter(pk=team_id).values_list("assignment_strategy", flat=True).first() or ""


@transaction.atomic
def auto_assign(*, ticket: Ticket, strategy: str | None = None):
    """Give an unassigned ticket of a team to the next available agent of that team, by `strategy` (the
    team's own when None): round robin or least load, among agents who are online, were seen in the last
    few minutes and are under their capacity. Returns the agent, or None (the ticket stays in the queue).

    Also for the chat hand-off: a ticket with the bot is not assigned by routing until it leaves the bot.
    """
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if locked.team_id is None or locked.assignee_id is not None or locked.status == TicketStatus.BOT:
        return None
    team = Team.objects.get(pk=locked.team_id)
    strategy = strategy or team.assignment_strategy
    if strategy not in (AssignmentStrategy.ROUND_ROBIN, AssignmentStrategy.LEAST_LOAD):
        return None
    now = timezone.now()
    # The cursor row serializes assignment within a team: the next caller counts loads after we commit.
    TeamAssignmentCursor.objects.get_or_create(team=team)
    cursor = TeamAssignmentCursor.objects.select_for_update().get(team=team)
    agents = available_agents(team=team, now=now)
    if strategy == AssignmentStrategy.LEAST_LOAD and agents:
        lightest = min(load for _, load in agents)
        agents = [(profile, load) for profile, load in agents if load == lightest]
    chosen = _next_after(agents, cursor.last_assignee_id)
    if chosen is None:
        return None
    assign_ticket(ticket=ticket, assignee=chosen.user)
    cursor.last_assignee = chosen.user
    cursor.last_assigned_at = now
    cursor.save(update_fields=["last_assignee", "last_assigned_at"])
    return chosen.user


def available_agents(*, team: Team, now: datetime) -> list[tuple[AgentProfile, int]]:
    """Agents of the team who are online, seen recently and under capacity, with their load, by user id."""
    load = Count("user__assigned_tickets", filter=Q(user__assigned_tickets__status__in=LOAD_STATUSES))
    profiles = (
        AgentProfile.objects.filter(
            teams=team,
            user__is_active=True,
            presence=Presence.ONLINE,
            last_seen_at__gte=now - PRESENCE_FRESH_FOR,
        )
        .annotate(load=load)
        .filter(load__lt=F("capacity"))
        .select_related("user")
        .order_by("user_id")
    )
    return [(profile, profile.load) for profile in profiles]


def _next_after(agents: list[tuple[AgentProfile, int]], last_user_id: int | None) -> AgentProfile | None:
    """Round robin: the first agent after the last one assigned, wrapping around."""
    if not agents:
        return None
    for profile, _ in agents:
        if last_user_id is None or profile.user_id > last_user_id:
            return profile
    return agents[0][0]
