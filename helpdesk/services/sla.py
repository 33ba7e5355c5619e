"""The SLA clock of each ticket: started when a ticket opens, moved by the ticket services, checked every
minute by `flag_sla_breaches`. The semantics are in docs/routing-and-sla.md.

The ticket services call in here inside their own transaction, holding the ticket's row lock, so a clock
never disagrees with the ticket it measures. Business time is counted in the schedule of the ticket's
inbox, else of its team, else around the clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from helpdesk.bulk import update_rows
from helpdesk.business_hours import NeverOpen, Schedule, add_business_time, business_time_between, load_schedule
from helpdesk.configuration import cached
from helpdesk.events import TicketChanged, publish
from helpdesk.models import (
    AuthorType,
    BusinessHours,
    Inbox,
    Message,
    MessageKind,
    SlaClock,
    SlaMetric,
    SlaTarget,
    Team,
    Ticket,
    TicketSla,
    TicketStatus,
)
from helpdesk.services.audit import record_audit
from helpdesk.services.messages import record_event

CLOCK_OF_STATUS = {
    TicketStatus.NEW: SlaClock.RUNNING,
    TicketStatus.OPEN: SlaClock.RUNNING,
    TicketStatus.ON_HOLD: SlaClock.RUNNING,
    TicketStatus.PENDING: SlaClock.PAUSED,  # waiting on the customer
    TicketStatus.BOT: SlaClock.PAUSED,  # the agents' clock starts at the hand-off
    TicketStatus.SOLVED: SlaClock.STOPPED,
    TicketStatus.CLOSED: SlaClock.STOPPED,
}


@dataclasses.dataclass(frozen=True)
class _Target:
    metric: str
    goal: timedelta  # the reading of the clock at which the target is reached
    length: timedelta  # the target itself


def schedule(business_hours_id: int | None) -> Schedule | None:
    """The schedule of a BusinessHours row (None: 24/7), from the configuration cache."""
    if business_hours_id is None:
        return None
    return cached("schedules", _load_schedules).get(business_hours_id)


def _load_schedules() -> dict[int, Schedule]:
    rows = BusinessHours.objects.prefetch_related("periods", "holidays")
    return {hours.pk: load_schedule(hours) for hours in rows}


class _Plans:
    """What planning a clock reads: the active targets and whose business hours count (cached configuration:
    a batch of new tickets plans all its clocks without a query)."""

    def __init__(self) -> None:
        self._targets = cached(
            "sla-targets", lambda: list(SlaTarget.objects.filter(policy__is_active=True).select_related("policy"))
        )
        self._inbox_hours = cached(
            "inbox-business-hours", lambda: dict(Inbox.objects.values_list("pk", "business_hours_id"))
        )
        self._team_hours = cached(
            "team-business-hours", lambda: dict(Team.objects.values_list("pk", "business_hours_id"))
        )

    def target(self, ticket: Ticket) -> SlaTarget | None:
        """The targets for the ticket's priority from the most specific active policy that has them: inbox and
        team, then inbox, then team, then unscoped; the oldest policy wins a tie."""
        candidates = [
            target
            for target in self._targets
            if target.priority == ticket.priority
            and target.policy.inbox_id in (None, ticket.inbox_id)
            and target.policy.team_id in (None, ticket.team_id)
        ]

        def specificity(target: SlaTarget) -> tuple:
            return target.policy.inbox_id is not None, target.policy.team_id is not None, -target.policy_id

        return max(candidates, key=specificity, default=None)

    def business_hours_id(self, ticket: Ticket) -> int | None:
        """The inbox's schedule, else the team's, else none (24/7)."""
        inbox_hours = self._inbox_hours.get(ticket.inbox_id)
        if inbox_hours is not None or ticket.team_id is None:
            return inbox_hours
        return self._team_hours.get(ticket.team_id)


def applicable_target(*, ticket: Ticket) -> SlaTarget | None:
    return _Plans().target(ticket)


def start_slas(*, tickets: list[Ticket]) -> list[TicketSla]:
    """Start the clocks of new tickets (`open_tickets` does this); each runs from its ticket's creation."""
    plans = _Plans()
    clocks = []
    for ticket in tickets:
        sla = TicketSla(ticket=ticket, clock=CLOCK_OF_STATUS[ticket.status], elapsed_until=ticket.created_at)
        _plan(sla, ticket, plans)
        _refresh_due_times(sla, schedule(sla.business_hours_id))
        clocks.append(sla)
    return TicketSla.objects.bulk_create(clocks)


