"""Routing rules for new tickets and automatic assignment: conditions, order, actions applied as the ticket
opens, round robin and least load among available agents, and both under concurrent routing."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from customers.models import Tag
from helpdesk.models import (
    AuditEntry,
    AuthorType,
    Presence,
    RoutingRule,
    TeamAssignmentCursor,
    Ticket,
    TicketSla,
    TicketStatus,
)
from helpdesk.services.messages import MessageDraft
from helpdesk.services.routing import TicketFacts, auto_assign, normalize, open_routed_tickets, rule_matches
from helpdesk.services.tickets import TicketDraft, change_status
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


def routed(inbox, text="", subject="Question", customer=None, **fields):
    """A ticket opened through routing (with the customer's first message when `text` is given), and what
    routing noted about it (empty when nothing applied)."""
    customer = customer or CustomerFactory()
    first = MessageDraft(ticket=None, author_type=AuthorType.CUSTOMER, author_customer=customer, body_text=text)
    draft = TicketDraft(
        inbox=inbox, customer=customer, subject=subject, first_message=first if text else None, **fields
    )
    [opened] = open_routed_tickets([draft])
    return Ticket.objects.get(pk=opened.ticket.pk), opened.routing or {}


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

    assert outcome["rules"] == [rule.pk]
    assert (ticket.team, ticket.priority, ticket.assignee) == (billing, "high", None)
    assert sorted(tag.name for tag in ticket.tags.all()) == ["billing", "refund"]
    assert outcome["tags_added"] == ["billing", "refund"]
    timeline = list(ticket.messages.values_list("author_type", "event", "body_text"))
    assert timeline == [
        ("customer", "", "先日の注文の返金をお願いします"),
        ("system", "routed", "Routed by “返金” to Billing"),
    ]
    assert audit_actions(ticket) == ["created", "routed"]
    assert TicketSla.objects.get(ticket=ticket).first_response_minutes is None  # planned once, for "high"


@pytest.mark.django_db
def test_keywords_match_anywhere_ignoring_case_and_full_or_half_width(inbox, billing):
    RoutingRuleFactory(keywords="refund, invoice\nヘンキン", set_team=billing)

    assert routed(inbox, subject="REFUND please")[0].team == billing
    assert routed(inbox, subject="ＩＮＶＯＩＣＥ 不備")[0].team == billing
    assert routed(inbox, text="Can I get it refunded?")[0].team == billing
    assert routed(inbox, text="ﾍﾝｷﾝ ｷﾎﾞｳ")[0].team == billing
    unmatched, outcome = routed(inbox, subject="Shipping", text="Where is my parcel?")
    assert (unmatched.team, outcome) == (inbox.team, {})
    assert not unmatched.messages.filter(kind="event").exists()


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
    assert (outcome["rules"], ticket.team, ticket.priority) == ([first.pk], billing, "normal")

    first.stop_processing = False
    first.save()
    ticket, outcome = routed(inbox, subject="Refund")
    assert (outcome["rules"], ticket.team, ticket.priority) == ([first.pk, second.pk], refunds, "urgent")
    assert sorted(tag.name for tag in ticket.tags.all()) == ["money", "r"]


@pytest.mark.django_db
def test_a_rule_gives_the_ticket_to_a_named_agent_of_the_team(inbox, billing):
    member = AgentFactory(user__username="mika", teams=[billing]).user  # presence does not matter here
    outsider = AgentFactory(user__username="ken").user
    RoutingRuleFactory(keywords="invoice", set_team=billing, assign_to=member)
    RoutingRuleFactory(keywords="refund", set_team=billing, assign_to=outsider)

    ticket, outcome = routed(inbox, subject="Invoice copy")
    assert (ticket.assignee, ticket.status, outcome["assigned_by"]) == (member, TicketStatus.OPEN, "rule")
    [event] = ticket.messages.filter(event="routed").values_list("body_text", flat=True)
    rule_name = RoutingRule.objects.get(keywords="invoice").name
    assert event == f"Routed by “{rule_name}” to Billing, assigned to {member.agent_profile} (by a rule)"

    ticket, outcome = routed(inbox, subject="Refund")
    assert (ticket.team, ticket.assignee, outcome["assigned_by"]) == (billing, None, "")


@pytest.mark.django_db
def test_routing_keeps_an_agent_already_given_the_ticket(inbox, billing, agent):
    RoutingRuleFactory(set_team=billing)

    ticket, _ = routed(inbox, assignee=agent)

    assert (ticket.team, ticket.assignee, ticket.status) == (inbox.team, agent, "open")  # aiko is not in Billing


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

    assert (first.assignee, outcome["assigned_by"], second.assignee) == (available, "round_robin", available)
    assert first.messages.get().body_text == f"Assigned to {available.agent_profile} (round robin)"
    assert (queued.team, queued.assignee, queued.status, queued_outcome) == (team, None, "new", {})
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
    assert (billing_ticket.assignee.username, outcome["assigned_by"]) == ("b", "least_load")


@pytest.mark.django_db
def test_a_ticket_with_the_bot_is_assigned_at_the_hand_off(inbox, team):
    team.assignment_strategy = "round_robin"
    team.save()
    agent = online_agent(team, "a")
    ticket, outcome = routed(inbox, status=TicketStatus.BOT)
    assert (ticket.assignee, outcome) == (None, {})

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
    customers = [CustomerFactory() for _ in range(2)]

    results = run_concurrently([lambda customer=customer: routed(inbox, customer=customer) for customer in customers])

    assert {ticket.assignee for ticket, _ in results} == agents


@pytest.mark.django_db(transaction=True)
def test_concurrent_routing_never_exceeds_an_agents_capacity(inbox, team):
    team.assignment_strategy = "least_load"
    team.save()
    agent = online_agent(team, "a", capacity=1)
    TeamAssignmentCursor.objects.create(team=team)
    customers = [CustomerFactory() for _ in range(3)]

    results = run_concurrently([lambda customer=customer: routed(inbox, customer=customer) for customer in customers])

    assert sorted(outcome.get("assignee") or 0 for _, outcome in results) == [0, 0, agent.pk]
    assert Ticket.objects.filter(assignee=agent).count() == 1


def test_a_batch_locks_its_teams_assignment_cursors_in_team_order(db):
    """Two workers' batches routing to the same teams must take the cursors in one order, or they deadlock."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import InboxFactory

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite takes no row locks")
    first_team, second_team = TeamFactory(name="First"), TeamFactory(name="Second")
    drafts = [
        TicketDraft(inbox=InboxFactory(name=f"To {team.name}", team=team), customer=CustomerFactory(), subject="Hi")
        for team in (second_team, first_team)  # tickets in the other order
    ]

    with CaptureQueriesContext(connection) as queries:
        open_routed_tickets(drafts)

    cursor_table = TeamAssignmentCursor._meta.db_table
    locked = [
        int(re.search(r'"team_id" = (\d+)', query["sql"]).group(1))
        for query in queries.captured_queries
        if cursor_table in query["sql"] and "FOR UPDATE" in query["sql"]
    ]
    assert locked == [first_team.pk, second_team.pk]
