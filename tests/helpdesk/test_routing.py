"""Routing rules for new tickets and automatic assignment: conditions, order, actions through the ticket
services, round robin and least load among available agents, and both under concurrent routing."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from customers.models import Tag
from helpdesk.models import AuditEntry, Presence, TeamAssignmentCursor, Ticket, TicketSla, TicketStatus
from helpdesk.services.routing import TicketFacts, auto_assign, normalize, route_ticket, rule_matches
from helpdesk.services.tickets import assign_ticket, change_status, open_ticket
from tests.factories import (
    AgentFactory,
    CustomerFactory,
    OrganizationFactory,
    RoutingRuleFactory,
    SlaPolicyFactory,
    TeamFactory,
    TicketFactory,
)
from tests.helpers import run_concurrently


def online_agent(team, username, capacity=5, **fields):
    fields = {"presence": Presence.ONLINE, "last_seen_at": timezone.now(), **fields}
    return AgentFactory(user__username=username, teams=[team], capacity=capacity, **fields).user


def new_ticket(inbox, subject="Question", customer=None, **fields):
    return open_ticket(inbox=inbox, customer=customer or CustomerFactory(), subject=subject, **fields)


def routed(inbox, text="", subject="Question", customer=None, **fields):
    ticket = new_ticket(inbox, subject, customer, **fields)
    outcome = route_ticket(ticket=ticket, first_message_text=text)
    ticket.refresh_from_db()
    return ticket, outcome


def audit_actions(ticket):
    entries = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Ticket), object_id=ticket.pk)
    return sorted(entries.values_list("action", flat=True))


@pytest.fixture
def billing(db):
    return TeamFactory(name="Billing")


@pytest.mark.django_db
def test_japanese_keywords_route_to_a_team_with_priority_and_tags(inbox, billing):
    rule = RoutingRuleFactory(
        name="返金", keywords="返金\n請求書", set_team=billing, set_priority="high", add_tags=["billing", "refund"]
    )

    ticket, outcome = routed(inbox, text="先日の注文の返金をお願いします", subject="ご相談")

    assert outcome.rule_ids == (rule.pk,)
    assert (ticket.team, ticket.priority, ticket.assignee) == (billing, "high", None)
    assert sorted(tag.name for tag in ticket.tags.all()) == ["billing", "refund"]
    assert outcome.tags_added == ("billing", "refund")
    events = list(ticket.messages.filter(kind="event").values_list("event", "body_text"))
    assert events == [("routed", "Routed by “返金”"), ("assigned", "Unassigned (Billing)")]
    assert audit_actions(ticket) == ["assigned", "created", "routed", "updated"]


@pytest.mark.django_db
def test_keywords_match_anywhere_ignoring_case_and_full_or_half_width(inbox, billing):
    RoutingRuleFactory(keywords="refund, invoice\nヘンキン", set_team=billing)

    assert routed(inbox, subject="REFUND please")[0].team == billing
    assert routed(inbox, subject="ＩＮＶＯＩＣＥ 不備")[0].team == billing
    assert routed(inbox, text="Can I get it refunded?")[0].team == billing
    assert routed(inbox, text="ﾍﾝｷﾝ ｷﾎﾞｳ")[0].team == billing
    unmatched, outcome = routed(inbox, subject="Shipping", text="Where is my parcel?")
    assert (unmatched.team, outcome.rule_ids) == (inbox.team, ())
    assert not unmatched.messages.exists()


def facts(**fields):
    defaults = {
        "inbox_id": 1,
        "channel": "email",
        "language": "",
        "organization_id": None,
        "customer_tag_ids": frozenset(),
        "text": normalize("Order 1029 の件"),
    }
    return TicketFacts(**{**defaults, **fields})


@pytest.mark.django_db
def test_every_condition_a_rule_gives_must_hold(inbox):
    acme, vip = OrganizationFactory(), Tag.objects.create(name="vip")
    rule = RoutingRuleFactory.build(inbox=inbox, channel="line", language="ja", organization=acme, customer_tag=vip)
    matching = {
        "inbox_id": inbox.pk,
        "channel": "line",
        "language": "ja",
        "organization_id": acme.pk,
        "customer_tag_ids": frozenset({vip.pk, 99}),
    }
    assert rule_matches(rule, facts(**matching))
    for field, other in [
        ("inbox_id", inbox.pk + 1),
        ("channel", "email"),
        ("language", "en"),
        ("organization_id", None),
        ("customer_tag_ids", frozenset({99})),
    ]:
        assert not rule_matches(rule, facts(**{**matching, field: other})), field
    assert rule_matches(RoutingRuleFactory.build(), facts())  # no conditions: every ticket


@pytest.mark.django_db
def test_customer_organization_tag_and_language_route_through_the_service(inbox, billing):
    acme = OrganizationFactory(name="Acme")
    vip_team, japanese_team = TeamFactory(name="VIP"), TeamFactory(name="日本語")
    RoutingRuleFactory(customer_tag=Tag.objects.create(name="vip"), set_team=vip_team)
    RoutingRuleFactory(organization=acme, set_team=billing)
    RoutingRuleFactory(language="ja", set_team=japanese_team)
    vip = CustomerFactory()
    vip.tags.add(Tag.objects.get(name="vip"))

    assert routed(inbox, customer=vip)[0].team == vip_team
    assert routed(inbox, customer=CustomerFactory(organization=acme, preferred_language="ja"))[0].team == billing
    assert routed(inbox, customer=CustomerFactory(preferred_language="ja"))[0].team == japanese_team
    assert routed(inbox, customer=CustomerFactory(preferred_language="en"))[0].team == inbox.team


@pytest.mark.django_db
def test_rules_apply_in_order_and_the_first_match_stops_unless_it_says_go_on(inbox, billing):
    refunds = TeamFactory(name="Refunds")
    first = RoutingRuleFactory(position=1, keywords="refund", set_team=billing, add_tags=["money"])
    RoutingRuleFactory(position=0, keywords="refund", is_active=False, set_team=TeamFactory())
    second = RoutingRuleFactory(position=2, keywords="refund", set_team=refunds, set_priority="urgent", add_tags=["r"])

    ticket, outcome = routed(inbox, subject="Refund")
    assert (outcome.rule_ids, ticket.team, ticket.priority) == ((first.pk,), billing, "normal")

    first.stop_processing = False
    first.save()
    ticket, outcome = routed(inbox, subject="Refund")
    assert (outcome.rule_ids, ticket.team, ticket.priority) == ((first.pk, second.pk), refunds, "urgent")
    assert sorted(tag.name for tag in ticket.tags.all()) == ["money", "r"]


@pytest.mark.django_db
def test_a_rule_gives_the_ticket_to_a_named_agent_of_the_team(inbox, billing):
    member = AgentFactory(user__username="mika", teams=[billing]).user  # presence does not matter here
    outsider = AgentFactory(user__username="ken").user
    RoutingRuleFactory(keywords="invoice", set_team=billing, assign_to=member)
    RoutingRuleFactory(keywords="refund", set_team=billing, assign_to=outsider)

    ticket, outcome = routed(inbox, subject="Invoice copy")
    assert (ticket.assignee, ticket.status, outcome.assigned_by) == (member, TicketStatus.OPEN, "rule")

    ticket, outcome = routed(inbox, subject="Refund")
    assert (ticket.team, ticket.assignee, outcome.assigned_by) == (billing, None, "")


@pytest.mark.django_db
def test_routing_keeps_an_agent_already_assigned(inbox, billing, agent):
    RoutingRuleFactory(set_team=billing)
    ticket = new_ticket(inbox)
    assign_ticket(ticket=ticket, assignee=agent)

    route_ticket(ticket=ticket)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee) == (inbox.team, agent)  # aiko is not in Billing


@pytest.mark.django_db
def test_round_robin_takes_turns_among_the_team(inbox, team):
    team.assignment_strategy = "round_robin"
    team.save()
    agents = [online_agent(team, name) for name in ("a", "b", "c")]

    assignees = [routed(inbox)[0].assignee for _ in range(7)]

    assert assignees == [*agents, *agents, agents[0]]
    assert team.assignment_cursor.last_assignee == agents[0]


@pytest.mark.django_db
def test_least_load_picks_the_agent_with_the_fewest_open_tickets_and_takes_turns_on_a_tie(inbox, team):
    team.assignment_strategy = "least_load"
    team.save()
    a, b, c = (online_agent(team, name) for name in ("a", "b", "c"))
    for assignee, status in [(a, "open"), (a, "pending"), (c, "new"), (b, "solved"), (b, "closed")]:
        TicketFactory(inbox=inbox, assignee=assignee, status=status)

    assert [routed(inbox)[0].assignee for _ in range(4)] == [b, c, b, c]


@pytest.mark.django_db
def test_only_agents_online_seen_lately_and_under_capacity_are_given_tickets(inbox, team):
    team.assignment_strategy = "round_robin"
    team.save()
    online_agent(team, "offline", presence=Presence.OFFLINE)
    online_agent(team, "away", presence=Presence.AWAY)
    online_agent(team, "stale", last_seen_at=timezone.now() - timedelta(minutes=6))
    full = online_agent(team, "full", capacity=1)
    TicketFactory(inbox=inbox, assignee=full, status="open")
    other_team = online_agent(TeamFactory(), "elsewhere")
    available = online_agent(team, "available", capacity=2)
    inactive = online_agent(team, "inactive")
    inactive.is_active = False
    inactive.save()

    first, outcome = routed(inbox)
    second = routed(inbox)[0]
    queued, queued_outcome = routed(inbox)

    assert (first.assignee, outcome.assigned_by, second.assignee) == (available, "round_robin", available)
    assert (queued.team, queued.assignee, queued.status, queued_outcome.assigned_by) == (team, None, "new", "")
    assert other_team not in (first.assignee, second.assignee)


@pytest.mark.django_db
def test_a_rule_strategy_overrides_the_team_default(inbox, team, billing):
    team.assignment_strategy = "round_robin"
    team.save()
    agent = online_agent(team, "a")
    RoutingRuleFactory(keywords="manual", assign_by="none")
    online_agent(billing, "b")
    RoutingRuleFactory(keywords="billing", set_team=billing, assign_by="least_load")

    assert routed(inbox, subject="No rule matches")[0].assignee == agent
    assert routed(inbox, subject="Manual triage")[0].assignee is None
    billing_ticket, outcome = routed(inbox, subject="Billing")
    assert (billing_ticket.assignee.username, outcome.assigned_by) == ("b", "least_load")


@pytest.mark.django_db
def test_a_ticket_with_the_bot_is_assigned_at_the_hand_off(inbox, team):
    team.assignment_strategy = "round_robin"
    team.save()
    agent = online_agent(team, "a")
    ticket, outcome = routed(inbox, status=TicketStatus.BOT)
    assert (ticket.assignee, outcome.assigned_by) == (None, "")

    change_status(ticket=ticket, status=TicketStatus.NEW, reason="handed off")
    assert auto_assign(ticket=ticket) == agent
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN


@pytest.mark.django_db
def test_routing_to_a_team_and_priority_plans_the_sla_again(inbox, billing):
    SlaPolicyFactory(team=billing, targets={"high": (15, None, None)})
    RoutingRuleFactory(keywords="refund", set_team=billing, set_priority="high")
    ticket, _ = routed(inbox, subject="Refund")
    sla = TicketSla.objects.get(ticket=ticket)
    assert (sla.first_response_minutes, sla.first_response_due_at) == (15, ticket.created_at + timedelta(minutes=15))


# Two tickets routed at the same moment (threads with their own connections).


@pytest.mark.django_db(transaction=True)
def test_round_robin_under_concurrent_routing_gives_each_agent_one_ticket(inbox, team):
    team.assignment_strategy = "round_robin"
    team.save()
    agents = {online_agent(team, "a"), online_agent(team, "b")}
    TeamAssignmentCursor.objects.create(team=team)  # as after earlier tickets: the row lock is what serializes
    tickets = [new_ticket(inbox) for _ in range(2)]

    run_concurrently([lambda ticket=ticket: route_ticket(ticket=ticket) for ticket in tickets])

    assert {Ticket.objects.get(pk=ticket.pk).assignee for ticket in tickets} == agents


@pytest.mark.django_db(transaction=True)
def test_concurrent_routing_never_exceeds_an_agents_capacity(inbox, team):
    team.assignment_strategy = "least_load"
    team.save()
    agent = online_agent(team, "a", capacity=1)
    TeamAssignmentCursor.objects.create(team=team)
    tickets = [new_ticket(inbox) for _ in range(3)]

    outcomes = run_concurrently([lambda ticket=ticket: route_ticket(ticket=ticket) for ticket in tickets])

    assert sorted(outcome.assignee_id or 0 for outcome in outcomes) == [0, 0, agent.pk]
    assert Ticket.objects.filter(assignee=agent).count() == 1
