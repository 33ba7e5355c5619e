"""Phone calls (agents' API and the telephony webhook) and the API channel."""

import hashlib
import hmac
import json

import pytest
from django.test import Client

from channels_app.models import PhoneLine
from customers.models import Identity
from customers.services import add_identity
from helpdesk.models import Inbox, Message, Ticket
from tests.helpers import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_inbox(team):
    return Inbox.objects.create(name="Phone", kind="phone", team=team)


@pytest.fixture
def line(phone_inbox):
    return PhoneLine.objects.create(inbox=phone_inbox, number="+81312345678")


def _signed_post(line, payload, *, secret=None):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new((secret or line.signing_secret).encode(), body, hashlib.sha256).hexdigest()
    return Client().post(f"/webhooks/phone/{line.webhook_key}/", body, content_type="application/json",
                         HTTP_X_HELPDESK_SIGNATURE=signature)  # fmt: skip


CALL = {"call_id": "c-1", "direction": "inbound", "from": "090-1234-5678", "to": "+81312345678",
        "status": "completed", "duration_seconds": 200, "recording_url": "https://rec.example/c-1.mp3"}  # fmt: skip


def test_a_call_from_a_known_number_lands_on_that_customers_open_ticket(line, customer, inbox):
    add_identity(customer=customer, kind="phone", value="+819012345678")
    from helpdesk.services.tickets import open_ticket, receive_customer_message

    ticket = open_ticket(inbox=inbox, customer=customer, subject="Order")
    receive_customer_message(ticket=ticket, body_text="Where is my order?")

    assert _signed_post(line, CALL).status_code == 200
    assert _signed_post(line, CALL).status_code == 200  # the provider retried

    call = Message.objects.get(channel="phone")
    assert call.ticket == ticket
    assert call.body_text == "Incoming call from +819012345678, 3 min 20 s\nRecording: https://rec.example/c-1.mp3"
    assert Ticket.objects.count() == 1


def test_a_call_from_a_new_number_opens_a_ticket_for_a_new_customer(line):
    _signed_post(line, {**CALL, "call_id": "c-2", "status": "missed", "duration_seconds": 0, "recording_url": ""})
    ticket = Ticket.objects.get()
    assert ticket.channel == "phone"
    assert Identity.objects.get(kind="phone").value == "+819012345678"
    assert ticket.messages.get().body_text == "Missed call from +819012345678"


@pytest.mark.parametrize(
    ("payload", "secret", "status"),
    [
        (CALL, "wrong-secret", 401),
        ({**CALL, "direction": "sideways"}, None, 400),
        ({**CALL, "from": "not a number"}, None, 400),
        ({**CALL, "recording_url": "http://10.0.0.1/internal"}, None, 400),
        ({**CALL, "duration_seconds": -5}, None, 400),
        ([1, 2, 3], None, 400),
    ],
)
def test_bad_telephony_webhooks_are_refused_and_write_nothing(line, payload, secret, status):
    assert _signed_post(line, payload, secret=secret).status_code == status
    assert not Ticket.objects.exists()


def test_an_agent_logs_an_outgoing_call_with_notes(agent, customer, inbox, phone_inbox):
    add_identity(customer=customer, kind="phone", value="03-9876-5432")
    response = api_as(agent).post(
        "/api/v1/calls/",
        {"inbox": phone_inbox.pk, "call_id": "out-1", "direction": "outbound", "number": "03-9876-5432",
         "duration_seconds": 65, "notes": "Customer will send the receipt."},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["author_type"] == "agent"
    ticket = Ticket.objects.get()
    assert ticket.customer == customer
    assert list(ticket.messages.values_list("kind", "channel")) == [
        ("message", "phone"), ("event", "phone"), ("note", "phone"),
    ]  # fmt: skip


def test_any_system_posts_customer_messages_through_the_api_once(agent, inbox):
    client = api_as(agent)
    payload = {"inbox": inbox.pk, "identity_kind": "external", "identity_value": "shop:C-1001", "name": "Ken",
               "subject": "Order 1001", "body_text": "Cancel my order please", "external_id": "shop-msg-1"}  # fmt: skip
    first = client.post("/api/v1/inbound-messages/", payload, format="json")
    again = client.post("/api/v1/inbound-messages/", payload, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ticket"] == again.json()["ticket"]
    assert again.json()["outcome"] == "duplicate"
    assert Message.objects.get(kind="message").channel == "api"
    assert (
        client.post("/api/v1/inbound-messages/", {**payload, "identity_value": "no colon"}, format="json").status_code
        == 400
    )
    assert api_as_customer_refused(payload)


def api_as_customer_refused(payload) -> bool:
    from tests.factories import CustomerFactory, UserFactory

    user = UserFactory(username="portal-user")
    CustomerFactory(user=user)
    return api_as(user).post("/api/v1/inbound-messages/", payload, format="json").status_code == 403
