"""Every write to tickets that matters: open, reply, note, status, assignment, fields.

Each one keeps the ticket's SLA clock in step (helpdesk/services/sla.py), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Tag
from helpdesk.event_text import describe_in_english
from helpdesk.events import TicketAssigned, TicketChanged, TicketStatusChanged, publish
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
from helpdesk.services.audit import record_audit
from helpdesk.services.messages import NewAttachment, post_message, record_event
from helpdesk.services.sla import replan_sla, sla_on_status_change, start_sla
from helpdesk.workflow import REOPENED_BY_CUSTOMER_REPLY, TransitionNotAllowed, check_transition

UNCHANGED = object()


def _actor_id(actor) -> int | None:
    return actor.pk if actor is not None else None


def _current_status(ticket: Ticket) -> str:
    return Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _changed(ticket: Ticket, actor, action: str, changes: dict) -> None:
    record_audit(obj=ticket, actor_id=_actor_id(actor), action=action, changes=changes)
    publish(TicketChanged(ticket_id=ticket.pk, actor_id=_actor_id(actor), action=action, changes=changes))


@transaction.atomic
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
    if customer.is_merged:
        raise ValidationError({"customer": "This customer was merged into another one; use that customer."})
    if status not in (TicketStatus.NEW, TicketStatus.BOT, TicketStatus.OPEN):
        raise ValidationError({"status": "A ticket starts as new, open or with the bot."})
    ticket = Ticket(
        inbox=inbox,
        customer=customer,
        subject=" ".join(subject.replace("\x00", "").split())[:255] or "(no subject)",
        priority=priority,
        status=status,
        channel=channel or inbox.kind,
        team=inbox.team,
    )
    ticket.full_clean()
    ticket.save()
    _changed(ticket, actor, "created", {"inbox": inbox.pk, "customer": customer.pk, "status": status})
    start_sla(ticket=ticket)
    return ticket


@transaction.atomic
def receive_customer_message(
    *,
    ticket: Ticket,
    body_text: str = "",
    body_html: str = "",
    channel: str = "",
    external_id: str | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Message:
    """A customer writes on a ticket; a pending or solved ticket comes back to the agents.

    A closed ticket takes no more messages (TransitionNotAllowed): channels open a follow-up instead.
    """
    if _current_status(ticket) == TicketStatus.CLOSED:
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
    )
    if posted.created and _current_status(ticket) in REOPENED_BY_CUSTOMER_REPLY:
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
        subject = " ".join(subject.replace("\x00", "").split())[:255]
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
        new_tags = sorted({name.strip().lower() for name in tags if name.strip()})
        if new_tags != old_tags:
            locked.tags.set([Tag.objects.get_or_create(name=name[:64])[0] for name in new_tags])
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
