"""Acknowledgements: once per new ticket, honest about hours and waiting time, never to robots."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail as outbox
from django.utils.translation import override

from channels_app.acknowledge import acknowledge, describe_hours, expected_reply_at
from channels_app.email.inbound import ingest_raw
from helpdesk.business_hours import Schedule
from helpdesk.models import BusinessHours, BusinessPeriod, Ticket
from helpdesk.services.tickets import open_ticket
from tests.channels_app.mail import mail
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)
TOKYO_WEEKDAYS = [(day, time(9), time(18)) for day in range(5)]


@pytest.fixture
def acknowledging(mailbox):
    mailbox.acknowledge = True
    mailbox.save()  # as the admin does: cached settings follow
    return mailbox


def test_a_new_ticket_is_acknowledged_once_by_its_channel(acknowledging):
    ingest_raw(mail(message_id="<one@example.jp>"))
    ingest_raw(mail(message_id="<two@example.jp>", body="More details"))  # continues the same ticket

    ticket = Ticket.objects.get()
    [ack] = ticket.messages.filter(event="acknowledgement")
    assert ack.is_public and ack.author_type == "system"
    assert f"#{ticket.pk}" in ack.body_text
    [sent] = outbox.outbox
    assert sent.to == ["hanako@example.jp"]
    assert sent.extra_headers["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Auto-Response-Suppress": "All"},
        {"List-Id": "<l.x>"},
    ],
)
def test_automated_senders_are_never_acknowledged(acknowledging, headers):
    ingest_raw(mail(headers=headers))
    assert Ticket.objects.get().messages.filter(event="acknowledgement").count() == 0
    assert outbox.outbox == []


def test_at_most_three_acknowledgements_a_day_per_customer(acknowledging):
    acknowledging.continue_open_ticket_hours = 0
    acknowledging.save()  # as the admin does: cached settings follow
    for n in range(5):
        ingest_raw(mail(subject=f"Matter {n}"))
    assert Ticket.objects.count() == 5
    assert len(outbox.outbox) == 3


def test_outside_business_hours_the_acknowledgement_says_when_we_are_back(support_inbox, customer):
    hours = BusinessHours.objects.create(name="Tokyo office", time_zone="Asia/Tokyo")
    BusinessPeriod.objects.bulk_create(
        BusinessPeriod(schedule=hours, weekday=day, start_time=start, end_time=end)
        for day, start, end in TOKYO_WEEKDAYS
    )
    support_inbox.business_hours = hours
    support_inbox.save()
    ticket = open_ticket(inbox=support_inbox, customer=customer, subject="Weekend question")
    saturday_noon_tokyo = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)

    text = acknowledge(ticket=ticket, channel="email", now=saturday_noon_tokyo).body_text

    assert "Mon-Fri 09:00-18:00 (Asia/Tokyo)" in text
    assert "closed right now" in text
    assert "Nov. 30, 2026, 9 a.m." in text  # Monday, when the office opens


def test_the_expected_reply_time_follows_recent_first_responses_in_business_time(support_inbox, team):
    schedule = Schedule.build("Asia/Tokyo", TOKYO_WEEKDAYS)
    monday_9am = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    for n in range(5):
        done = open_ticket(inbox=support_inbox, customer=CustomerFactory(), subject=f"Answered {n}")
        Ticket.objects.filter(pk=done.pk).update(
            created_at=monday_9am, first_response_at=monday_9am + timedelta(hours=2)
        )
    ticket = open_ticket(inbox=support_inbox, customer=CustomerFactory(), subject="New")
    friday_5pm = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

    expected = expected_reply_at(ticket=ticket, schedule=schedule, now=friday_5pm)

    assert expected == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 1 h on Friday, 1 h on Monday from 9:00


def test_hours_are_described_by_groups_of_days():
    schedule = Schedule.build("Asia/Tokyo", [*TOKYO_WEEKDAYS, (5, time(10), time(14))])
    with override("en"):
        assert describe_hours(schedule) == "Mon-Fri 09:00-18:00, Sat 10:00-14:00"
