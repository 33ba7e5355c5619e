import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Tag
from helpdesk.models import AuditEntry, Ticket, TicketStatus
from helpdesk.services.tickets import change_status, open_ticket, receive_customer_message, update_ticket
from tests.factories import CustomerFactory, InboxFactory, TicketFactory, UserFactory
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _many_tickets(count, inbox, assignee=None):
    tags = [Tag.objects.get_or_create(name=f"tag{n}")[0] for n in range(3)]
    for n in range(count):
        ticket = TicketFactory(inbox=inbox, customer=CustomerFactory(), assignee=assignee if n % 2 else None)
        ticket.tags.add(*tags[: n % 3])


@pytest.mark.parametrize("role_fixture", ["agent", "supervisor", "restricted_agent"])
def test_the_ticket_list_costs_the_same_queries_whatever_the_page_size(
    request, role_fixture, inbox, restricted_team, django_assert_num_queries
):
    user = request.getfixturevalue(role_fixture)
    _many_tickets(30, inbox, assignee=user)
    _many_tickets(10, InboxFactory(team=restricted_team), assignee=None)
    client = api_as(user)
    client.get("/api/v1/tickets/?page_size=1")  # warm caches (content types, ...)

    with CaptureQueriesContext(connection) as small:
        assert len(_results(client.get("/api/v1/tickets/?page_size=2"))) == 2
    with django_assert_num_queries(len(small.captured_queries)):
        page = _results(client.get("/api/v1/tickets/?page_size=40"))
    assert len(page) == (40 if role_fixture != "restricted_agent" else 25)
    # role lookup, (team restriction), tickets with their relations, tags
    assert len(small.captured_queries) <= 4


def test_list_filters_combine(inbox, agent, supervisor):
    wanted = open_ticket(inbox=inbox, customer=CustomerFactory(), subject="Refund for order 7")
    update_ticket(ticket=wanted, priority="high", tags=["refund"])
    receive_customer_message(ticket=wanted, body_text="hi")
    change_status(ticket=wanted, status=TicketStatus.PENDING)
    other = open_ticket(inbox=InboxFactory(), customer=CustomerFactory(), subject="Shipping")
    client = api_as(supervisor)

    def ids(query):
        return [item["id"] for item in _results(client.get(f"/api/v1/tickets/?{query}"))]

    assert ids("status=pending&status=open") == [wanted.pk]
    assert ids("status=new") == [other.pk]
    assert ids(f"inbox={inbox.pk}&priority=high&tag=refund") == [wanted.pk]
    assert ids(f"customer={wanted.customer_id}") == [wanted.pk]
    assert ids("q=refund") == [wanted.pk]
    assert ids("unassigned=true") == [other.pk, wanted.pk]
    since = timezone.now().isoformat().replace("+00:00", "Z")
    assert ids(f"updated_since={since}") == []


@pytest.mark.parametrize(
    "query",
    [
        "status=reopened",
        "priority=extreme",
        "team=999999",
        "assignee=abc",
        "updated_since=yesterday",
        "colour=red",
        "unassigned=1",
        "status=",
        "customer=1&customer=2",
        "page_size=0",
        "cursor=made-up",
        "team=99999999999999999999",
        "updated_since=2026-01-01T00:00:00%2B22:00",
        "updated_since=0869-01-01T00:00:00Z",
        "q=a%00b",
    ],
)
def test_unknown_filter_values_and_parameters_are_rejected(agent, query):
    response = api_as(agent).get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 400
    assert set(response.json()) & {query.split("=")[0], "non_field_errors"}


def test_cursor_pages_walk_every_ticket_once(inbox, supervisor):
    _many_tickets(7, inbox)
    client = api_as(supervisor)
    seen, url = [], "/api/v1/tickets/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(Ticket.objects.values_list("pk", flat=True))