def sla_on_messages(*, messages: list[Message]) -> None:
    """A public agent reply meets the first response and the awaited next response; a customer message
    after an agent reply starts a next-response target. `post_messages` calls this with what it stored
    (the tickets are locked by then); the clocks are read, changed and saved together."""
    relevant = [
        message
        for message in messages
        if message.kind == MessageKind.MESSAGE
        and message.is_public
        and message.author_type in (AuthorType.AGENT, AuthorType.CUSTOMER)
    ]
    if not relevant:
        return
    answered = {m.ticket_id for m in relevant if m.author_type == AuthorType.AGENT}
    written = {m.ticket_id for m in relevant if m.author_type == AuthorType.CUSTOMER} - answered
    # A message changes a clock only when it starts or meets a response target: a customer's when it starts a
    # next-response target, an agent's when the clock awaits a response. The others are left for the breach
    # task to read (a new ticket's first message, a second before any answer, an agent's second in a row).
    tickets = {message.ticket_id: message.ticket for message in relevant}
    if all(Ticket.sla.is_cached(ticket) for ticket in tickets.values()):
        # The caller read the clocks with their tickets, under the tickets' locks, without waiting for them (no
        # clock changes without its ticket's lock): they are as they are now.
        clocks = [tickets[pk].sla for pk in sorted(tickets) if hasattr(tickets[pk], "sla")]
    else:
        clocks = TicketSla.objects.select_for_update().filter(ticket_id__in=tickets).order_by("ticket_id")
    clocks = [
        sla for sla in clocks if _moves(sla, answered=sla.ticket_id in answered, written=sla.ticket_id in written)
    ]
    readings = {sla.ticket_id: _Reading(sla, None) for sla in clocks}
    for message in relevant:
        reading = readings.get(message.ticket_id)
        if reading is None:
            continue  # a ticket created before SLAs existed
        reading.ticket = message.ticket
        sla = reading.sla
        _advance(sla, schedule(sla.business_hours_id), message.created_at)
        _flag(reading)
        if message.author_type == AuthorType.AGENT:
            if sla.first_response_met_at is None:
                sla.first_response_met_at = message.created_at
                sla.first_response_near_breach = False
            sla.next_response_from = None
            sla.next_response_near_breach = False
        elif sla.first_response_met_at is not None and sla.next_response_from is None:
            sla.next_response_from = sla.elapsed
            sla.next_response_breached = sla.next_response_near_breach = False
    now = timezone.now()
    for reading in readings.values():
        _refresh_due_times(reading.sla, schedule(reading.sla.business_hours_id))
        reading.sla.updated_at = now
    update_rows([reading.sla for reading in readings.values()], _CLOCK_FIELDS)
    for reading in readings.values():
        _announce(reading)


def _moves(sla: TicketSla, *, answered: bool, written: bool) -> bool:
    """An agent's reply moves a clock awaiting a response, a customer's message one that starts a
    next-response target."""
    if answered:
        return sla.first_response_met_at is None or sla.next_response_from is not None
    return written and sla.first_response_met_at is not None and sla.next_response_from is None


