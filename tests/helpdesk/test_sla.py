"""SLA clocks through the real ticket services: targets by policy, first and next response, resolution,
pauses while pending, business hours, the breach task, and the SLA state on the ticket API."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.events import TicketChanged, subscribe, unsubscribe
from helpdesk.models import AuditEntry, AuthorType, MessageKind, Ticket, TicketSla, TicketStatus
from helpdesk.services.messages import post_message
from helpdesk.services.sla import applicable_target, flag_sla_breaches
from helpdesk.services.tickets import (
    add_internal_note,
    assign_ticket,
    change_status,
    open_ticket,
    receive_customer_message,
    reply,
    update_ticket,
)
from tests.factories import (
    BusinessHoursFactory,
    CustomerFactory,
    InboxFactory,
    RoutingRuleFactory,
    SlaPolicyFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tests.helpers import api_as, run_concurrently

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
FIRST, NEXT, RESOLUTION = 60, 30, 8 * 60


class Clock:
    """What `timezone.now()` answers in these tests, moved forward by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(MONDAY)
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def policy(db):
    return SlaPolicyFactory(name="Standard", targets={"normal": (FIRST, NEXT, RESOLUTION), "urgent": (15, 10, 120)})


@pytest.fixture
def ticket(clock, policy, inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="The parcel has not arrived")
    receive_customer_message(ticket=ticket, body_text="注文した商品が届きません")
    return ticket


@pytest.fixture
def ticket_changes():
    seen = []
    subscribe(TicketChanged, seen.append, phase="in_transaction")
    yield seen
    unsubscribe(TicketChanged, seen.append, phase="in_transaction")


def sla_of(ticket) -> TicketSla:
    return TicketSla.objects.get(ticket=ticket)


def breach_events(ticket):
    return list(ticket.messages.filter(event="sla_breached").values_list("body_text", flat=True))


def minutes(n):
    return timedelta(minutes=n)


def test_a_new_ticket_runs_against_the_targets_of_its_priority(ticket, policy):
    sla = sla_of(ticket)
    assert sla.policy == policy
    assert sla.first_response_due_at == MONDAY + minutes(FIRST)
    assert sla.resolution_due_at == MONDAY + minutes(RESOLUTION)
    assert sla.next_response_due_at is None
    assert (sla.breached, sla.near_breach, sla.clock) == ([], [], "running")


def test_the_most_specific_active_policy_with_targets_for_the_priority_wins(inbox, team):
    SlaPolicyFactory(name="Everyone", targets={"normal": (240, None, None)})
    SlaPolicyFactory(name="Team", team=team, targets={"normal": (120, None, None)})
    SlaPolicyFactory(name="Inbox", inbox=inbox, targets={"normal": (60, None, None)})
    SlaPolicyFactory(name="Switched off", inbox=inbox, team=team, is_active=False, targets={"normal": (5, None, None)})
    SlaPolicyFactory(name="Inbox and team, urgent only", inbox=inbox, team=team, targets={"urgent": (10, None, None)})

    def chosen(inbox, team, priority="normal"):
        target = applicable_target(ticket=TicketFactory.build(inbox=inbox, team=team, priority=priority))
        return target.policy.name if target else None

    assert chosen(inbox, team) == "Inbox"
    assert chosen(inbox, team, "urgent") == "Inbox and team, urgent only"
    assert chosen(InboxFactory(), team) == "Team"
    assert chosen(InboxFactory(), None) == "Everyone"
    assert chosen(InboxFactory(), None, "low") is None


def test_only_a_public_agent_reply_meets_the_first_response(clock, ticket, agent):
    add_internal_note(ticket=ticket, agent=agent, body_text="Checking with the carrier")
    post_message(ticket=ticket, author_type=AuthorType.BOT, body_text="配送状況はこちら")
    assert sla_of(ticket).first_response_met_at is None

    clock.advance(minutes=20)
    reply(ticket=ticket, agent=agent, body_text="確認します")

    sla = sla_of(ticket)
    assert sla.first_response_met_at == clock.now
    assert sla.first_response_due_at is None
    assert sla.breached == []


def test_a_breach_is_flagged_once_with_a_timeline_event_and_an_audit_entry(clock, ticket, ticket_changes):
    clock.advance(minutes=FIRST - 1)
    assert flag_sla_breaches() == 1  # near breach
    assert breach_events(ticket) == []

    clock.advance(minutes=2)
    assert flag_sla_breaches() == 1
    clock.advance(minutes=1)
    assert flag_sla_breaches() == 0

    assert sla_of(ticket).breached == ["first_response"]
    assert breach_events(ticket) == ["First response SLA breached"]
    event = ticket.messages.get(event="sla_breached")
    assert not event.is_public and event.kind == MessageKind.EVENT
    assert event.data["due_at"] == (MONDAY + minutes(FIRST)).isoformat()
    audit = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Ticket), object_id=ticket.pk, action="sla_breached"
    )
    assert [entry.changes["metric"] for entry in audit] == ["first_response"]
    assert [(change.action, change.changes.get("metric")) for change in ticket_changes][-1] == (
        "sla_breached",
        "first_response",
    )


