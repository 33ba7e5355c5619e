"""LINE end to end: signed webhooks into tickets, answers back through a fake of LINE's API."""

import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.chat import services as chat_services
from channels_app.chat.identity import new_visitor_token, visitor_customer
from channels_app.models import ChatWidget, Delivery, DeliveryStatus, LineAccount
from customers.models import Customer, Identity
from helpdesk.models import AuditEntry, Inbox, Message, Presence, Ticket
from helpdesk.services.tickets import reply
from tests.channels_app.line_fake import ACCESS_TOKEN, running_fake_line_api
from tests.channels_app.mail import mail
from tests.factories import AgentFactory
from tests.helpers import run_concurrently

FIXTURES = Path(__file__).parent / "fixtures" / "line"
SECRET = "line-channel-secret-for-tests"
USER = "U4af4980629a0b7e8d1e3b4f0c2a9d5e1"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"


def payload(name: str, *, event_id: str | None = None, fresh: bool = True, **message_changes) -> dict:
    body = copy.deepcopy(json.loads((FIXTURES / name).read_text()))
    for event in body["events"]:
        if fresh:
            event["timestamp"] = int(time.time() * 1000)
        if event_id:
            event["webhookEventId"] = event_id
        if message_changes:
            event["message"].update(message_changes)
    return body


@pytest.fixture
def line_api(settings):
    with running_fake_line_api(access_token=ACCESS_TOKEN) as fake:
        settings.LINE_API_BASE = settings.LINE_DATA_BASE = fake.url
        fake.add_profile(USER, "山田 太郎")
        yield fake


@pytest.fixture
def account(db, team):
    from helpdesk.models import Inbox

    inbox = Inbox.objects.create(name="LINE official account", kind="line", team=team)
    return LineAccount.objects.create(inbox=inbox, channel_secret=SECRET, channel_access_token=ACCESS_TOKEN)