def sla_on_status_change(*, ticket: Ticket, old: str, new: str) -> None:
    """Pending (and the bot) pause the clock, solved and closed stop it, anything else runs it. Solving meets
    the resolution target; reopening a solved ticket makes it due again, minus the time spent solved."""
    now = timezone.now()
    with _clock_of(ticket, now) as reading:
        if reading is None:
            return
        sla = reading.sla
        if new == TicketStatus.SOLVED and sla.resolution_met_at is None:
            sla.resolution_met_at = now
        elif old == TicketStatus.SOLVED and new != TicketStatus.CLOSED:
            sla.resolution_met_at = None
        clock = CLOCK_OF_STATUS[new]
        if clock == SlaClock.RUNNING and sla.clock != SlaClock.RUNNING:
            sla.elapsed_until = max(now, sla.elapsed_until)
        if clock == SlaClock.STOPPED:
            sla.first_response_near_breach = sla.next_response_near_breach = sla.resolution_near_breach = False
        sla.clock = clock


def replan_sla(*, ticket: Ticket) -> None:
    """Choose the policy and schedule again after the priority or the team changed. The business time
    already counted stays; targets already exceeded under the new plan are breached at once."""
    with _clock_of(ticket, timezone.now(), replan=True):
        pass


def flag_sla_breaches(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Flag the targets of running clocks that reached their near-breach point or their due time; each
    breach is written once, as a system event and an audit entry. Returns how many tickets changed."""
    now = now or timezone.now()
    ticket_ids = list(
        TicketSla.objects.filter(clock=SlaClock.RUNNING, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("ticket_id", flat=True)[:batch_size]
    )
    changed = 0
    for ticket_id in ticket_ids:
        with _clock_of(Ticket(pk=ticket_id), now) as reading:
            if reading is not None and (reading.breached or reading.near_breach):
                changed += 1
    return changed


@dataclasses.dataclass
class _Reading:
    sla: TicketSla
    ticket: Ticket | None  # locked, as it is now
    breached: list[str] = dataclasses.field(default_factory=list)  # flagged during this reading
    near_breach: list[str] = dataclasses.field(default_factory=list)


@contextlib.contextmanager
def _clock_of(ticket: Ticket, now: datetime, *, replan: bool = False) -> Iterator[_Reading | None]:
    """Lock the ticket and its clock, count up to `now` and flag what the count reached; after the caller's
    changes, plan again if asked, recompute the due times, save, and announce new flags. None for a ticket
    without a clock (one created before SLAs existed)."""
    with transaction.atomic():
        # The ticket row first: the order every ticket service locks in.
        locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        sla = TicketSla.objects.select_for_update().filter(ticket_id=ticket.pk).first() if locked else None
        if sla is None:
            yield None
            return
        reading = _Reading(sla, locked)
        _advance(sla, schedule(sla.business_hours_id), now)
        _flag(reading)
        yield reading
        if replan:
            _plan(sla, locked, _Plans())
            _flag(reading)
        _refresh_due_times(sla, schedule(sla.business_hours_id))
        sla.save()
        _announce(reading)


def _announce(reading: _Reading) -> None:
    """Breaches go on the timeline and the audit trail; near breaches only to the agents' screens."""
    for metric in reading.breached:
        _announce_breach(reading.ticket, reading.sla, metric)
    if reading.near_breach:
        changes = {"near_breach": reading.near_breach}
        ticket_id = reading.sla.ticket_id
        publish(TicketChanged(ticket_id=ticket_id, actor_id=None, action="sla_near_breach", changes=changes))


# What a reading may change (bulk_update writes them all).
_CLOCK_FIELDS = [field.name for field in TicketSla._meta.concrete_fields if not field.primary_key]


def _plan(sla: TicketSla, ticket: Ticket, plans: _Plans) -> None:
    target = plans.target(ticket)
    sla.policy = target.policy if target else None
    for metric in SlaMetric.values:
        setattr(sla, f"{metric}_minutes", getattr(target, f"{metric}_minutes") if target else None)
    sla.near_breach_percent = target.policy.near_breach_percent if target else sla.near_breach_percent
    sla.business_hours_id = plans.business_hours_id(ticket)


def _advance(sla: TicketSla, schedule: Schedule | None, now: datetime) -> None:
    """Count the business time since the last reading, if the clock runs."""
    if sla.clock == SlaClock.RUNNING and now > sla.elapsed_until:
        sla.elapsed += business_time_between(schedule, sla.elapsed_until, now)
        sla.elapsed_until = now


def _targets(sla: TicketSla) -> list[_Target]:
    """The targets still to meet."""
    targets = []
    if sla.first_response_minutes and sla.first_response_met_at is None:
        length = timedelta(minutes=sla.first_response_minutes)
        targets.append(_Target(SlaMetric.FIRST_RESPONSE.value, length, length))
    if sla.next_response_minutes and sla.next_response_from is not None:
        length = timedelta(minutes=sla.next_response_minutes)
        targets.append(_Target(SlaMetric.NEXT_RESPONSE.value, sla.next_response_from + length, length))
    if sla.resolution_minutes and sla.resolution_met_at is None:
        length = timedelta(minutes=sla.resolution_minutes)
        targets.append(_Target(SlaMetric.RESOLUTION.value, length, length))
    return targets


def _near_length(sla: TicketSla, target: _Target) -> timedelta:
    return target.length * sla.near_breach_percent / 100


def _flag(reading: _Reading) -> None:
    """Flag targets the count has reached (breached) or nearly reached (near breach), once each."""
    sla = reading.sla
    if sla.clock != SlaClock.RUNNING:
        return
    for target in _targets(sla):
        left = target.goal - sla.elapsed
        if getattr(sla, f"{target.metric}_breached"):
            continue
        if left <= timedelta(0):
            setattr(sla, f"{target.metric}_breached", True)
            setattr(sla, f"{target.metric}_near_breach", False)
            reading.breached.append(target.metric)
        elif left <= _near_length(sla, target) and not getattr(sla, f"{target.metric}_near_breach"):
            setattr(sla, f"{target.metric}_near_breach", True)
            reading.near_breach.append(target.metric)


def _refresh_due_times(sla: TicketSla, schedule: Schedule | None) -> None:
    """Due times of the targets still to meet, counted from the last reading (so while the clock is paused,
    from when it stopped), and the next moment the breach task must look at this clock."""
    targets = {target.metric: target for target in _targets(sla)}
    checks = []
    for metric in SlaMetric.values:
        target = targets.get(metric)
        if target is None or sla.clock == SlaClock.STOPPED:
            setattr(sla, f"{metric}_due_at", None)
            continue
        left = target.goal - sla.elapsed
        if left > timedelta(0):
            due = _after(schedule, sla.elapsed_until, left)
        else:  # reached already: keep when that was, if known, else it is due from this reading
            known = getattr(sla, f"{metric}_due_at")
            due = known if known is not None and known <= sla.elapsed_until else sla.elapsed_until
        setattr(sla, f"{metric}_due_at", due)
        if getattr(sla, f"{metric}_breached"):
            continue
        if not getattr(sla, f"{metric}_near_breach"):
            warn_left = left - _near_length(sla, target)
            checks.append(
                _after(schedule, sla.elapsed_until, warn_left) if warn_left > timedelta(0) else sla.elapsed_until
            )
        checks.append(due)
    checks = [check for check in checks if check is not None]
    sla.next_check_at = min(checks) if checks and sla.clock == SlaClock.RUNNING else None


def _after(schedule: Schedule | None, start: datetime, business_time: timedelta) -> datetime | None:
    try:
        return add_business_time(schedule, start, business_time)
    except NeverOpen:
        return None  # a schedule that never opens: never due


def _announce_breach(ticket: Ticket, sla: TicketSla, metric: str) -> None:
    label = SlaMetric(metric).label
    due_at = sla.due_at(metric)
    details = {"metric": metric, "due_at": due_at.isoformat() if due_at else None, "policy": sla.policy_id}
    record_event(ticket=ticket, event="sla_breached", text=f"{label} SLA breached", data=details)
    record_audit(obj=ticket, actor_id=None, action="sla_breached", changes=details)
    publish(TicketChanged(ticket_id=sla.ticket_id, actor_id=None, action="sla_breached", changes=details))
