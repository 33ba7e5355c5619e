from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.models import Ticket, TicketStatus
from helpdesk.services.tickets import (
    assign_ticket,
    change_status,
    close_solved_tickets,
    open_ticket,
    receive_customer_message,
    reply,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Status")
    receive_customer_message(ticket=ticket, body_text="help")
    return ticket


@pytest.mark.parametrize("waiting", [TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED])
def test_a_customer_reply_brings_a_waiting_ticket_back_to_open(ticket, agent, waiting):
    reply(ticket=ticket, agent=agent, body_text="Could you send a photo?", status=waiting)

    receive_customer_message(ticket=ticket, body_text="Here it is")

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.solved_at is None
    event = ticket.messages.filter(event="status_changed").last()
    assert event.data == {"from": waiting, "to": "open", "reason": "customer replied"}
    assert not event.is_public


def test_assigning_a_new_ticket_opens_it_and_records_both_events(ticket, agent, supervisor):
    assign_ticket(ticket=ticket, assignee=agent, actor=supervisor)

    assert ticket.status == TicketStatus.OPEN and ticket.assignee == agent
    events = list(ticket.messages.filter(kind="event").values_list("event", "author_user"))
    assert events == [("assigned", supervisor.pk), ("status_changed", supervisor.pk)]


def test_solved_tickets_close_after_the_configured_delay(ticket, settings):
    settings.HELPDESK_CLOSE_SOLVED_AFTER_HOURS = 24
    change_status(ticket=ticket, status=TicketStatus.SOLVED)
    recent = open_ticket(inbox=ticket.inbox, customer=ticket.customer, subject="recent")
    change_status(ticket=recent, status=TicketStatus.SOLVED)
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(hours=25))

    assert close_solved_tickets() == 1

    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.CLOSED
    assert Ticket.objects.get(pk=recent.pk).status == TicketStatus.SOLVED