@pytest.mark.django_db(transaction=True)
def test_two_breach_checks_at_the_same_moment_write_the_breach_once(clock, ticket):
    clock.advance(minutes=FIRST + 1)

    results = run_concurrently([flag_sla_breaches, flag_sla_breaches])

    assert sorted(results) == [0, 1]
    assert breach_events(ticket) == ["First response SLA breached"]


def test_near_breach_is_flagged_with_a_fifth_of_the_target_left_without_a_timeline_event(clock, ticket, ticket_changes):
    clock.advance(minutes=47)
    assert flag_sla_breaches() == 0
    clock.advance(minutes=1)  # 12 of 60 minutes left
    assert flag_sla_breaches() == 1

    sla = sla_of(ticket)
    assert (sla.near_breach, sla.breached) == (["first_response"], [])
    assert breach_events(ticket) == []
    assert ticket_changes[-1].action == "sla_near_breach"
    assert ticket_changes[-1].changes == {"near_breach": ["first_response"]}


def test_pending_pauses_the_clock_and_resuming_moves_the_due_times_by_the_paused_time(clock, ticket, agent):
    clock.advance(minutes=30)
    reply(ticket=ticket, agent=agent, body_text="Could you send the order number?", status=TicketStatus.PENDING)
    paused = sla_of(ticket)
    assert paused.clock == "paused"
    assert paused.resolution_due_at == MONDAY + minutes(RESOLUTION)

    clock.advance(hours=10)
    assert flag_sla_breaches() == 0
    assert sla_of(ticket).breached == []

    receive_customer_message(ticket=ticket, body_text="A-1029 です")

    resumed = sla_of(ticket)
    assert resumed.clock == "running"
    assert resumed.resolution_due_at == MONDAY + minutes(RESOLUTION) + timedelta(hours=10)
    assert resumed.resolution_due_at == clock.now + minutes(RESOLUTION - 30)
    assert resumed.next_response_due_at == clock.now + minutes(NEXT)


def test_an_agents_second_reply_in_a_row_leaves_the_clock_as_it_was_without_writing_it(clock, ticket, agent):
    clock.advance(minutes=10)
    reply(ticket=ticket, agent=agent, body_text="確認します")
    answered = sla_of(ticket)
    clock.advance(minutes=5)
    with CaptureQueriesContext(connection) as queries:
        reply(ticket=ticket, agent=agent, body_text="もう少しお待ちください")

    assert not [query for query in queries.captured_queries if query["sql"].startswith('UPDATE "helpdesk_ticketsla"')]
    assert sla_of(ticket).resolution_due_at == answered.resolution_due_at
    asked = clock.advance(minutes=5)
    receive_customer_message(ticket=ticket, body_text="まだですか?")
    assert sla_of(ticket).next_response_due_at == asked + minutes(NEXT)
    assert sla_of(ticket).resolution_due_at == answered.resolution_due_at


def test_the_next_response_is_due_from_the_oldest_unanswered_customer_message(clock, ticket, agent):
    clock.advance(minutes=10)
    reply(ticket=ticket, agent=agent, body_text="確認します")
    assert sla_of(ticket).next_response_due_at is None

    asked = clock.advance(minutes=5)
    receive_customer_message(ticket=ticket, body_text="まだですか?")
    clock.advance(minutes=10)
    receive_customer_message(ticket=ticket, body_text="急ぎです")
    assert sla_of(ticket).next_response_due_at == asked + minutes(NEXT)

    clock.advance(minutes=10)
    reply(ticket=ticket, agent=agent, body_text="発送しました")
    assert sla_of(ticket).next_response_due_at is None

    clock.advance(hours=1)
    receive_customer_message(ticket=ticket, body_text="届きません")
    clock.advance(minutes=NEXT + 1)
    assert flag_sla_breaches() == 1
    assert breach_events(ticket) == ["Next response SLA breached"]

    reply(ticket=ticket, agent=agent, body_text="再送します")
    assert sla_of(ticket).breached == ["next_response"]  # until the customer writes again
    clock.advance(minutes=1)
    receive_customer_message(ticket=ticket, body_text="ありがとう")
    restarted = sla_of(ticket)
    assert restarted.breached == []
    assert restarted.next_response_due_at == clock.now + minutes(NEXT)


