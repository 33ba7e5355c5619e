"""Every write to tickets that matters: open, reply, note, status, assignment, fields.

Each one keeps the ticket's SLA clock in step (helpdesk/services/sla.py), in the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Tag
from helpdesk.event_text import describe_in_english
from helpdesk.events import TicketAssigned, TicketChanged, TicketStatusChanged, publish, publish_all
from helpdesk.models import (
    AgentProfile,
    AuthorType,
    Inbox,
    Message,
    MessageKind,
    Priority,
    Team,
    Ticket,
    TicketStatus,
)
from helpdesk.services.audit import Change, record_audit, record_audits
from helpdesk.services.messages import (
    MessageDraft,
    NewAttachment,
    PostedMessage,
    event_draft,
    post_message,
    post_messages,
    record_event,
)
from helpdesk.services.sla import replan_sla, sla_on_status_change, start_slas
from helpdesk.workflow import REOPENED_BY_CUSTOMER_REPLY, TransitionNotAllowed, check_transition

UNCHANGED: Any = object()
STARTING_STATUSES = (TicketStatus.NEW, TicketStatus.BOT, TicketStatus.OPEN)


@dataclasses.dataclass(frozen=True)
class TicketDraft:
    """A ticket to open, with what comes with it: its first message and the system events that explain it.

    `team` UNCHANGED means the inbox's team. `routing` is what routing decided (helpdesk.services.routing
    fills it in, with the team, priority, tags and assignee): it becomes a "routed" event on the timeline."""

    inbox: Inbox
    customer: Customer
    subject: str
    priority: str = Priority.NORMAL
    channel: str = ""
    status: str = TicketStatus.NEW
    team: Any = UNCHANGED
    assignee: Any = None
    tags: tuple[str, ...] = ()
    first_message: MessageDraft | None = None
    events: tuple[MessageDraft, ...] = ()
    routing: dict | None = None

    @property
    def team_id(self) -> int | None:
        if self.team is UNCHANGED:
            return self.inbox.team_id
        return self.team.pk if self.team is not None else None


@dataclasses.dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    first_message: PostedMessage | None  # created=False: that external id was stored before, elsewhere
    routing: dict | None = None  # what routing decided (see TicketDraft)


def _actor_id(actor) -> int | None:
    return actor.pk if actor is not None else None


def _current_status(ticket: Ticket) -> str:
    return Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _changed(ticket: Ticket, actor, action: str, changes: dict) -> None:
    record_audit(obj=ticket, actor_id=_actor_id(actor), action=action, changes=changes)
    publish(TicketChanged(ticket_id=ticket.pk, actor_id=_actor_id(actor), action=action, changes=changes))


def clean_subject(subject: str) -> str:
    return " ".join(subject.replace("\x00", "").split())[:255]


def open_ticket(
    *,
    inbox: Inbox,
    customer: Customer,
    subject: str,
    priority: str = Priority.NORMAL,
    channel: str = "",
    status: str = TicketStatus.NEW,
    actor=None,
) -> Ticket:
    draft = TicketDraft(
        inbox=inbox, customer=customer, subject=subject, priority=priority, channel=channel, status=status
    )
    return open_tickets([draft], actor=actor)[0].ticket


@transaction.atomic
def open_tickets(drafts: Sequence[TicketDraft], *, actor=None) -> list[OpenedTicket]:
    """Open tickets with their first messages, tags, SLA clocks, audit entries and events, a few statements
    for the whole batch. Every draft is checked first; one bad draft raises ValidationError, nothing written."""
    for draft in drafts:
        if draft.customer.is_merged:
            raise ValidationError({"customer": "This customer was merged into another one; use that customer."})
        if draft.status not in STARTING_STATUSES:
            raise ValidationError({"status": "A ticket starts as new, open or with the bot."})
        if draft.priority not in Priority.values:
            raise ValidationError({"priority": f"Unknown priority {draft.priority!r}."})
    tickets = Ticket.objects.bulk_create([_new_ticket(draft) for draft in drafts])
    tagged = {ticket: draft.tags for ticket, draft in zip(tickets, drafts, strict=True) if draft.tags}
    if tagged:
        _add_tags(tagged)
    changes, events = [], []
    for ticket, draft in zip(tickets, drafts, strict=True):
        created = {"inbox": ticket.inbox_id, "customer": ticket.customer_id, "status": ticket.status}
        changes.append(Change(ticket, _actor_id(actor), "created", created))
        events.append(TicketChanged(ticket_id=ticket.pk, actor_id=_actor_id(actor), action="created", changes=created))
        if draft.routing:
            changes.append(Change(ticket, _actor_id(actor), "routed", draft.routing))
        if ticket.assignee_id is not None:
            events.append(_assigned_at_creation(ticket, actor))
    record_audits(changes)
    publish_all(events)
    start_slas(tickets=tickets)
    openings = [_opening(ticket, draft) for ticket, draft in zip(tickets, drafts, strict=True)]
    posted = iter(post_messages([message for opening in openings for message in opening]))
    opened = []
    for ticket, draft, opening in zip(tickets, drafts, openings, strict=True):
        messages = [next(posted) for _ in opening]
        opened.append(OpenedTicket(ticket, messages[0] if draft.first_message else None, draft.routing))
    return opened


def _assigned_at_creation(ticket: Ticket, actor) -> TicketAssigned:
    return TicketAssigned(
        ticket_id=ticket.pk,
        inbox_id=ticket.inbox_id,
        assignee_id=ticket.assignee_id,
        previous_assignee_id=None,
        team_id=ticket.team_id,
        previous_team_id=None,
        actor_id=_actor_id(actor),
    )


def _new_ticket(draft: TicketDraft) -> Ticket:
    subject = clean_subject(draft.subject) or "(no subject)"
    status = TicketStatus.OPEN if draft.assignee is not None and draft.status == TicketStatus.NEW else draft.status
    return Ticket(
        inbox=draft.inbox,
        customer=draft.customer,
        subject=subject,
        priority=draft.priority,
        status=status,
        channel=draft.channel or draft.inbox.kind,
        team_id=draft.team_id,
        assignee=draft.assignee,
    )


def _opening(ticket: Ticket, draft: TicketDraft) -> list[MessageDraft]:
    """The first message, then the events that explain the ticket, then how it was routed."""
    messages = [draft.first_message] if draft.first_message else []
    messages += draft.events
    if draft.routing:
        text = describe_in_english("routed", draft.routing)
        messages.append(event_draft(ticket=None, event="routed", text=text, data=draft.routing))
    return [dataclasses.replace(message, ticket=ticket) for message in messages]


def tags_named(names: Iterable[str]) -> dict[str, Tag]:
    """Tags by name, created when missing (lower-cased, at most 64 characters)."""
    wanted = {name.strip().lower()[:64] for name in names if name.strip()}
    found = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    if wanted - found.keys():
        Tag.objects.bulk_create([Tag(name=name) for name in wanted - found.keys()], ignore_conflicts=True)
        found = {tag.name: tag for tag in Tag.objects.filter(name__in=wanted)}
    return found


def _add_tags(tags_of: dict[Ticket, tuple[str, ...]]) -> None:
    tags = tags_named(name for names in tags_of.values() for name in names)
    through = Ticket.tags.through
    rows = {
        (ticket.pk, tags[name.strip().lower()[:64]].pk)
        for ticket, names in tags_of.items()
        for name in names
        if name.strip()
    }
    through.objects.bulk_create([through(ticket_id=ticket_id, tag_id=tag_id) for ticket_id, tag_id in rows])


@transaction.atomic
def receive_customer_message(
    *,
    ticket: Ticket,
    body_text: str = "",
    body_html: str = "",
    channel: str = "",
    external_id: str | None = None,
    attachments: Sequence[NewAttachment] = (),
    inbox: Inbox | None = None,
) -> Message:
    """A customer writes on a ticket; a pending or solved ticket comes back to the agents. `inbox`: the one
    the message came through, when not the ticket's (a chat continuing an email ticket).

    A closed ticket takes no more messages (TransitionNotAllowed): channels open a follow-up instead.
    """
    current = _current_status(ticket)
    if current == TicketStatus.CLOSED:
        raise TransitionNotAllowed(TicketStatus.CLOSED, TicketStatus.OPEN)
    posted = post_message(
        ticket=ticket,
        author_type=AuthorType.CUSTOMER,
        author_customer=ticket.customer,
        body_text=body_text,
        body_html=body_html,
        channel=channel,
        external_id=external_id,
        attachments=attachments,
        inbox=inbox,
    )
    if posted.created and current in REOPENED_BY_CUSTOMER_REPLY:
        change_status(ticket=ticket, status=TicketStatus.OPEN, reason="customer replied")
    return posted.message


@transaction.atomic
def reply(
    *,
    ticket: Ticket,
    agent,
    body_text: str = "",
    body_html: str = "",
    channel: str = "",
    attachments: Sequence[NewAttachment] = (),
    status: str | None = None,
    external_id: str | None = None,
) -> Message:
    """A public answer from an agent, optionally moving the ticket on (to pending, solved...)."""
    current = _current_status(ticket)
    if current == TicketStatus.CLOSED:
        raise TransitionNotAllowed(TicketStatus.CLOSED, TicketStatus.OPEN)
    posted = post_message(
        ticket=ticket,
        author_type=AuthorType.AGENT,
        author_user=agent,
        body_text=body_text,
        body_html=body_html,
        channel=channel,
        attachments=attachments,
        external_id=external_id,
    )
    if not posted.created:
        return posted.message
    target = status or (TicketStatus.OPEN if current in (TicketStatus.NEW, TicketStatus.BOT) else None)
    if target:
        change_status(ticket=ticket, status=target, actor=agent)
    return posted.message


def add_internal_note(
    *,
    ticket: Ticket,
    agent,
    body_text: str = "",
    body_html: str = "",
    attachments: Sequence[NewAttachment] = (),
    external_id: str | None = None,
) -> Message:
    return post_message(
        ticket=ticket,
        kind=MessageKind.NOTE,
        author_type=AuthorType.AGENT,
        author_user=agent,
        body_text=body_text,
        body_html=body_html,
        attachments=attachments,
        external_id=external_id,
    ).message


@transaction.atomic
def change_status(*, ticket: Ticket, status: str, actor=None, reason: str = "") -> Ticket:
    """Move the ticket to `status`; TransitionNotAllowed when the status machine forbids it."""
    locked = _locked(ticket)
    old = locked.status
    check_transition(old, status)
    if old == status:
        return locked
    now = timezone.now()
    locked.status = status
    if status == TicketStatus.SOLVED:
        locked.solved_at = now
    elif status == TicketStatus.CLOSED:
        locked.closed_at = now
    elif old == TicketStatus.SOLVED:
        locked.solved_at = None
    locked.save(update_fields=["status", "solved_at", "closed_at", "updated_at"])
    sla_on_status_change(ticket=locked, old=old, new=status)
    data = {"from": old, "to": status, "reason": reason}
    record_event(
        ticket=locked, event="status_changed", text=describe_in_english("status_changed", data), data=data, actor=actor
    )
    _changed(locked, actor, "status_changed", {"status": [old, status]})
    publish(
        TicketStatusChanged(
            ticket_id=locked.pk, inbox_id=locked.inbox_id, old_status=old, new_status=status, actor_id=_actor_id(actor)
        )
    )
    _refresh(ticket, locked)
    return locked


@transaction.atomic
def assign_ticket(*, ticket: Ticket, assignee=UNCHANGED, team: Team | None = UNCHANGED, actor=None) -> Ticket:
    """Give the ticket to an agent and/or a team. The agent must belong to the ticket's team, if any."""
    locked = _locked(ticket)
    new_team = locked.team if team is UNCHANGED else team
    new_assignee = locked.assignee if assignee is UNCHANGED else assignee
    if new_assignee is not None:
        profile = AgentProfile.objects.filter(user=new_assignee).first()
        if profile is None or not new_assignee.is_active:
            raise ValidationError({"assignee": "Tickets can only be assigned to active agents."})
        if new_team is not None and not profile.teams.filter(pk=new_team.pk).exists():
            raise ValidationError({"assignee": f"{profile} is not a member of the team {new_team}."})
    if new_team == locked.team and new_assignee == locked.assignee:
        return locked
    old_team_id, old_assignee_id = locked.team_id, locked.assignee_id
    locked.team, locked.assignee = new_team, new_assignee
    locked.save(update_fields=["team", "assignee", "updated_at"])
    if locked.team_id != old_team_id:
        replan_sla(ticket=locked)  # the team may bring other targets and business hours
    data = {
        "assignee": _actor_id(new_assignee),
        "assignee_name": str(getattr(new_assignee, "agent_profile", new_assignee)) if new_assignee else None,
        "team": new_team.pk if new_team else None,
        "team_name": new_team.name if new_team else None,
    }
    record_event(ticket=locked, event="assigned", text=describe_in_english("assigned", data), data=data, actor=actor)
    _changed(
        locked,
        actor,
        "assigned",
        {"assignee": [old_assignee_id, locked.assignee_id], "team": [old_team_id, locked.team_id]},
    )
    publish(
        TicketAssigned(
            ticket_id=locked.pk,
            inbox_id=locked.inbox_id,
            assignee_id=locked.assignee_id,
            previous_assignee_id=old_assignee_id,
            team_id=locked.team_id,
            previous_team_id=old_team_id,
            actor_id=_actor_id(actor),
        )
    )
    if locked.status == TicketStatus.NEW and new_assignee is not None:
        change_status(ticket=locked, status=TicketStatus.OPEN, actor=actor)
    _refresh(ticket, locked)
    return locked