def post(account, body, *, secret=SECRET, signature=None):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return Client().post(
        f"/webhooks/line/{account.webhook_key}/",
        raw,
        content_type="application/json",
        HTTP_X_LINE_SIGNATURE=digest if signature is None else signature,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signature", ["", "bm9wZQ==", "not base64 !"])
def test_a_wrong_signature_is_refused_with_no_side_effects(account, line_api, signature):
    response = post(account, payload("text_user.json"), signature=signature)
    assert response.status_code == 401
    assert not Customer.objects.exists() and not Ticket.objects.exists()
    assert line_api.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_body_signed_with_another_secret_is_refused(account, line_api):
    assert post(account, payload("text_user.json"), secret="someone else's").status_code == 401
    assert not Ticket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_unknown_webhooks_empty_checks_and_malformed_bodies(account, line_api):
    assert Client().post("/webhooks/line/nope/", b"{}", content_type="application/json").status_code == 404
    assert post(account, {"destination": "U" + "0" * 32, "events": []}).status_code == 200
    malformed = post(account, b"{not json")
    assert malformed.status_code == 400
    assert "Malformed" in malformed.json()["detail"]
    assert post(account, b"x" * (1024 * 1024 + 1)).status_code == 413
    assert Client().get(f"/webhooks/line/{account.webhook_key}/").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_text_message_opens_a_ticket_for_the_named_line_user_and_a_redelivery_changes_nothing(account, line_api):
    body = payload("text_user.json")

    assert post(account, body).status_code == 200
    assert post(account, body).status_code == 200

    ticket = Ticket.objects.get()
    assert (ticket.inbox, ticket.channel) == (account.inbox, "line")
    assert ticket.customer.name == "山田 太郎"
    assert Identity.objects.get(kind="line").value == USER
    [message] = ticket.messages.filter(kind="message")
    assert message.body_text == "注文した商品がまだ届きません。注文番号は 1234 です。"
    assert message.external_id == body["events"][0]["webhookEventId"]


@pytest.mark.django_db(transaction=True)
def test_the_same_event_twice_at_once_stores_one_message(account, line_api):
    body = payload("text_user.json")
    results = run_concurrently([lambda: post(account, body).status_code for _ in range(2)])
    assert results == [200, 200]
    assert Message.objects.filter(kind="message").count() == 1
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_answer_uses_the_fresh_reply_token_once_then_push(account, line_api, agent):
    post(account, payload("text_user.json"))
    ticket = Ticket.objects.get()

    reply(ticket=ticket, agent=agent, body_text="確認いたします。")
    reply(ticket=ticket, agent=agent, body_text="再配達を手配しました。")

    assert [r["messages"][0]["text"] for r in line_api.replies] == ["確認いたします。"]
    assert [(p["to"], p["messages"][0]["text"]) for p in line_api.pushes] == [(USER, "再配達を手配しました。")]
    push_request = line_api.requests_to("/v2/bot/message/push")[0]
    assert push_request.headers["x-line-retry-key"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db(transaction=True)
def test_a_chat_answer_to_a_visitor_who_left_reaches_them_on_line(account, line_api):
    post(account, payload("text_user.json"))  # the customer wrote to the LINE account once
    known_on_line = Ticket.objects.get().customer
    chat_inbox = Inbox.objects.create(name="Website chat", kind="chat", team=account.inbox.team)
    widget = ChatWidget.objects.create(inbox=chat_inbox, allowed_origins="https://shop.example.com")
    agent = AgentFactory(teams=[chat_inbox.team], presence=Presence.ONLINE, last_seen_at=timezone.now()).user
    # The shop's site knows them as its user u-42, and vouches for them in the widget.
    Identity.objects.create(customer=known_on_line, kind="external", value=f"site{widget.pk}:u-42", verified=True)
    visitor = new_visitor_token()
    vouched = {"id": "u-42", "hash": hmac.new(widget.identity_secret.encode(), b"u-42", hashlib.sha256).hexdigest()}
    customer = visitor_customer(widget, visitor, user=vouched)
    assert customer == known_on_line
    chat = chat_services.customer_message(
        widget=widget, customer_id=customer.pk, visitor=visitor, text="Shipped yet?", client_id="c1"
    ).session
    chat_services.ask_for_person(ticket_id=chat.pk)
    chat_services.accept(ticket_id=chat.pk, agent=agent)

    # The visitor has left the page.
    answer = chat_services.agent_message(ticket_id=chat.pk, agent=agent, text="Shipped today.", client_id="a1")

    assert answer.channel == "line"
    assert [(push["to"], push["messages"][0]["text"]) for push in line_api.pushes] == [(USER, "Shipped today.")]
    assert Delivery.objects.get(message=answer).status == DeliveryStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_a_stale_reply_token_is_never_used(account, line_api, agent):
    post(account, payload("text_user.json", fresh=False))
    reply(ticket=Ticket.objects.get(), agent=agent, body_text="Hello")
    assert line_api.replies == []
    assert len(line_api.pushes) == 1


@pytest.mark.django_db(transaction=True)
def test_a_push_that_fails_transiently_is_retried_without_duplicates(account, line_api, agent):
    from channels_app.tasks import deliver

    post(account, payload("text_user.json", fresh=False))
    line_api.fail_next(500, accept=True)  # LINE took it but the answer was lost
    reply(ticket=Ticket.objects.get(), agent=agent, body_text="Once only")
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING

    deliver(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert [p["messages"][0]["text"] for p in line_api.pushes] == ["Once only"]


@pytest.mark.django_db(transaction=True)
def test_images_are_downloaded_as_attachments(account, line_api):
    body = payload("image.json")
    message_id = body["events"][0]["message"]["id"]
    line_api.add_content(message_id, b"\x89PNG fake image", "image/png")

    post(account, body)

    attachment = Message.objects.get(kind="message").attachments.get()
    assert attachment.content_type == "image/png"
    assert attachment.file.read() == b"\x89PNG fake image"


@pytest.mark.django_db(transaction=True)
def test_a_group_chat_is_one_ticket_and_answers_go_to_the_group(account, line_api, agent):
    post(account, payload("group_text.json", fresh=False))
    post(account, payload("group_text.json", event_id="01FZ74A0TDDPYRVKNK77XKC3ZW", fresh=False, id="99", text="2nd"))

    ticket = Ticket.objects.get()
    assert ticket.messages.filter(kind="message").count() == 2
    reply(ticket=ticket, agent=agent, body_text="皆さんこんにちは")
    assert line_api.pushes[0]["to"] == GROUP


@pytest.mark.django_db(transaction=True)
def test_a_one_to_one_message_never_continues_the_group_chat_its_sender_started(account, line_api):
    group_body = payload("group_text.json")
    member = group_body["events"][0]["source"]["userId"]
    post(account, group_body)
    direct = payload("text_user.json")
    direct["events"][0]["source"]["userId"] = member
    post(account, direct)

    group_ticket, own_ticket = Ticket.objects.order_by("pk")
    assert group_ticket.customer == own_ticket.customer
    assert [m.body_text for m in own_ticket.messages.filter(kind="message")] == [
        "注文した商品がまだ届きません。注文番号は 1234 です。"
    ]
    assert group_ticket.messages.filter(kind="message").count() == 1


@pytest.mark.django_db(transaction=True)
def test_standby_events_are_stored_but_never_answered_by_reply_token(account, line_api, agent):
    post(account, payload("standby.json"))
    ticket = Ticket.objects.get()
    reply(ticket=ticket, agent=agent, body_text="Hi")
    assert line_api.replies == []


@pytest.mark.django_db(transaction=True)
def test_follow_and_unfollow_are_recorded_on_the_customer(account, line_api):
    post(account, payload("follow.json"))
    post(account, payload("unfollow.json"))
    actions = list(AuditEntry.objects.filter(action__startswith="line_").values_list("action", flat=True))
    assert sorted(actions) == ["line_follow", "line_unfollow"]
    assert not Ticket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_customer_who_wrote_on_line_continues_the_same_ticket_by_email(account, line_api, settings):
    from channels_app.email.inbound import ingest_raw
    from customers.services import add_identity

    post(account, payload("text_user.json"))
    ticket = Ticket.objects.get()
    add_identity(customer=ticket.customer, kind="email", value="taro@example.jp", verified=True)

    ingest_raw(mail(sender="taro@example.jp", subject="About my order", body="Any news?"))

    assert Ticket.objects.count() == 1
    assert list(ticket.messages.filter(kind="message").values_list("channel", flat=True)) == ["line", "email"]


@pytest.mark.django_db(transaction=True)
def test_an_answer_goes_back_by_the_channel_the_customer_last_used(account, line_api, agent, settings):
    from channels_app.email.inbound import ingest_raw
    from customers.services import add_identity

    post(account, payload("text_user.json", fresh=False))
    ticket = Ticket.objects.get()
    add_identity(customer=ticket.customer, kind="email", value="taro@example.jp", verified=True)
    ingest_raw(mail(sender="taro@example.jp", subject="Follow-up", body="By mail now"))

    answer = reply(ticket=ticket, agent=agent, body_text="Answered by email")
    line_answer = reply(ticket=ticket, agent=agent, body_text="And on LINE", channel="line")

    assert (answer.channel, line_answer.channel) == ("email", "line")
    assert Delivery.objects.get(message=answer).recipient == "taro@example.jp"
    assert Delivery.objects.get(message=line_answer).recipient == USER
