"""The chat's rules behind the sockets: answers to a visitor who left go by email, the transcript, files from
the widget, a customer coming back, transfers, the queue's positions and honest waits."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone

from channels_app.chat import identity, queue, services
from channels_app.chat.serializers import state_frame
from channels_app.chat.services import ChatError
from channels_app.models import ChatIntent, ChatSession, ChatState, ChatWidget
from helpdesk.models import Inbox, Message, Presence, TicketSla
from tests.factories import AgentFactory, BusinessHoursFactory, SlaPolicyFactory, TeamFactory

SITE = "https://shop.example.com"


@pytest.fixture
def widget(db):
    team = TeamFactory(name="Chat team")
    inbox = Inbox.objects.create(name="Website chat", kind="chat", team=team)
    return ChatWidget.objects.create(inbox=inbox, allowed_origins=SITE)


def online(team, username, **fields):
    fields = {"presence": Presence.ONLINE, "last_seen_at": timezone.now(), "display_name": username.title(), **fields}
    return AgentFactory(user__username=username, teams=[team], **fields).user


def start_chat(widget, text="Where is my parcel?", *, email=""):
    visitor = identity.new_visitor_token()
    customer = identity.visitor_customer(widget, visitor)
    if email:
        identity.remember_contact(customer, email=email)
    turn = services.customer_message(widget=widget, customer_id=customer.pk, visitor=visitor, text=text, client_id="c1")
    return turn.session, visitor


def with_agent(widget, agent, **start):
    session, visitor = start_chat(widget, **start)
    services.ask_for_person(ticket_id=session.pk)
    services.accept(ticket_id=session.pk, agent=agent)
    return ChatSession.objects.get(pk=session.pk), visitor


def test_an_answer_to_a_visitor_who_left_goes_by_email_and_stays_in_the_chat(
    widget, django_capture_on_commit_callbacks
):
    agent = online(widget.inbox.team, "aiko")
    session, _ = with_agent(widget, agent, email="taro@example.jp")

    with django_capture_on_commit_callbacks(execute=True):
        answer = services.agent_message(ticket_id=session.pk, agent=agent, text="Shipped today.", client_id="a1")

    assert answer.channel == "email"
    [sent] = mail.outbox
    assert sent.to == ["taro@example.jp"]
    assert "Shipped today." in sent.body


def test_a_visitor_on_the_page_gets_the_answer_in_the_chat_only(widget):
    agent = online(widget.inbox.team, "aiko")
    session, _ = with_agent(widget, agent, email="taro@example.jp")
    services.visitor_seen(session.pk)

    answer = services.agent_message(ticket_id=session.pk, agent=agent, text="Shipped today.", client_id="a1")

    assert (answer.channel, mail.outbox) == ("chat", [])


def test_only_the_chats_agent_answers_and_a_resent_answer_is_stored_once(widget):
    agent, other = online(widget.inbox.team, "aiko"), online(widget.inbox.team, "ken")
    session, _ = with_agent(widget, agent)
    with pytest.raises(ChatError) as refused:
        services.agent_message(ticket_id=session.pk, agent=other, text="Me too", client_id="k1")
    assert refused.value.code == "not_yours"

    first = services.agent_message(ticket_id=session.pk, agent=agent, text="Hi", client_id="a1")
    again = services.agent_message(ticket_id=session.pk, agent=agent, text="Hi", client_id="a1")
    assert first.pk == again.pk


def test_the_transcript_goes_only_to_the_visitors_own_address_three_times_at_most(
    widget, django_capture_on_commit_callbacks
):
    session, _ = start_chat(widget, email="taro@example.jp")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_transcript(ticket_id=session.pk) == "taro@example.jp"
    [sent] = mail.outbox
    assert "Where is my parcel?" in sent.body
    with pytest.raises(ChatError):
        services.send_transcript(ticket_id=session.pk, email="someone@else.example")
    services.send_transcript(ticket_id=session.pk)
    services.send_transcript(ticket_id=session.pk)
    with pytest.raises(ChatError) as refused:
        services.send_transcript(ticket_id=session.pk)
    assert refused.value.code == "rate_limited"


def test_a_customer_coming_back_to_an_ended_chat_gets_their_agent_or_the_queue_or_the_bot_if_configured(widget):
    agent = online(widget.inbox.team, "aiko")
    session, visitor = with_agent(widget, agent)
    services.end(ticket_id=session.pk, actor=agent)
    customer = ChatSession.objects.get(pk=session.pk).ticket.customer

    services.customer_message(widget=widget, customer_id=customer.pk, visitor=visitor, text="One more", client_id="c2",
                              ticket_id=session.pk)  # fmt: skip
    session.refresh_from_db()
    assert (session.state, session.ticket.status, session.ticket.assignee) == (ChatState.AGENT, "open", agent)

    services.end(ticket_id=session.pk, actor=agent)
    AgentFactory._meta.model.objects.filter(user=agent).update(presence=Presence.OFFLINE)
    services.customer_message(widget=widget, customer_id=customer.pk, visitor=visitor, text="Hello?", client_id="c3",
                              ticket_id=session.pk)  # fmt: skip
    session.refresh_from_db()
    assert (session.state, session.ticket.assignee) == (ChatState.QUEUED, None)

    widget.bot_takes_returning_customers = True
    widget.save()
    services.end(ticket_id=session.pk, actor=agent)
    services.customer_message(widget=widget, customer_id=customer.pk, visitor=visitor, text="Hi again", client_id="c4",
                              ticket_id=session.pk)  # fmt: skip
    session.refresh_from_db()
    assert (session.state, session.ticket.status) == (ChatState.BOT, "bot")


def test_a_transfer_to_a_team_queues_the_chat_there_and_offers_it_to_that_teams_agent(widget):
    agent = online(widget.inbox.team, "aiko")
    billing = TeamFactory(name="Billing")
    ben = online(billing, "ben")
    session, _ = with_agent(widget, agent)

    services.transfer(ticket_id=session.pk, actor=agent, to_team=billing)

    session.refresh_from_db()
    assert (session.state, session.ticket.team, session.ticket.assignee, session.offered_to) == (
        ChatState.QUEUED, billing, None, ben,
    )  # fmt: skip
    services.accept(ticket_id=session.pk, agent=ben)
    with pytest.raises(ChatError) as refused:
        services.accept(ticket_id=session.pk, agent=agent)
    assert refused.value.code in ("taken", "not_found")


def test_offers_go_round_robin_to_free_online_agents_never_to_the_away_the_silent_or_the_full(widget):
    team = widget.inbox.team
    aiko = online(team, "aiko", chat_capacity=1)
    ben = online(team, "ben", chat_capacity=2)
    online(team, "cho", presence=Presence.AWAY)
    online(team, "dan", last_seen_at=timezone.now() - timedelta(minutes=10))  # no heartbeat for 10 minutes

    def hand_off():
        session, _ = start_chat(widget)
        services.ask_for_person(ticket_id=session.pk)
        return ChatSession.objects.get(pk=session.pk)

    chats = [hand_off() for _ in range(3)]
    assert [chat.offered_to for chat in chats] == [aiko, ben, aiko]

    services.accept(ticket_id=chats[0].pk, agent=aiko)
    with pytest.raises(ChatError) as full:
        services.accept(ticket_id=chats[2].pk, agent=aiko)  # one chat at a time for Aiko
    assert full.value.code == "full"
    assert hand_off().offered_to == ben  # Aiko is full now


def test_outside_support_hours_a_waiting_customer_is_told_and_given_no_wait(widget):
    always_closed = BusinessHoursFactory(periods=[])
    widget.inbox.business_hours = always_closed
    widget.inbox.save()
    online(widget.inbox.team, "aiko")
    session, _ = start_chat(widget)
    services.ask_for_person(ticket_id=session.pk)

    told = state_frame(ChatSession.objects.get(pk=session.pk))

    assert told["notice"].startswith("We are outside our support hours.")
    assert (told["position"], told["expected_wait_seconds"]) == (1, None)


def test_an_intent_an_admin_added_answers_in_the_customers_language(widget):
    ChatIntent.objects.create(
        name="returns", keywords="return label, 返品", answer_en="Print your label at example.com/returns.",
        answer_ja="返品ラベルは example.com/returns で印刷できます。",
    )  # fmt: skip
    english, _ = start_chat(widget, text="Hi")
    japanese, _ = start_chat(widget, text="こんにちは")

    services.bot_turn(ticket_id=english.pk, text="Where do I get a return label?")
    services.bot_turn(ticket_id=japanese.pk, text="返品したいです")

    answers = [
        Message.objects.filter(ticket_id=chat.pk, author_type="bot").latest("seq") for chat in (english, japanese)
    ]
    assert [answer.body_text for answer in answers] == [
        "Print your label at example.com/returns.",
        "返品ラベルは example.com/returns で印刷できます。",
    ]
    assert answers[0].data["intent"] == "returns"


def test_queue_positions_and_an_honest_wait_from_recent_chats(widget):
    busy = online(widget.inbox.team, "aiko", chat_capacity=0)  # online, but can take no chat now
    first, _ = start_chat(widget)
    second, _ = start_chat(widget)
    for session in (first, second):
        services.ask_for_person(ticket_id=session.pk)
    first, second = ChatSession.objects.get(pk=first.pk), ChatSession.objects.get(pk=second.pk)
    assert (queue.position(first), queue.position(second)) == (1, 2)
    assert state_frame(second)["expected_wait_seconds"] is None  # no history yet: no promise

    now = timezone.now()
    for minutes in (2, 4, 6):
        done, _ = start_chat(widget)
        ChatSession.objects.filter(pk=done.pk).update(
            state=ChatState.ENDED,
            queued_at=now - timedelta(minutes=30),
            accepted_at=now - timedelta(minutes=30 - minutes),
        )
    # The median wait 4 minutes, two chats ahead, nobody free.
    assert state_frame(second)["expected_wait_seconds"] == (timedelta(minutes=4) * 2).total_seconds()

    # The bot tells the next customer the wait at the third place, in their language.
    third, _ = start_chat(widget, text="こんにちは")
    services.bot_turn(ticket_id=third.pk, text="オペレーターと話したい")
    handing_off = Message.objects.filter(ticket_id=third.pk, author_type="bot").latest("seq")
    assert "約12分" in handing_off.body_text

    # Nobody there at all: no promise.
    busy.agent_profile.presence = Presence.OFFLINE
    busy.agent_profile.save()
    assert state_frame(second)["expected_wait_seconds"] is None


def test_files_from_the_widget_are_stored_for_the_visitor_and_served_only_to_them(widget, settings):
    session, visitor = start_chat(widget)
    client = Client(HTTP_ORIGIN=SITE)
    url = f"/chat/{widget.public_key}/upload/"
    picture = SimpleUploadedFile("parcel.png", b"\x89PNG fake", content_type="image/png")

    response = client.post(url, {"visitor": visitor, "client_id": "f1", "file": picture})

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == SITE
    message = Message.objects.get(ticket=session.ticket, attachments__isnull=False)
    from channels_app.chat.serializers import attachment_url

    own_link = attachment_url(message.attachments.get().pk, visitor)
    assert b"".join(Client().get(own_link).streaming_content) == b"\x89PNG fake"
    assert Client().get(attachment_url(message.attachments.get().pk, "someone-else-token-xyz")).status_code == 404

    script = SimpleUploadedFile("x.html", b"<script>", content_type="text/html")
    assert client.post(url, {"visitor": visitor, "client_id": "f2", "file": script}).status_code == 415
    assert Client(HTTP_ORIGIN="https://evil.example").post(url, {"visitor": visitor}).status_code == 403
    other = identity.new_visitor_token()
    assert client.post(url, {"visitor": other, "client_id": "f3", "file": picture}).status_code == 404


def test_a_chat_routed_as_urgent_goes_to_a_person_at_once_by_rule(widget):
    from helpdesk.models import RoutingRule

    RoutingRule.objects.create(name="Outages", keywords="outage, 障害", set_priority="urgent")
    session, _ = start_chat(widget, text="Is there an outage? Nothing works")

    services.bot_turn(ticket_id=session.pk, text="Is there an outage? Nothing works")

    session.refresh_from_db()
    assert session.state == ChatState.QUEUED
    assert session.ticket.messages.get(event="handed_off").data["reason"] == "rule"


def test_lines_of_many_chats_go_in_one_batch_and_the_rest_is_left_to_the_single_path(
    widget, django_assert_max_num_queries
):
    aiko, ben = online(widget.inbox.team, "aiko"), online(widget.inbox.team, "ben")
    first, first_visitor = with_agent(widget, aiko)
    second, second_visitor = with_agent(widget, ben)
    with_bot, bot_visitor = start_chat(widget)
    services.visitor_seen(first.pk)
    line = services.ChatLine

    lines = [
        line(ticket_id=first.pk, text="Still waiting", client_id="c2", widget=widget, visitor=first_visitor),
        line(ticket_id=second.pk, text="Hello?", client_id="c2", widget=widget, visitor=second_visitor),
        line(ticket_id=first.pk, text="Checking now.", client_id="a1", agent=aiko),
        line(ticket_id=second.pk, text="Not my chat", client_id="a1", agent=aiko),  # Ben's
        line(ticket_id=with_bot.pk, text="Hi", client_id="c2", widget=widget, visitor=bot_visitor),  # the bot's
        line(ticket_id=first.pk, text="Still waiting", client_id="c2", widget=widget, visitor=first_visitor),
    ]
    with django_assert_max_num_queries(14):
        posted = services.post_lines(lines)

    assert [p is not None and p.created for p in posted] == [True, True, True, False, False, False]
    assert (posted[3], posted[4]) == (None, None)  # left to agent_message and customer_message
    assert posted[5].message == posted[0].message  # the same client id again: stored once
    assert posted[2].message.seq == posted[0].message.seq + 1  # in the order typed
    assert posted[2].message.channel == "chat"  # the visitor is on the page
    stored = Message.objects.filter(ticket_id=first.pk, kind="message").order_by("seq")
    assert [(m.author_type, m.body_text) for m in stored][-2:] == [
        ("customer", "Still waiting"),
        ("agent", "Checking now."),
    ]


def test_a_batch_reads_its_chats_as_the_orm_does(widget, django_assert_num_queries):
    """The batch's hand-written read (dates and JSON converted by the database's own rules) gives the
    chats, tickets, customers and SLA clocks the ORM gives, and a ticket without a clock is known to have none."""
    SlaPolicyFactory(name="Chat", targets={"normal": (10, 5, 60)})
    aiko = online(widget.inbox.team, "aiko")
    with_clock, _ = with_agent(widget, aiko)
    ChatSession.objects.filter(pk=with_clock.pk).update(declined_by=[aiko.pk], bot_state={"failures": 1, "名": "値"})
    without_clock, _ = start_chat(widget)
    TicketSla.objects.filter(ticket_id=without_clock.pk).delete()

    with transaction.atomic():
        read = services._lock_chats([with_clock.pk, without_clock.pk])
    orm = ChatSession.objects.select_related("ticket__customer", "ticket__sla").in_bulk([with_clock.pk])

    def values(obj):
        return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}

    chat, expected = read[with_clock.pk], orm[with_clock.pk]
    assert values(chat) == values(expected) and chat.bot_state == {"failures": 1, "名": "値"}
    assert values(chat.ticket) == values(expected.ticket)
    assert values(chat.ticket.customer) == values(expected.ticket.customer)
    assert values(chat.ticket.sla) == values(expected.ticket.sla)
    with django_assert_num_queries(0):
        assert not hasattr(read[without_clock.pk].ticket, "sla")


def test_a_batch_moves_the_chats_sla_clock_as_single_messages_do(widget):
    SlaPolicyFactory(name="Chat", targets={"normal": (10, 5, 60)})
    aiko = online(widget.inbox.team, "aiko")
    session, visitor = with_agent(widget, aiko)
    from_visitor = {"ticket_id": session.pk, "widget": widget, "visitor": visitor}

    def clock():
        return TicketSla.objects.get(ticket_id=session.pk)

    assert clock().first_response_due_at is not None
    services.post_lines([services.ChatLine(ticket_id=session.pk, text="Hello!", client_id="a1", agent=aiko)])
    answered = clock()
    assert answered.first_response_met_at is not None and answered.next_response_due_at is None

    services.post_lines([services.ChatLine(text="The parcel?", client_id="c2", **from_visitor)])
    assert clock().next_response_due_at is not None
    services.post_lines([services.ChatLine(ticket_id=session.pk, text="It left today.", client_id="a2", agent=aiko)])
    assert clock().next_response_due_at is None
    assert clock().first_response_met_at == answered.first_response_met_at


@pytest.mark.django_db(transaction=True)
def test_a_chat_another_transaction_holds_is_left_for_the_next_batch(widget):
    from django.db import connection

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite writes one transaction at a time: nothing to skip")
    import threading

    from helpdesk.models import Ticket

    session, visitor = with_agent(widget, online(widget.inbox.team, "aiko"))
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Ticket.objects.select_for_update().get(pk=session.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        line = services.ChatLine(ticket_id=session.pk, text="Hi", client_id="c2", widget=widget, visitor=visitor)
        assert services.post_lines([line]) == [services.BUSY]
    finally:
        release.set()
        holder.join()
    assert services.post_lines([line])[0].created