@transaction.atomic
def update_ticket(
    *,
    ticket: Ticket,
    actor=None,
    subject: str | None = None,
    priority: str | None = None,
    tags: list[str] | None = None,
) -> Ticket:
    locked = _locked(ticket)
    changes: dict = {}
    if subject is not None:
        subject = clean_subject(subject)
        if not subject:
            raise ValidationError({"subject": "A subject cannot be empty."})
        if subject != locked.subject:
            changes["subject"] = [locked.subject, subject]
            locked.subject = subject
    if priority is not None and priority != locked.priority:
        if priority not in Priority.values:
            raise ValidationError({"priority": f"Unknown priority {priority!r}."})
        changes["priority"] = [locked.priority, priority]
        locked.priority = priority
    if changes:
        locked.save(update_fields=[*changes, "updated_at"])
    if "priority" in changes:
        replan_sla(ticket=locked)
    if tags is not None:
        old_tags = sorted(locked.tags.values_list("name", flat=True))
        new_tags = sorted({name.strip().lower()[:64] for name in tags if name.strip()})
        if new_tags != old_tags:
            locked.tags.set(tags_named(new_tags).values())
            changes["tags"] = [old_tags, new_tags]
            Ticket.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    if changes:
        _changed(locked, actor, "updated", changes)
    _refresh(ticket, locked)
    return locked


def close_solved_tickets(*, now=None, batch_size: int = 500) -> int:
    """Close tickets solved longer ago than HELPDESK_CLOSE_SOLVED_AFTER_HOURS; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.HELPDESK_CLOSE_SOLVED_AFTER_HOURS)
    ids = list(
        Ticket.objects.filter(status=TicketStatus.SOLVED, solved_at__lt=cutoff)
        .order_by("solved_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    closed = 0
    for ticket in Ticket.objects.filter(pk__in=ids):
        try:
            change_status(ticket=ticket, status=TicketStatus.CLOSED, reason="solved for a while")
        except TransitionNotAllowed:
            continue  # reopened since it was listed
        closed += 1
    return closed


def _refresh(ticket: Ticket, locked: Ticket) -> None:
    """Keep the caller's instance current, so a chain of service calls sees what the last one did."""
    if ticket is not locked:
        for field in (
            "status",
            "solved_at",
            "closed_at",
            "team_id",
            "assignee_id",
            "subject",
            "priority",
            "updated_at",
        ):
            setattr(ticket, field, getattr(locked, field))
        for relation in ("team", "assignee"):
            ticket._state.fields_cache.pop(relation, None)
