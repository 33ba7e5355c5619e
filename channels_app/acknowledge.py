"""Acknowledgements: once per new ticket, a short public message telling the customer that we have
their request, when we work, and an honest estimate of when they will hear from us. Never sent to
automated senders, and at most a few a day per customer (so two robots cannot ping-pong)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import override

from helpdesk.business_hours import (
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
    load_schedule,
    next_open,
)
from helpdesk.models import AuthorType, BusinessHours, Message, Ticket
from helpdesk.services.messages import post_message

MAX_PER_CUSTOMER_PER_DAY = 3
RECENT_TICKETS = 50  # first responses the estimate is drawn from
MIN_SAMPLES = 5


def acknowledge(*, ticket: Ticket, channel: str, now: datetime | None = None) -> Message | None:
    """Post the acknowledgement (delivered by the channel like any answer). Idempotent per ticket."""
    now = now or timezone.now()
    since = now - timedelta(days=1)
    recent = Message.objects.filter(
        ticket__customer=ticket.customer, event="acknowledgement", created_at__gte=since
    ).exclude(ticket=ticket)
    if recent.count() >= MAX_PER_CUSTOMER_PER_DAY:
        return None
    hours = _business_hours(ticket)
    schedule = load_schedule(hours)
    with override(ticket.customer.preferred_language or "en"):
        text = " ".join(part for part in _paragraphs(ticket, hours, schedule, now) if part)
        subject = _("We have received your request")  # never the customer's own subject: no relaying
    return post_message(
        ticket=ticket,
        author_type=AuthorType.SYSTEM,
        body_text=text,
        channel=channel,
        external_id=f"ack:{ticket.pk}",
        event="acknowledgement",
        data={"subject": subject},
        is_public=True,
    ).message


def _paragraphs(ticket: Ticket, hours: BusinessHours | None, schedule: Schedule | None, now: datetime):
    yield _(
        "Thank you for contacting us. We have received your request and it has the number #%(number)s. "
        "Please keep this number in the subject when you write to us about it."
    ) % {"number": ticket.pk}
    zone = schedule.time_zone if schedule else timezone.get_default_timezone()
    if schedule is not None and hours is not None and not schedule.never_open:
        yield _("Our support hours are %(hours)s (%(zone)s).") % {"hours": describe_hours(schedule), "zone": zone.key}
        if not is_open(schedule, now):
            reopens = next_open(schedule, now)
            if reopens is not None:
                yield _("We are closed right now and will be back on %(when)s.") % {"when": _when(reopens, zone)}
    expected = expected_reply_at(ticket=ticket, schedule=schedule, now=now)
    if expected is not None:
        yield _("You can expect our answer by %(when)s.") % {"when": _when(expected, zone)}


def expected_reply_at(*, ticket: Ticket, schedule: Schedule | None, now: datetime) -> datetime | None:
    """When the customer will most likely hear from us: how long first answers have recently taken in
    this team (in business time), and never sooner than that even if the SLA promises faster; the
    SLA's first-response due time when there is too little history to tell."""
    observed = _recent_first_response_time(ticket, schedule)
    if observed is not None:
        return add_business_time(schedule, now, observed)
    sla = getattr(ticket, "sla", None)
    return sla.first_response_due_at if sla is not None else None


def _recent_first_response_time(ticket: Ticket, schedule: Schedule | None) -> timedelta | None:
    scope = {"team_id": ticket.team_id} if ticket.team_id else {"inbox_id": ticket.inbox_id}
    answered = (
        Ticket.objects.filter(first_response_at__isnull=False, **scope)
        .exclude(pk=ticket.pk)
        .order_by("-first_response_at")
        .values_list("created_at", "first_response_at")[:RECENT_TICKETS]
    )
    durations = [business_time_between(schedule, created, answered_at) for created, answered_at in answered]
    if len(durations) < MIN_SAMPLES:
        return None
    return statistics.median(durations)


def _business_hours(ticket: Ticket) -> BusinessHours | None:
    inbox_hours = ticket.inbox.business_hours
    if inbox_hours is not None:
        return inbox_hours
    return ticket.team.business_hours if ticket.team_id else None


def describe_hours(schedule: Schedule) -> str:
    """ "Mon-Fri 09:00-18:00, Sat 10:00-14:00" in the active language."""
    by_day = []
    for weekday in range(7):
        spans = sorted((p.start, p.end) for p in schedule.periods if p.weekday == weekday)
        by_day.append(", ".join(f"{start:%H:%M}-{end:%H:%M}".replace("-00:00", "-24:00") for start, end in spans))
    groups, start = [], 0
    for weekday in range(1, 8):
        if weekday == 7 or by_day[weekday] != by_day[start]:
            if by_day[start]:
                days = (
                    WEEKDAYS_ABBR[start]
                    if weekday - 1 == start
                    else f"{WEEKDAYS_ABBR[start]}-{WEEKDAYS_ABBR[weekday - 1]}"
                )
                groups.append(f"{days} {by_day[start]}")
            start = weekday
    return ", ".join(str(group) for group in groups)


def _when(instant: datetime, zone) -> str:
    return formats.date_format(instant.astimezone(zone), "DATETIME_FORMAT")
