"""The single conversation history: one creator, sequence numbers, idempotency, sanitizing, events."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from helpdesk.events import MessageCreated, subscribe, unsubscribe
from helpdesk.models import AuthorType, Direction, Message, MessageKind
from helpdesk.services.messages import MessageDraft, NewAttachment, post_message, post_messages
from helpdesk.services.tickets import add_internal_note, open_ticket, receive_customer_message, reply
from tests.factories import InboxFactory
from tests.helpers import run_concurrently

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ["helpdesk", "customers", "channels_app", "knowledge_base", "surveys"]
THE_CREATOR = ROOT / "helpdesk" / "services" / "messages.py"


def _creates_messages(path: Path) -> list[int]:
    """Lines of `path` that create Message rows by any ORM route."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id == "Message":
            lines.append(node.lineno)
        if isinstance(function, ast.Attribute) and function.attr in {"create", "bulk_create", "get_or_create"}:
            owner = function.value
            if isinstance(owner, ast.Attribute) and owner.attr == "objects":
                owner = owner.value
            if isinstance(owner, ast.Name) and owner.id == "Message":
                lines.append(node.lineno)
            if isinstance(owner, ast.Attribute) and owner.attr == "messages":  # ticket.messages.create(...)
                lines.append(node.lineno)
    return lines


def test_exactly_one_function_creates_message_rows():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for package in APP_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path != THE_CREATOR and (lines := _creates_messages(path))
    }
    assert offenders == {}
    assert _creates_messages(THE_CREATOR), "post_message must be where messages are created"


@pytest.fixture
def ticket(inbox, customer):
    return open_ticket(inbox=inbox, customer=customer, subject="Order A-1029 has not arrived")


@pytest.mark.django_db
def test_every_kind_of_item_lands_on_one_timeline_in_order(ticket, agent):
    receive_customer_message(ticket=ticket, body_text="注文した商品が届きません", channel="chat")
    post_message(ticket=ticket, author_type=AuthorType.BOT, body_text="配送状況はこちら")
    reply(ticket=ticket, agent=agent, body_text="確認します", channel="chat")
    add_internal_note(ticket=ticket, agent=agent, body_text="Carrier delay")
    receive_customer_message(ticket=ticket, body_text="Following up by email", channel="email")

    timeline = list(ticket.messages.order_by("seq").values_list("seq", "kind", "direction", "author_type", "channel"))
    assert timeline == [
        (1, "message", "inbound", "customer", "chat"),
        (2, "message", "outbound", "bot", "chat"),  # answers go back by the customer's latest channel
        (3, "message", "outbound", "agent", "chat"),
        (4, "event", "internal", "system", "email"),  # status new -> open by the reply
        (5, "note", "internal", "agent", "email"),
        (6, "message", "inbound", "customer", "email"),
    ]
    ticket.refresh_from_db()
    assert ticket.last_message_seq == 6
    assert ticket.first_response_at is not None


@pytest.mark.django_db
def test_posting_the_same_external_id_twice_yields_one_message(ticket):
    first = post_message(
        ticket=ticket, author_type="customer", author_customer=ticket.customer, body_text="hi", external_id="line:evt-1"
    )
    second = post_message(
        ticket=ticket, author_type="customer", author_customer=ticket.customer, body_text="hi", external_id="line:evt-1"
    )

    assert first.created and not second.created
    assert second.message.pk == first.message.pk
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_a_batch_redelivering_one_stored_item_stores_the_others_without_a_gap_in_the_sequence(ticket):
    def draft(external_id):
        return MessageDraft(
            ticket=ticket, author_type="customer", author_customer=ticket.customer, body_text=external_id,
            external_id=external_id,
        )  # fmt: skip

    (stored,) = post_messages([draft("line:evt-2")])
    new, redelivered, newer = post_messages([draft("line:evt-3"), draft("line:evt-2"), draft("line:evt-4")])

    assert (new.created, redelivered.created, newer.created) == (True, False, True)
    assert redelivered.message.pk == stored.message.pk
    assert [m.body_text for m in ticket.messages.order_by("seq")] == ["line:evt-2", "line:evt-3", "line:evt-4"]
    assert [m.seq for m in ticket.messages.order_by("seq")] == [1, 2, 3]
    ticket.refresh_from_db()
    assert ticket.last_message_seq == 3


