"""Per-object access: what is not yours is not found, whatever the route."""

import pytest

from helpdesk.models import TicketStatus
from helpdesk.selectors.access import tickets_visible_to
from helpdesk.services.messages import NewAttachment
from helpdesk.services.tickets import add_internal_note, assign_ticket, open_ticket, receive_customer_message, reply
from tests.factories import AgentFactory, CustomerFactory, InboxFactory, UserFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(inbox, customer, agent):
    """A Tier 1 ticket with a public attachment and an internal note with its own attachment."""
    ticket = open_ticket(inbox=inbox, customer=customer, subject="請求書について")
    receive_customer_message(
        ticket=ticket,
        body_text="請求書を添付します",
        attachments=[NewAttachment(filename="invoice.pdf", content=b"%PDF-1.4", content_type="application/pdf")],
    )
    reply(ticket=ticket, agent=agent, body_text="確認いたします")
    add_internal_note(
        ticket=ticket,
        agent=agent,
        body_text="Customer is on the legacy plan",
        attachments=[NewAttachment(filename="internal.txt", content=b"secret", content_type="text/plain")],
    )
    return ticket


def _attachment_ids(ticket):
    public = ticket.messages.get(kind="message", author_type="customer").attachments.get().pk
    internal = ticket.messages.get(kind="note").attachments.get().pk
    return public, internal


def _every_route(ticket):
    public_attachment, internal_attachment = _attachment_ids(ticket)
    base = f"/api/v1/tickets/{ticket.pk}"
    return [
        ("get", f"{base}/", None),
        ("get", f"{base}/messages/", None),
        ("post", f"{base}/messages/", {"body_text": "hello"}),
        ("post", f"{base}/status/", {"status": "solved"}),
        ("post", f"{base}/assign/", {"assignee": None}),
        ("patch", f"{base}/", {"priority": "high"}),
        ("get", f"{base}/audit/", None),
        ("get", f"{base}/attachments/{public_attachment}/", None),
        ("get", f"{base}/attachments/{internal_attachment}/", None),
    ]


def _another_customers_user():
    other = CustomerFactory(name="Someone else")
    other.user = UserFactory(username="someone")
    other.save()
    return other.user


@pytest.mark.parametrize("who", ["another customer", "agent of another restricted team", "user without a role"])
def test_a_ticket_outside_the_callers_access_is_not_found_on_every_route(ticket, restricted_agent, who):
    caller = {
        "another customer": _another_customers_user,
        "agent of another restricted team": lambda: restricted_agent,
        "user without a role": lambda: UserFactory(username="nobody"),
    }[who]()
    client = api_as(caller)
    for method, url, data in _every_route(ticket):
        response = getattr(client, method)(url, data, format="json")
        expected = 403 if who == "user without a role" else 404
        assert response.status_code == expected, (method, url, response.status_code)
    assert client.get("/api/v1/tickets/").json().get("results", []) == []
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.last_message_seq == 4


def test_a_missing_ticket_and_a_forbidden_one_look_the_same(ticket, restricted_agent):
    client = api_as(restricted_agent)
    forbidden = client.get(f"/api/v1/tickets/{ticket.pk}/")
    missing = client.get("/api/v1/tickets/999999/")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json() == missing.json()


def test_customers_see_their_ticket_without_internal_notes_or_events(ticket, customer_user):
    client = api_as(customer_user)

    timeline = client.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]

    assert [item["body_text"] for item in timeline] == ["請求書を添付します", "確認いたします"]
    assert all(item["is_public"] for item in timeline)
    public_attachment, internal_attachment = _attachment_ids(ticket)
    download = client.get(f"/api/v1/tickets/{ticket.pk}/attachments/{public_attachment}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4"
    assert download["Content-Disposition"].startswith("attachment")
    assert client.get(f"/api/v1/tickets/{ticket.pk}/attachments/{internal_attachment}/").status_code == 404


def test_customers_can_reply_but_not_write_notes_or_change_the_ticket(ticket, customer_user):
    client = api_as(customer_user)
    url = f"/api/v1/tickets/{ticket.pk}"

    assert client.post(f"{url}/messages/", {"body_text": "ありがとう"}).status_code == 201
    assert client.post(f"{url}/messages/", {"kind": "note", "body_text": "sneaky"}).status_code == 403
    assert client.post(f"{url}/status/", {"status": "closed"}).status_code == 403
    assert client.get(f"{url}/audit/").status_code == 403
    assert client.get("/api/v1/customers/").status_code == 403
    last = ticket.messages.order_by("-seq").first()
    assert (last.author_type, last.direction, last.body_text) == ("customer", "inbound", "ありがとう")


def test_restricted_agents_see_their_teams_tickets_and_those_assigned_to_them(ticket, restricted_agent, team):
    billing_inbox = InboxFactory(name="Billing", team=restricted_agent.agent_profile.teams.get())
    billing_ticket = open_ticket(inbox=billing_inbox, customer=CustomerFactory(), subject="Refund")
    assert list(tickets_visible_to(restricted_agent)) == [billing_ticket]

    restricted_agent.agent_profile.teams.add(team)  # now also in Tier 1
    assert set(tickets_visible_to(restricted_agent)) == {billing_ticket, ticket}


def test_unrestricted_agents_and_supervisors_see_every_team(ticket, supervisor, restricted_team):
    other_agent = AgentFactory(user__username="carol").user
    billing_ticket = open_ticket(inbox=InboxFactory(team=restricted_team), customer=CustomerFactory(), subject="x")
    for user in (supervisor, other_agent):
        assert set(tickets_visible_to(user)) == {ticket, billing_ticket}


def test_assigning_to_a_team_member_works_and_to_an_outsider_is_a_400(ticket, agent, supervisor, restricted_agent):
    client = api_as(supervisor)
    url = f"/api/v1/tickets/{ticket.pk}/assign/"

    refused = client.post(url, {"assignee": restricted_agent.pk}, format="json")
    assert refused.status_code == 400
    assert "assignee" in refused.json()

    assert client.post(url, {"assignee": agent.pk}, format="json").status_code == 200
    assign_ticket(ticket=ticket, assignee=None, actor=supervisor)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_a_restricted_agent_who_hands_a_ticket_to_another_team_gets_the_result_then_loses_it(
    restricted_agent, restricted_team, team
):
    billing_ticket = open_ticket(inbox=InboxFactory(team=restricted_team), customer=CustomerFactory(), subject="x")
    client = api_as(restricted_agent)

    response = client.post(f"/api/v1/tickets/{billing_ticket.pk}/assign/", {"team": team.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["team"]["id"] == team.pk
    assert client.get(f"/api/v1/tickets/{billing_ticket.pk}/").status_code == 404
