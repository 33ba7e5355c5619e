"""The public support form, used as a customer would, and abused as an attacker would."""

import pytest
from django.core import mail as outbox
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from channels_app.models import WebForm
from customers.models import Identity
from helpdesk.models import Inbox, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def web_form(db):
    inbox = Inbox.objects.create(name="Web form", kind="web_form")
    return WebForm.objects.create(inbox=inbox, embed_origins="https://www.example.com\nhttp://insecure.example")


def _form(client, **overrides):
    page = client.get("/support/new")
    submission = page.context["form"]["submission"].value()
    data = {
        "name": "Hanako Tanaka",
        "email": "Hanako@Example.jp",
        "subject": "ログインできません",
        "message": "パスワードを再設定しても、ログインできません。",
        "submission": submission,
        **overrides,
    }
    return client.post("/support/new", data)


def test_a_request_opens_a_ticket_and_the_confirmation_does_not_repeat_the_text(web_form):
    client = Client()
    page = client.get("/support/new")
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == "frame-ancestors 'self' https://www.example.com"
    assert "X-Frame-Options" not in page

    response = _form(client)

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert f"#{ticket.pk}" in response.content.decode()
    assert (ticket.channel, ticket.subject, ticket.customer.name) == ("web_form", "ログインできません", "Hanako Tanaka")
    assert Identity.objects.get().value == "hanako@example.jp"
    [confirmation] = outbox.outbox
    assert confirmation.to == ["hanako@example.jp"]
    assert f"#{ticket.pk}" in confirmation.body and f"[#{ticket.pk}]" in confirmation.subject
    assert (
        "パスワード" not in confirmation.body and "ログインできません" not in confirmation.subject + confirmation.body
    )


def test_submitting_the_same_form_twice_stores_one_request(web_form):
    client = Client()
    page = client.get("/support/new")
    data = {
        "name": "A",
        "email": "a@example.com",
        "subject": "S",
        "message": "M",
        "submission": page.context["form"]["submission"].value(),
    }
    client.post("/support/new", data)
    client.post("/support/new", data)
    assert Ticket.objects.count() == 1
    assert len(outbox.outbox) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: victim@example.com"),
        ("name", "Eve\nCc: x@example.com"),
        ("email", "a@example.com\nBcc: b@example.com"),
    ],
)
def test_header_injection_is_rejected(web_form, field, value):
    response = _form(Client(), **{field: value})
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    assert outbox.outbox == []


def test_robots_filling_the_hidden_field_are_thanked_and_ignored(web_form):
    assert _form(Client(), website="https://spam.example").status_code == 200
    assert not Ticket.objects.exists()


def test_requests_are_rate_limited_per_address_and_per_ip(web_form):
    client = Client()
    statuses = [_form(client, subject=f"Try {n}").status_code for n in range(7)]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429, 429]
    other_ip = Client(REMOTE_ADDR="203.0.113.9")
    assert _form(other_ip, email="someone@example.org").status_code == 200
    assert len(outbox.outbox) <= 6


def test_attachments_are_kept_and_too_many_or_too_big_are_refused(web_form, settings):
    client = Client()
    base = {"name": "A", "email": "a@example.com", "subject": "Files", "message": "See attached"}
    settings.HELPDESK_MAX_ATTACHMENT_BYTES = 100

    def post(upload):
        submission = client.get("/support/new").context["form"]["submission"].value()
        return client.post("/support/new", {**base, "submission": submission, "attachments": [upload]})

    big = post(SimpleUploadedFile("big.bin", b"x" * 101))
    assert big.status_code == 400
    ok = post(SimpleUploadedFile("screenshot.png", b"\x89PNG", "image/png"))
    assert ok.status_code == 200
    assert Ticket.objects.get().messages.get(author_type="customer").attachments.get().filename == "screenshot.png"


def test_an_unknown_form_is_404(db):
    assert Client().get("/support/new").status_code == 404
    assert Client().get("/support/nope/new").status_code == 404