def test_an_agent_opens_a_ticket_replies_notes_and_solves_it(inbox, customer, agent):
    client = api_as(agent)

    created = client.post(
        "/api/v1/tickets/",
        {
            "inbox": inbox.pk,
            "customer": customer.pk,
            "subject": "Phone: invoice address",
            "body_text": "Called about the invoice",
            "from_customer": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    ticket_id = created.json()["id"]
    url = f"/api/v1/tickets/{ticket_id}"

    reply = client.post(f"{url}/messages/", {"body_text": "Changed it.", "status": "pending"}, format="json")
    assert reply.status_code == 201
    assert reply.json()["direction"] == "outbound"
    note = client.post(
        f"{url}/messages/", {"kind": "note", "body_html": "<p>Done in <b>billing</b></p>"}, format="json"
    )
    assert note.json()["is_public"] is False
    assert client.post(f"{url}/status/", {"status": "solved"}, format="json").json()["status"] == "solved"

    timeline = _results(client.get(f"{url}/messages/"))
    assert [item["seq"] for item in timeline] == list(range(1, len(timeline) + 1))
    assert [item["kind"] for item in timeline] == ["message", "message", "event", "note", "event"]
    assert [item["seq"] for item in _results(client.get(f"{url}/messages/?after_seq=3"))] == [4, 5]
    assert client.get(f"{url}/messages/?after_seq=²").status_code == 400
    ticket = client.get(f"{url}/").json()
    assert ticket["status"] == "solved" and ticket["first_response_at"] and ticket["solved_at"]


def test_posting_a_reply_twice_with_one_idempotency_key_stores_it_once(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Retry")
    other = open_ticket(inbox=inbox, customer=customer, subject="Other")
    client = api_as(agent)
    payload = {"body_text": "Sent once", "external_id": "client-retry-1"}

    first = client.post(f"/api/v1/tickets/{ticket.pk}/messages/", payload, format="json")
    replay = client.post(f"/api/v1/tickets/{ticket.pk}/messages/", payload, format="json")
    elsewhere = client.post(f"/api/v1/tickets/{other.pk}/messages/", payload, format="json")

    assert (first.status_code, replay.status_code, elsewhere.status_code) == (201, 200, 409)
    assert first.json()["id"] == replay.json()["id"]
    assert ticket.messages.filter(kind="message").count() == 1
    assert not other.messages.exists()


def test_idempotency_keys_of_the_api_never_collide_with_channel_ids(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Channel ids")
    receive_customer_message(ticket=ticket, body_text="from LINE", external_id="evt-1")
    response = api_as(agent).post(
        f"/api/v1/tickets/{ticket.pk}/messages/", {"body_text": "agent", "external_id": "evt-1"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["author_type"] == "agent"


def test_a_note_can_move_the_status_and_unknown_fields_are_refused(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Note and status")
    client = api_as(agent)
    url = f"/api/v1/tickets/{ticket.pk}"
    client.post(
        f"{url}/messages/", {"kind": "note", "body_text": "waiting on vendor", "status": "on_hold"}, format="json"
    )
    assert client.get(f"{url}/").json()["status"] == "on_hold"

    response = client.patch(f"{url}/", {"status": "solved", "priority": "low"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"status": ["Unknown field."]}
    assert client.get(f"{url}/").json()["priority"] == "normal"


def test_attachments_can_be_uploaded_with_a_reply(inbox, customer, agent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = open_ticket(inbox=inbox, customer=customer, subject="Files")
    response = api_as(agent).post(
        f"/api/v1/tickets/{ticket.pk}/messages/",
        {
            "body_text": "Here is the manual",
            "attachments": [SimpleUploadedFile("manual.txt", b"read me", "text/plain")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    [attachment] = response.json()["attachments"]
    assert attachment["filename"] == "manual.txt" and attachment["size"] == 7
    assert api_as(agent).get(attachment["url"]).status_code == 200


def test_illegal_transitions_are_a_409_and_change_nothing(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Closed for good")
    change_status(ticket=ticket, status=TicketStatus.SOLVED)
    change_status(ticket=ticket, status=TicketStatus.CLOSED)
    client = api_as(agent)

    response = client.post(f"/api/v1/tickets/{ticket.pk}/status/", {"status": "open"}, format="json")
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert client.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body_text": "hi"}, format="json").status_code == 409
    ticket.customer.user = UserFactory(username="closed-customer")
    ticket.customer.save()
    customer_reply = api_as(ticket.customer.user).post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body_text": "hi"})
    assert customer_reply.status_code == 409
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.messages.filter(kind="message").count() == 0


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/v1/tickets/", {"subject": "no inbox"}, "inbox"),
        ("{ticket}/status/", {"status": "done"}, "status"),
        ("{ticket}/messages/", {"body_text": ""}, "non_field_errors"),
        ("{ticket}/messages/", {"body_text": "x", "kind": "shout"}, "kind"),
        ("{ticket}/assign/", {"team": 999999}, "team"),
        ("{ticket}/assign/", {}, "non_field_errors"),
    ],
)
def test_invalid_input_is_a_400_with_field_errors(inbox, customer, agent, url, payload, field):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="x")
    url = url.replace("{ticket}", f"/api/v1/tickets/{ticket.pk}")
    response = api_as(agent).post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ticket.messages.count() == 0


def test_ticket_changes_are_in_the_audit_trail(inbox, customer, agent, supervisor):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Audit me", actor=supervisor)
    client = api_as(agent)
    client.patch(f"/api/v1/tickets/{ticket.pk}/", {"priority": "urgent", "tags": ["VIP", "refund"]}, format="json")
    client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"assignee": agent.pk}, format="json")

    entries = _results(client.get(f"/api/v1/tickets/{ticket.pk}/audit/"))

    assert [entry["action"] for entry in entries] == ["status_changed", "assigned", "updated", "created"]
    updated = entries[2]
    assert updated["changes"] == {"priority": ["normal", "urgent"], "tags": [[], ["refund", "vip"]]}
    assert updated["actor"]["id"] == agent.pk
    assert entries[3]["actor"]["id"] == supervisor.pk
    assert AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Ticket)).count() == 4


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    for path in ("/api/v1/tickets/{id}/messages/", "/api/v1/customers/{id}/merge/", "/api/v1/merges/{id}/undo/"):
        assert path in body
    assert client.get("/api/docs/").status_code == 200


def test_filtered_lists_never_ask_for_distinct(supervisor, inbox, team):
    """DISTINCT keeps PostgreSQL from walking the inbox indexes (docs/performance.md); no filter needs it."""
    open_ticket(inbox=inbox, customer=CustomerFactory(), subject="x")
    with CaptureQueriesContext(connection) as queries:
        api_as(supervisor).get(f"/api/v1/tickets/?status=new&status=open&team={team.pk}&inbox={inbox.pk}&tag=vip")
    assert not any("DISTINCT" in query["sql"].upper() for query in queries.captured_queries)