def test_solving_meets_the_resolution_and_stops_every_clock_until_the_customer_reopens(clock, ticket, agent):
    clock.advance(minutes=30)
    change_status(ticket=ticket, status=TicketStatus.SOLVED, actor=agent)
    stopped = sla_of(ticket)
    assert stopped.clock == "stopped" and stopped.resolution_met_at == clock.now
    assert (stopped.first_response_due_at, stopped.resolution_due_at) == (None, None)

    clock.advance(days=2)
    assert flag_sla_breaches() == 0
    receive_customer_message(ticket=ticket, body_text="Still broken")

    reopened = sla_of(ticket)
    assert reopened.resolution_met_at is None
    assert reopened.first_response_due_at == clock.now + minutes(FIRST - 30)
    assert reopened.resolution_due_at == clock.now + minutes(RESOLUTION - 30)
    assert reopened.breached == []


def test_a_late_reply_records_the_breach_at_once_and_the_task_does_not_repeat_it(clock, ticket, agent):
    clock.advance(minutes=90)
    reply(ticket=ticket, agent=agent, body_text="Sorry for the wait")

    assert sla_of(ticket).breached == ["first_response"]
    timeline = list(ticket.messages.order_by("seq").values_list("author_type", "event"))
    assert timeline[-3:] == [("agent", ""), ("system", "sla_breached"), ("system", "status_changed")]
    clock.advance(minutes=5)
    flag_sla_breaches()
    assert breach_events(ticket) == ["First response SLA breached"]


def test_business_hours_of_the_team_count_unless_the_inbox_has_its_own(clock, policy, customer):
    tokyo = BusinessHoursFactory(
        time_zone="Asia/Tokyo", periods=[(day, time(9), time(18)) for day in range(5)], holidays=[date(2026, 3, 9)]
    )
    team = TeamFactory(business_hours=tokyo)
    clock.now = datetime(2026, 3, 6, 8, 30, tzinfo=UTC)  # Friday 17:30 in Tokyo

    by_team = open_ticket(inbox=InboxFactory(team=team), customer=customer, subject="Friday evening")
    # 30 minutes on Friday, Monday is a holiday, 30 minutes on Tuesday: Tuesday 09:30 in Tokyo.
    assert sla_of(by_team).first_response_due_at == datetime(2026, 3, 10, 0, 30, tzinfo=UTC)

    weekends = BusinessHoursFactory(periods=[(5, time(0), time(0)), (6, time(0), time(0))])
    by_inbox = open_ticket(
        inbox=InboxFactory(team=team, business_hours=weekends), customer=customer, subject="Friday evening"
    )
    assert sla_of(by_inbox).first_response_due_at == datetime(2026, 3, 7, 1, tzinfo=UTC)


def test_a_schedule_that_never_opens_is_never_due_nor_breached(clock, policy, customer):
    closed = InboxFactory(business_hours=BusinessHoursFactory(periods=[]))
    ticket = open_ticket(inbox=closed, customer=customer, subject="Nobody home")
    clock.advance(days=30)
    assert flag_sla_breaches() == 0
    sla = sla_of(ticket)
    assert (sla.first_response_due_at, sla.resolution_due_at, sla.breached) == (None, None, [])


def test_raising_the_priority_plans_again_and_breaches_what_the_new_targets_exceed(clock, ticket, agent):
    clock.advance(minutes=20)
    update_ticket(ticket=ticket, actor=agent, priority="urgent")

    sla = sla_of(ticket)
    assert sla.breached == ["first_response"]  # 20 minutes against 15
    assert sla.first_response_due_at == clock.now  # the moment the shorter target applied
    assert sla.resolution_due_at == MONDAY + minutes(120)
    assert breach_events(ticket) == ["First response SLA breached"]


def test_moving_to_a_team_brings_that_teams_policy(clock, ticket, policy):
    night_shift = TeamFactory()
    SlaPolicyFactory(name="Night shift", team=night_shift, targets={"normal": (240, None, None)})
    assign_ticket(ticket=ticket, team=night_shift)
    sla = sla_of(ticket)
    assert sla.policy.name == "Night shift"
    assert (sla.first_response_due_at, sla.resolution_due_at) == (MONDAY + minutes(240), None)


