"""Routing of new tickets: rules set the team, priority, tags or agent; then automatic assignment gives a
ticket waiting in a team queue to an available agent of that team. Semantics in docs/routing-and-sla.md.

Routing decides before a ticket is opened (`route_drafts`), so a ticket is created once with its team,
priority, tags and agent, its SLA planned once, and one "routed" event on its timeline; a batch of new
tickets is routed with a few queries. `auto_assign` gives an existing ticket (a chat leaving the bot) an agent.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from customers.models import Customer
from helpdesk.configuration import cached
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
from helpdesk.services.tickets import OpenedTicket, TicketDraft, assign_ticket, open_tickets

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


def matching_rules(*, facts: TicketFacts, rules: Sequence[RoutingRule]) -> list[RoutingRule]:
    """The rules that match, in position order, up to the first one that stops processing."""
    matched = []
    for rule in rules:
        if rule_matches(rule, facts):
            matched.append(rule)
            if rule.stop_processing:
                break
    return matched


def active_rules() -> list[RoutingRule]:
    return cached(
        "routing-rules",
        lambda: list(
            RoutingRule.objects.filter(is_active=True).prefetch_related("add_tags").order_by("position", "id")
        ),
    )


@transaction.atomic
def open_routed_tickets(drafts: Sequence[TicketDraft]) -> list[OpenedTicket]:
    """Route new tickets and open them, in one transaction: the teams' assignment cursors stay locked until
    the tickets (and so the agents' new loads) are stored."""
    return open_tickets(route_drafts(drafts))


def route_drafts(drafts: Sequence[TicketDraft]) -> list[TicketDraft]:
    """The drafts of new tickets as routing wants them opened: the matching rules' team, priority, tags and
    agent, else an available agent of the team by the rule's strategy (or the team's). Routing is noted in
    each draft (`routing`) for the timeline and the audit trail; drafts nothing applies to come back as
    they were. It locks and moves the teams' assignment cursors: call it in the transaction that opens the
    tickets (`open_routed_tickets`)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("route_drafts runs in the transaction that opens the tickets")
    rules = active_rules()
    customer_tags = _customer_tags({draft.customer.pk for draft in drafts}) if rules else {}
    decisions = [_apply_rules(draft, rules, customer_tags) for draft in drafts]
    memberships = _memberships({d.assignee_id for d in decisions if d.assignee_id})
    teams = cached("teams", Team.objects.in_bulk)
    by_rule = [_rule_assignee(decision, memberships) for decision in decisions]
    picking = [
        decision.team_id is not None and assignee is None and decision.draft.assignee is None
        and decision.draft.status != TicketStatus.BOT
        for decision, (assignee, _) in zip(decisions, by_rule, strict=True)
    ]  # fmt: skip
    now = timezone.now()
    # The teams' cursors locked in one order (team id): two batches routing to the same teams never deadlock.
    team_ids = sorted({decision.team_id for decision, picks in zip(decisions, picking, strict=True) if picks})
    pickers = {team_id: _AgentPicker(teams[team_id], now) for team_id in team_ids}
    routed = []
    for decision, (assignee, assigned_by), picks in zip(decisions, by_rule, picking, strict=True):
        if picks:
            picker = pickers[decision.team_id]
            strategy = decision.strategy or picker.team.assignment_strategy
            assignee = picker.pick(strategy)
            assigned_by = strategy if assignee else ""
        routed.append(_routed_draft(decision, teams, assignee, assigned_by))
    for picker in pickers.values():
        picker.save()
    return routed


@dataclasses.dataclass
class _Decision:
    draft: TicketDraft
    rules: list[RoutingRule]
    team_id: int | None
    priority: str
    tags_added: tuple[str, ...]
    assignee_id: int | None  # named by a rule
    strategy: str


def _apply_rules(draft: TicketDraft, rules: list[RoutingRule], customer_tags: dict[int, frozenset[int]]) -> _Decision:
    first_text = draft.first_message.body_text if draft.first_message else ""
    facts = TicketFacts(
        inbox_id=draft.inbox.pk,
        channel=draft.channel or draft.inbox.kind,
        language=draft.customer.preferred_language,
        organization_id=draft.customer.organization_id,
        customer_tag_ids=customer_tags.get(draft.customer.pk, frozenset()),
        text=normalize(f"{draft.subject}\n{first_text}"),
    )
    matched = matching_rules(facts=facts, rules=rules)
    team_id, priority, assignee_id, strategy = draft.team_id, draft.priority, None, ""
    tags: list[str] = []
    for rule in matched:  # a later rule (after one that did not stop) overrides; tags add up
        team_id = rule.set_team_id or team_id
        priority = rule.set_priority or priority
        assignee_id = rule.assign_to_id or assignee_id
        strategy = rule.assign_by or strategy
        tags += [tag.name for tag in rule.add_tags.all() if tag.name not in tags]
    if draft.assignee is not None and team_id != draft.team_id and not _member(draft.assignee.pk, team_id):
        # An agent already given the ticket keeps it, in a team they belong to.
        logger.warning("routing: a ticket of %s stays in its team: its agent is not in team %s", draft.inbox, team_id)
        team_id = draft.team_id
    tags_added = tuple(name for name in tags if name not in draft.tags)
    return _Decision(draft, matched, team_id, priority, tags_added, assignee_id, strategy)


def _customer_tags(customer_ids: set[int]) -> dict[int, frozenset[int]]:
    rows = Customer.tags.through.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "tag_id")
    tags: dict[int, set[int]] = {}
    for customer_id, tag_id in rows:
        tags.setdefault(customer_id, set()).add(tag_id)
    return {customer_id: frozenset(ids) for customer_id, ids in tags.items()}


Memberships = dict[int, tuple[AgentProfile, set[int | None]]]


def _memberships(user_ids: set[int]) -> Memberships:
    """Active agents among `user_ids`, with their teams (None stands for "no team needed")."""
    if not user_ids:
        return {}
    profiles = (
        AgentProfile.objects.filter(user_id__in=user_ids, user__is_active=True)
        .select_related("user")
        .prefetch_related("teams")
    )
    return {profile.user_id: (profile, {None, *(team.pk for team in profile.teams.all())}) for profile in profiles}


def _member(user_id: int, team_id: int | None, memberships: Memberships | None = None) -> bool:
    memberships = memberships if memberships is not None else _memberships({user_id})
    return user_id in memberships and team_id in memberships[user_id][1]


def _rule_assignee(decision: _Decision, memberships: Memberships) -> tuple[AgentProfile | None, str]:
    """The agent a rule named, if they may take the ticket: an active agent of its team, and not while the
    ticket is with the bot; otherwise the ticket goes to automatic assignment."""
    draft = decision.draft
    if decision.assignee_id is None or draft.assignee is not None:
        return None, ""
    if draft.status == TicketStatus.BOT or not _member(decision.assignee_id, decision.team_id, memberships):
        logger.warning("routing: %s not given to user %s, not an agent of the team", draft, decision.assignee_id)
        return None, ""
    return memberships[decision.assignee_id][0], "rule"


def _routed_draft(decision: _Decision, teams: dict[int, Team], profile: AgentProfile | None, by: str) -> TicketDraft:
    draft = decision.draft
    assignee = profile.user if profile is not None else draft.assignee
    if not decision.rules and not by:
        return draft
    team = teams.get(decision.team_id) if decision.team_id else None
    routing = {
        "rules": [rule.pk for rule in decision.rules],
        "rule_names": [rule.name for rule in decision.rules],
        "team": decision.team_id,
        "team_name": team.name if team else None,
        "priority": decision.priority,
        "tags_added": list(decision.tags_added),
        "assignee": profile.user_id if profile is not None else None,
        "assignee_name": str(profile) if profile is not None else None,
        "assigned_by": by,
    }
    return dataclasses.replace(
        draft,
        team=team,
        priority=decision.priority,
        tags=(*draft.tags, *decision.tags_added),
        assignee=assignee,
        routing=routing,
    )


class _AgentPicker:
    """Automatic assignment within one team: the team's cursor row locked (it serializes assignment in the
    team: the next transaction counts loads after this one commits), its available agents read once, each
    pick counted against the agent's capacity and moving the round-robin turn."""

    def __init__(self, team: Team, now: datetime) -> None:
        self.team, self.now = team, now
        TeamAssignmentCursor.objects.get_or_create(team=team)
        self.cursor = TeamAssignmentCursor.objects.select_for_update().get(team=team)
        self.agents = {profile.user_id: [profile, load] for profile, load in available_agents(team=team, now=now)}
        self.moved = False

    def pick(self, strategy: str) -> AgentProfile | None:
        if strategy not in (AssignmentStrategy.ROUND_ROBIN, AssignmentStrategy.LEAST_LOAD):
            return None
        candidates = [(profile, load) for profile, load in self.agents.values() if load < profile.capacity]
        if strategy == AssignmentStrategy.LEAST_LOAD and candidates:
            lightest = min(load for _, load in candidates)
            candidates = [(profile, load) for profile, load in candidates if load == lightest]
        chosen = _next_after(candidates, self.cursor.last_assignee_id)
        if chosen is None:
            return None
        self.agents[chosen.user_id][1] += 1
        self.cursor.last_assignee_id, self.cursor.last_assigned_at, self.moved = chosen.user_id, self.now, True
        return chosen

    def save(self) -> None:
        if self.moved:
            self.cursor.save(update_fields=["last_assignee", "last_assigned_at"])


@transaction.atomic
def auto_assign(*, ticket: Ticket, strategy: str | None = None):
    """Give an unassigned ticket of a team to the next available agent of that team, by `strategy` (the
    team's own when None): round robin or least load, among agents who are online, were seen in the last
    few minutes and are under their capacity. Returns the agent, or None (the ticket stays in the queue).

    For tickets already open: a chat leaving the bot, a ticket whose agent left. New tickets are assigned
    by `route_drafts` before they are opened.
    """
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)  # the ticket first, then the team's cursor
    if locked.team_id is None or locked.assignee_id is not None or locked.status == TicketStatus.BOT:
        return None
    picker = _AgentPicker(Team.objects.get(pk=locked.team_id), timezone.now())
    chosen = picker.pick(strategy or picker.team.assignment_strategy)
    if chosen is None:
        return None
    assign_ticket(ticket=ticket, assignee=chosen.user)
    picker.save()
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