@pytest.mark.django_db
def test_external_ids_are_unique_per_inbox_not_globally(ticket, customer):
    other_inbox_ticket = open_ticket(inbox=InboxFactory(), customer=customer, subject="Elsewhere")
    for target in (ticket, other_inbox_ticket):
        assert post_message(
            ticket=target, author_type="customer", author_customer=customer, body_text="hi", external_id="42"
        ).created


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_ticket", [True, False], ids=["same-ticket", "two-tickets"])
def test_two_concurrent_posts_of_one_external_id_store_one_message(inbox, customer, same_ticket):
    tickets = [open_ticket(inbox=inbox, customer=customer, subject="Concurrent") for _ in range(2)]
    if same_ticket:
        tickets[1] = tickets[0]

    def post(target):
        return lambda: post_message(
            ticket=target, author_type="customer", author_customer=customer, body_text="once", external_id="evt-7"
        )

    results = run_concurrently([post(tickets[0]), post(tickets[1])])

    assert sorted(result.created for result in results) == [False, True]
    assert len({result.message.pk for result in results}) == 1
    assert Message.objects.filter(external_id="evt-7").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_on_one_ticket_get_distinct_consecutive_sequence_numbers(inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Busy chat")

    def post(n):
        return lambda: post_message(
            ticket=ticket, author_type="customer", author_customer=customer, body_text=f"message {n}"
        )

    run_concurrently([post(n) for n in range(4)])

    assert sorted(ticket.messages.values_list("seq", flat=True)) == [1, 2, 3, 4]


@pytest.mark.django_db
def test_html_bodies_are_sanitized_and_get_a_text_version(ticket):
    message = post_message(
        ticket=ticket,
        author_type="customer",
        author_customer=ticket.customer,
        body_html='<p onclick="steal()">Hello <b>there</b></p><script>alert(1)</script><a href="javascript:x">link</a>'
        '<img src="https://evil.example/pixel.gif" onerror="x()">',
    ).message

    assert "script" not in message.body_html
    assert "onclick" not in message.body_html and "onerror" not in message.body_html
    assert "javascript:" not in message.body_html
    assert "<b>there</b>" in message.body_html
    assert message.body_text.startswith("Hello there")


@pytest.mark.django_db
def test_nul_characters_never_reach_the_database(ticket):
    message = post_message(
        ticket=ticket, author_type="customer", author_customer=ticket.customer, body_text="a\x00b", external_id="x\x00y"
    ).message
    assert message.body_text == "ab"
    assert message.external_id == "xy"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad",
    [
        {"author_type": "customer", "body_text": "no customer given"},
        {"author_type": "agent", "body_text": "no agent given"},
        {"author_type": "bot", "body_text": "   "},
        {"author_type": "bot", "kind": MessageKind.NOTE, "body_text": "public note", "is_public": True},
        {"author_type": "bot", "body_text": "x" * 200_001},
    ],
)
def test_invalid_messages_are_refused_and_nothing_is_written(ticket, bad):
    with pytest.raises(ValidationError):
        post_message(ticket=ticket, **bad)
    ticket.refresh_from_db()
    assert ticket.last_message_seq == 0
    assert not ticket.messages.exists()


@pytest.mark.django_db
def test_attachments_are_stored_with_their_message(ticket, settings):
    settings.HELPDESK_MAX_ATTACHMENT_BYTES = 10
    message = post_message(
        ticket=ticket,
        author_type="customer",
        author_customer=ticket.customer,
        attachments=[NewAttachment(filename="../../請求書.txt", content=b"invoice", content_type="text/plain")],
    ).message
    attachment = message.attachments.get()
    assert attachment.filename == ".._.._請求書.txt"
    assert attachment.file.read() == b"invoice"
    assert message.direction == Direction.INBOUND

    with pytest.raises(ValidationError):
        post_message(
            ticket=ticket,
            author_type="customer",
            author_customer=ticket.customer,
            attachments=[NewAttachment(filename="big.bin", content=b"x" * 11)],
        )


@pytest.mark.django_db
def test_message_created_is_published_only_after_commit(ticket, django_capture_on_commit_callbacks):
    received = []
    subscribe(MessageCreated, received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            posted = post_message(
                ticket=ticket, author_type="customer", author_customer=ticket.customer, body_text="hello"
            )
            assert received == []  # not yet: the transaction is still open
        assert len(callbacks) >= 1
    finally:
        unsubscribe(MessageCreated, received.append)
    assert [event.message_id for event in received] == [posted.message.pk]
    payload = received[0].payload()
    assert payload["type"] == "message_created"
    assert payload["seq"] == 1 and payload["ticket_id"] == ticket.pk


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_message_publishes_nothing(inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Rollback")
    received = []

    @transaction.atomic
    def post_then_fail():
        post_message(ticket=ticket, author_type="customer", author_customer=customer, body_text="lost")
        raise RuntimeError("the surrounding work failed")

    subscribe(MessageCreated, received.append)
    try:
        with pytest.raises(RuntimeError):
            post_then_fail()
        post_message(ticket=ticket, author_type="customer", author_customer=customer, body_text="kept")
    finally:
        unsubscribe(MessageCreated, received.append)
    assert [event.seq for event in received] == [1]
    assert list(ticket.messages.values_list("body_text", flat=True)) == ["kept"]


@pytest.mark.django_db
def test_importing_history_skips_live_only_listeners_but_not_the_others(ticket, django_capture_on_commit_callbacks):
    from helpdesk.events import importing_history

    sent, shown = [], []
    subscribe(MessageCreated, sent.append, live_only=True)
    subscribe(MessageCreated, shown.append)
    try:
        with django_capture_on_commit_callbacks(execute=True), importing_history():
            post_message(ticket=ticket, author_type="bot", body_text="from the old system")
        with django_capture_on_commit_callbacks(execute=True):
            post_message(ticket=ticket, author_type="bot", body_text="live")
    finally:
        unsubscribe(MessageCreated, sent.append)
        unsubscribe(MessageCreated, shown.append)
    assert [event.seq for event in sent] == [2]
    assert [event.seq for event in shown] == [1, 2]