def test_the_clock_waits_for_the_bot_to_hand_off(clock, policy, inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Chat", status=TicketStatus.BOT)
    assert sla_of(ticket).clock == "paused"
    clock.advance(hours=2)
    assert flag_sla_breaches() == 0

    change_status(ticket=ticket, status=TicketStatus.NEW, reason="handed off to an agent")
    sla = sla_of(ticket)
    assert sla.first_response_due_at == clock.now + minutes(FIRST)
    assert sla.breached == []


def test_a_ticket_without_a_policy_keeps_a_clock_without_targets(clock, inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="No SLA here")
    sla = sla_of(ticket)
    assert sla.policy is None
    assert (sla.first_response_due_at, sla.next_check_at) == (None, None)


def test_the_breach_task_is_scheduled_every_minute(settings, clock, ticket):
    from helpdesk.tasks import flag_sla_breaches as task

    assert settings.CELERY_BEAT_SCHEDULE["flag-sla-breaches"] == {
        "task": "helpdesk.tasks.flag_sla_breaches",
        "schedule": 60,
    }
    clock.advance(minutes=FIRST)
    assert task() == 1


# The ticket API


def test_the_ticket_api_shows_the_sla_state_to_agents_only(clock, ticket, agent, customer_user):
    clock.advance(minutes=50)
    flag_sla_breaches()

    body = api_as(agent).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["sla"] == {
        "policy": {"id": ticket.sla.policy_id, "name": "Standard"},
        "first_response_due_at": "2026-03-02T10:00:00Z",
        "next_response_due_at": None,
        "resolution_due_at": "2026-03-02T17:00:00Z",
        "breached": [],
        "near_breach": ["first_response"],
        "paused": False,
    }
    listed = api_as(customer_user).get("/api/v1/tickets/").json()["results"]
    assert [(item["id"], item["sla"]) for item in listed] == [(ticket.pk, None)]


def test_tickets_filter_by_breach_and_by_due_time(clock, policy, inbox, agent):
    def new_ticket(subject):
        return open_ticket(inbox=inbox, customer=CustomerFactory(), subject=subject)

    new_ticket("breached")
    clock.advance(minutes=FIRST + 1)
    flag_sla_breaches()
    due_soon = new_ticket("due soon")
    waiting = new_ticket("pending")
    reply(ticket=waiting, agent=agent, body_text="Which order?", status=TicketStatus.PENDING)
    untracked = TicketFactory(inbox=inbox, subject="from before SLAs")
    client = api_as(agent)

    def subjects(query):
        response = client.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.content
        return sorted(item["subject"] for item in response.json()["results"])

    assert subjects("sla_breached=true") == ["breached"]
    assert subjects("sla_breached=false") == sorted([due_soon.subject, waiting.subject, untracked.subject])
    soon = (clock.now + minutes(FIRST + 1)).isoformat().replace("+00:00", "Z")
    assert subjects(f"sla_due_before={soon}") == ["breached", "due soon"]
    assert subjects("sla_due_before=2026-03-02T09:30:00%2B09:00") == []
    assert client.get("/api/v1/tickets/?sla_breached=yes").status_code == 400
    assert client.get("/api/v1/tickets/?sla_due_before=soon").status_code == 400


def test_the_ticket_list_with_sla_clocks_costs_the_same_queries_whatever_the_page_size(
    clock, policy, inbox, agent, django_assert_num_queries
):
    for n in range(12):
        ticket = open_ticket(inbox=inbox, customer=CustomerFactory(), subject=f"Ticket {n}")
        update_ticket(ticket=ticket, tags=["vip"] if n % 2 else [])
    clock.advance(minutes=FIRST + 1)
    flag_sla_breaches()
    client = api_as(agent)
    client.get("/api/v1/tickets/?page_size=1")

    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/tickets/?page_size=2").json()["results"]) == 2
    with django_assert_num_queries(len(small.captured_queries)):
        page = client.get("/api/v1/tickets/?page_size=12&sla_breached=true").json()["results"]
    assert len(page) == 12 and all(item["sla"]["breached"] == ["first_response"] for item in page)
    assert len(small.captured_queries) <= 4


def test_the_admin_pages_of_business_hours_sla_and_routing_open(client, ticket, policy):
    BusinessHoursFactory(periods=[(0, time(9), time(17))], holidays=[date(2026, 5, 1)])
    RoutingRuleFactory(keywords="返金", add_tags=["refund"])
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    for model in ("businesshours", "slapolicy", "ticketsla", "routingrule", "ticket"):
        assert client.get(reverse(f"admin:helpdesk_{model}_changelist"), {"q": "返金"}).status_code == 200
        changelist = client.get(reverse(f"admin:helpdesk_{model}_changelist"))
        first = changelist.context["cl"].result_list[0]
        assert client.get(reverse(f"admin:helpdesk_{model}_change", args=[first.pk])).status_code == 200, model
    for model in ("businesshours", "slapolicy", "routingrule"):
        assert client.get(reverse(f"admin:helpdesk_{model}_add")).status_code == 200, model
