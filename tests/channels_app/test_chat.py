"""Live chat through the real websocket router: the bot answers, hands off, an agent accepts and answers
live, a reconnecting widget resyncs, the agent ends the chat; refusals and malformed frames."""

import asyncio
import hashlib
import hmac
import threading

import pytest
from channels.db import database_sync_to_async as sync_to_async  # closes its connections
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from channels_app.chat import services
from channels_app.chat.realtime import CHAT_MESSAGE_TYPE, visitor_group
from channels_app.models import ChatSession
from customers.models import Customer, Identity
from helpdesk.asgi import application
from helpdesk.models import Message, Presence, Ticket
from tests.channels_app.conftest import SITE
from tests.factories import AgentFactory, CustomerFactory, IdentityFactory, TeamFactory


@pytest.fixture
def online_agent(support):
    profile = AgentFactory(
        user__username="aiko", display_name="Aiko", teams=[support.inbox.team], presence=Presence.ONLINE,
        last_seen_at=timezone.now(),
    )  # fmt: skip
    return profile.user


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def widget_socket(widget, origin=SITE):
    socket = WebsocketCommunicator(
        application, f"/ws/chat/{widget.public_key}/", headers=[(b"origin", origin.encode())]
    )
    connected, _ = await socket.connect()
    return socket, connected


async def agent_socket(user):
    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_cookie)(user)))
    socket = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, _ = await socket.connect()
    return socket, connected


async def until(socket, wanted, *, timeout=5.0, seen=None):
    """Frames until one matches `wanted` (a type, or a predicate); returns it (the others go to `seen`)."""
    match = wanted if callable(wanted) else (lambda frame: frame["type"] == wanted)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"no {wanted!r} frame; saw {seen}"
        frame = await socket.receive_json_from(timeout=left)
        if match(frame):
            return frame
        if seen is not None:
            seen.append(frame)


def message_from(author_type, text=None):
    def match(frame):
        if frame["type"] != "message":
            return False
        message = frame["message"]
        return message["author_type"] == author_type and (text is None or text in message["text"])

    return match


def _as_the_api_shows(message_id: int) -> dict:
    from helpdesk.api.serializers import MessageSerializer

    return MessageSerializer(Message.objects.get(pk=message_id)).data


async def hello(socket, **fields):
    await socket.send_json_to({"type": "hello", "visitor": None, "language": "en", "after_seq": 0, **fields})
    return await until(socket, "welcome")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_bot_answers_hands_off_agent_accepts_and_they_talk_live_then_the_widget_resyncs_and_the_chat_ends(
    support, online_agent
):
    customer, _ = await widget_socket(support)
    agent, connected = await agent_socket(online_agent)
    try:
        assert connected
        agent_hello = await until(agent, "hello")
        assert (agent_hello["agent"]["name"], agent_hello["queue"]) == ("Aiko", [])

        welcome = await hello(customer)
        visitor = welcome["visitor"]
        assert welcome["conversation"] is None
        assert welcome["widget"]["availability"] == "online"

        # The bot answers from its intents.
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "What are your support hours?"})
        own = await until(customer, message_from("customer"))
        assert (own["message"]["client_id"], own["message"]["seq"]) == ("c1", 1)
        answer = await until(customer, message_from("bot"))
        assert answer["message"]["author_name"] == "Assistant"

        # The customer asks for a person: the bot hands off, the agent is offered the chat.
        await customer.send_json_to({"type": "message", "client_id": "c2", "text": "I want to talk to a human"})
        queued = await until(customer, lambda f: f["type"] == "state" and f["state"] == "queued")
        assert queued["position"] == 1
        offer = await until(agent, "offer")
        ticket_id = offer["chat"]["ticket"]
        assert "support hours" in offer["chat"]["summary"].lower()

        # The agent accepts: they see the whole transcript, bot turns and the hand-off included.
        await agent.send_json_to({"type": "accept", "ticket": ticket_id})
        transcript = []
        await until(agent, "resynced", seen=transcript)
        kinds = [
            (frame["message"]["author_type"], frame["message"]["event"])
            for frame in transcript
            if frame["type"] == "message"
        ]
        assert ("bot", "") in kinds and ("system", "handed_off") in kinds and kinds[0] == ("customer", "")
        [hand_off] = [
            f["message"] for f in transcript if f["type"] == "message" and f["message"]["event"] == "handed_off"
        ]
        assert hand_off["data"]["reason"] == "customer_asked"
        assert hand_off["data"]["summary"] == offer["chat"]["summary"]
        with_agent = await until(customer, lambda f: f["type"] == "state" and f["state"] == "agent")
        assert with_agent["agent"] == {"name": "Aiko"}

        # Live both ways.
        await agent.send_json_to({"type": "message", "ticket": ticket_id, "client_id": "a1", "text": "Hi, Aiko here."})
        live = await until(customer, message_from("agent", "Aiko here"))
        assert live["message"]["author_name"] == "Aiko"
        await customer.send_json_to({"type": "message", "client_id": "c3", "text": "Thanks! My order is A-1."})
        heard = await until(
            agent, lambda f: f["type"] == "message" and f["message"]["body_text"] == "Thanks! My order is A-1."
        )
        assert heard["ticket"] == ticket_id
        assert heard["message"] == await sync_to_async(_as_the_api_shows)(heard["message"]["id"])
        last_seen = heard["message"]["seq"]

        # The customer's socket drops; the agent answers meanwhile; the widget comes back and resyncs.
        await customer.disconnect()
        await agent.send_json_to(
            {"type": "message", "ticket": ticket_id, "client_id": "a2", "text": "Found it: shipped today."}
        )
        await until(agent, lambda f: f["type"] == "message" and "shipped today" in f["message"]["body_text"])
        customer, _ = await widget_socket(support)
        welcome = await hello(customer, visitor=visitor, after_seq=last_seen)
        assert welcome["conversation"]["state"] == "agent"
        missed = await until(customer, message_from("agent", "shipped today"))
        assert missed["message"]["seq"] > last_seen
        await until(customer, "resynced")

        # The agent ends the chat: the ticket is solved.
        await agent.send_json_to({"type": "end", "ticket": ticket_id})
        await until(customer, lambda f: f["type"] == "state" and f["state"] == "ended")
        ticket = await sync_to_async(Ticket.objects.get)(pk=ticket_id)
        assert (ticket.status, ticket.assignee_id) == ("solved", online_agent.pk)
    finally:
        await customer.disconnect()
        await agent.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_after_the_hand_off_the_bot_stays_quiet(support, online_agent):
    customer, _ = await widget_socket(support)
    try:
        await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
        await until(customer, message_from("bot"))
        await customer.send_json_to({"type": "human"})
        await until(customer, lambda f: f["type"] == "state" and f["state"] == "queued")
        bot_turns = await sync_to_async(Message.objects.filter(author_type="bot").count)()

        await customer.send_json_to({"type": "message", "client_id": "c2", "text": "Hello? What are your hours?"})
        await until(customer, message_from("customer", "Hello?"))
        await customer.send_json_to({"type": "ping"})  # frames are handled in order: the turn is over
        await until(customer, "pong")
        assert await sync_to_async(Message.objects.filter(author_type="bot").count)() == bot_turns
    finally:
        await customer.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_widget_is_refused_on_other_sites_and_for_unknown_keys(support):
    foreign, connected = await widget_socket(support, origin="https://evil.example.net")
    assert not connected
    unknown = WebsocketCommunicator(application, "/ws/chat/nope/", headers=[(b"origin", SITE.encode())])
    connected, _ = await unknown.connect()
    assert not connected
    for socket in (foreign, unknown):
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_only_staff_open_the_agent_console_and_agents_see_only_chats_they_may(support, online_agent):
    anonymous, connected = await agent_socket(None)
    assert connected
    assert (await anonymous.receive_output(timeout=2))["code"] == 4403
    plain = await sync_to_async(get_user_model().objects.create_user)("plain", password="x")
    outsider, _ = await agent_socket(plain)
    assert (await outsider.receive_output(timeout=2))["code"] == 4403
    for refused in (anonymous, outsider):
        await refused.disconnect()

    restricted_team = await sync_to_async(TeamFactory)(name="Billing", restrict_to_team_tickets=True)
    billing_agent = await sync_to_async(lambda: AgentFactory(user__username="ben", teams=[restricted_team]).user)()
    customer, _ = await widget_socket(support)
    agent, _ = await agent_socket(billing_agent)
    try:
        await until(agent, "hello")
        await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "hi"})
        await until(customer, message_from("customer"))
        ticket_id = await sync_to_async(lambda: ChatSession.objects.get().pk)()
        for frame in (
            {"type": "open", "ticket": ticket_id},
            {"type": "accept", "ticket": ticket_id},
            {"type": "accept", "ticket": ticket_id + 1000},  # no such chat at all
            {"type": "message", "ticket": ticket_id + 1000, "client_id": "a1", "text": "hello?"},
        ):
            await agent.send_json_to(frame)
            error = await until(agent, "error")
            assert error["code"] == "not_found"
    finally:
        await customer.disconnect()
        await agent.disconnect()


async def quiet(socket, seconds=0.5) -> list[dict]:
    """Every frame the socket gets within `seconds`."""
    frames = []
    while not await socket.receive_nothing(timeout=seconds):
        frames.append(await socket.receive_json_from())
    return frames


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_agent_whose_chat_goes_to_a_team_they_are_not_in_sees_no_more_of_it(support):
    def setup():
        team = support.inbox.team
        team.restrict_to_team_tickets = True
        team.save()
        agent = AgentFactory(
            user__username="ben", teams=[team], presence=Presence.ONLINE, last_seen_at=timezone.now()
        ).user
        supervisor = AgentFactory(user__username="sue", role="supervisor").user
        return agent, supervisor, TeamFactory(name="Billing")

    agent_user, supervisor, billing = await sync_to_async(setup)()
    customer, _ = await widget_socket(support)
    agent, _ = await agent_socket(agent_user)
    try:
        await until(agent, "hello")
        await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
        await customer.send_json_to({"type": "human"})
        ticket_id = (await until(agent, "offer"))["chat"]["ticket"]
        await agent.send_json_to({"type": "accept", "ticket": ticket_id})
        await until(agent, "resynced")

        await sync_to_async(services.transfer)(ticket_id=ticket_id, actor=supervisor, to_team=billing)
        assert await until(agent, "gone") == {"type": "gone", "ticket": ticket_id}

        # The customer goes on, the new team takes notes, the customer types: none of it reaches Ben.
        await customer.send_json_to({"type": "message", "client_id": "c2", "text": "My card number is..."})
        await until(customer, message_from("customer", "My card number"))
        await sync_to_async(services.agent_note)(
            ticket_id=ticket_id, agent=supervisor, text="Billing dispute, see CRM", client_id="n1"
        )
        await customer.send_json_to({"type": "typing", "typing": True})
        await agent.send_json_to({"type": "typing", "ticket": ticket_id, "typing": True})
        about_the_chat = [frame for frame in await quiet(agent) if frame.get("ticket") == ticket_id]
        assert [frame for frame in about_the_chat if frame["type"] != "gone"] == []
        assert not [frame for frame in await quiet(customer) if frame["type"] == "typing"]
    finally:
        await customer.disconnect()
        await agent.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_agent_transfers_a_chat_to_a_colleague_who_takes_over_live(support, online_agent):
    colleague = await sync_to_async(
        lambda: AgentFactory(
            user__username="ben", display_name="Ben", teams=[support.inbox.team], presence=Presence.ONLINE,
            last_seen_at=timezone.now(),
        ).user
    )()  # fmt: skip
    customer, _ = await widget_socket(support)
    aiko, _ = await agent_socket(online_agent)
    ben, _ = await agent_socket(colleague)
    try:
        await until(aiko, "hello")
        await until(ben, "hello")
        await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
        await customer.send_json_to({"type": "human"})
        ticket_id = (await until(customer, lambda f: f["type"] == "state" and f["state"] == "queued"))["id"]
        await aiko.send_json_to({"type": "accept", "ticket": ticket_id})
        await until(customer, lambda f: f["type"] == "state" and f["state"] == "agent")

        await aiko.send_json_to({"type": "transfer", "ticket": ticket_id, "agent": colleague.pk})
        theirs = await until(ben, lambda f: f["type"] == "chat" and f["chat"]["ticket"] == ticket_id)
        assert theirs["chat"]["assignee"] == {"id": colleague.pk, "name": "Ben"}
        told = await until(customer, "state")
        assert (told["state"], told["agent"]) == ("agent", {"name": "Ben"})

        await ben.send_json_to({"type": "open", "ticket": ticket_id, "after_seq": 0})
        await until(ben, "resynced")
        await ben.send_json_to({"type": "message", "ticket": ticket_id, "client_id": "b1", "text": "Ben here."})
        assert (await until(customer, message_from("agent", "Ben here")))["message"]["author_name"] == "Ben"
        await aiko.send_json_to({"type": "message", "ticket": ticket_id, "client_id": "a9", "text": "Me again"})
        assert (await until(aiko, "error"))["code"] == "not_yours"
    finally:
        for socket in (customer, aiko, ben):
            await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_waiting_customers_hear_when_an_agent_comes_and_when_the_queue_moves(support):
    first, _ = await widget_socket(support)
    second, _ = await widget_socket(support)
    agent = None
    try:
        for place, socket in enumerate((first, second), start=1):
            await hello(socket)
            await socket.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
            await socket.send_json_to({"type": "human"})
            queued = await until(socket, lambda f: f["type"] == "state" and f["state"] == "queued")
            assert queued["position"] == place
            assert queued["notice"].startswith("No one is available right now.")

        user = await sync_to_async(lambda: AgentFactory(user__username="aiko", teams=[support.inbox.team]).user)()
        agent, _ = await agent_socket(user)  # Aiko comes online
        hello_frame = await until(agent, "hello")
        for place, socket in enumerate((first, second), start=1):
            told = await until(socket, "state")
            assert (told["state"], told["position"], told["notice"]) == ("queued", place, None)

        await agent.send_json_to({"type": "accept", "ticket": hello_frame["queue"][0]["ticket"]})
        assert (await until(first, "state"))["state"] == "agent"
        moved_up = await until(second, "state")
        assert (moved_up["state"], moved_up["position"]) == ("queued", 1)
    finally:
        for socket in (first, second, agent):
            if socket is not None:
                await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_message_sent_just_before_the_widget_closes_is_kept(support):
    customer, _ = await widget_socket(support)
    await hello(customer)
    await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
    await until(customer, message_from("customer"))
    await customer.send_json_to({"type": "message", "client_id": "c2", "text": "One more thing, then I leave"})
    await customer.disconnect()
    texts = await sync_to_async(lambda: list(Message.objects.filter(author_type="customer").values_list("body_text")))()
    assert texts == [("Hello",), ("One more thing, then I leave",)]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_malformed_frames_get_an_error_and_a_flood_closes_only_that_socket(support):
    bad, _ = await widget_socket(support)
    good, _ = await widget_socket(support)
    try:
        await bad.send_json_to({"type": "message", "client_id": "x", "text": "before hello"})
        assert (await until(bad, "error"))["code"] == "hello_first"
        await hello(bad)
        await hello(good)
        for raw, code in [
            ("not json", "bad_json"),
            ("[1, 2]", "bad_frame"),
            ('{"type": "dance"}', "unknown_type"),
            ('{"type": "message", "client_id": "x"}', "bad_field"),
            ('{"type": "message", "client_id": "", "text": "hi"}', "bad_field"),
            ('{"type": "read", "seq": "7"}', "bad_field"),
            ('{"type": "profile", "email": "not an address"}', "bad_field"),
            ("x" * 70_000, "bad_frame"),
        ]:
            await bad.send_to(text_data=raw)
            assert (await until(bad, "error"))["code"] == code, raw
        await bad.send_to(bytes_data=b"\x00\x01")
        assert (await until(bad, "error"))["code"] == "bad_frame"

        for _ in range(70):
            await bad.send_to(text_data='{"type": "ping"}')
        closed = False
        try:
            while True:
                output = await bad.receive_output(timeout=2)
                if output["type"] == "websocket.close":
                    closed = output["code"] == 4429
                    break
        except TimeoutError:
            pass
        assert closed

        await good.send_json_to({"type": "message", "client_id": "g1", "text": "still here"})
        assert (await until(good, message_from("customer")))["message"]["text"] == "still here"
    finally:
        await bad.disconnect()
        await good.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_typed_email_never_joins_another_customers_history_but_a_vouched_user_does(support):
    known = await sync_to_async(CustomerFactory)(name="Hanako")
    await sync_to_async(IdentityFactory)(customer=known, kind="email", value="hanako@example.jp", verified=True)
    await sync_to_async(IdentityFactory)(customer=known, kind="external", value=f"site{support.pk}:u-42")

    stranger, _ = await widget_socket(support)
    try:
        await hello(stranger)
        await stranger.send_json_to({"type": "profile", "name": "Not Hanako", "email": "hanako@example.jp"})
        await until(stranger, "profile")
        await stranger.send_json_to({"type": "message", "client_id": "s1", "text": "show me my orders"})
        await until(stranger, message_from("customer"))
        session = await sync_to_async(ChatSession.objects.select_related("ticket").get)()
        assert session.ticket.customer_id != known.pk
        assert session.contact_email == "hanako@example.jp"
        holder = await sync_to_async(lambda: Identity.objects.get(value="hanako@example.jp").customer_id)()
        assert holder == known.pk
    finally:
        await stranger.disconnect()

    signature = hmac.new(support.identity_secret.encode(), b"u-42", hashlib.sha256).hexdigest()
    vouched, _ = await widget_socket(support)
    try:
        welcome = await hello(vouched, user={"id": "u-42", "hash": signature})
        assert welcome["customer"]["name"] == "Hanako"
        forged, _ = await widget_socket(support)
        welcome = await hello(forged, user={"id": "u-42", "hash": "0" * 64})
        assert welcome["customer"]["name"] == ""
        await forged.disconnect()
    finally:
        await vouched.disconnect()
    assert await sync_to_async(Customer.objects.filter(pk=known.pk, merged_into__isnull=True).exists)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_token_the_helpdesk_never_issued_is_replaced_and_saying_hello_creates_nobody(support):
    socket, _ = await widget_socket(support)
    try:
        made_up = "A" * 32
        welcome = await hello(socket, visitor=made_up)
        assert welcome["visitor"] != made_up
        assert not await sync_to_async(Customer.objects.exists)()

        await socket.send_json_to({"type": "message", "client_id": "c1", "text": "hi"})
        await until(socket, message_from("customer"))
        identity = await sync_to_async(Identity.objects.get)(kind="chat_visitor")
        assert identity.value == welcome["visitor"]
    finally:
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_pushes_reach_a_socket_while_the_database_thread_is_busy(support):
    """A socket forwards what the channel layer brings without waiting for the process's database thread
    (where the chat's writes queue): only its own database work waits there."""
    customer, _ = await widget_socket(support)
    release = threading.Event()
    try:
        await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
        await until(customer, message_from("bot"))
        ticket_id = await sync_to_async(lambda: ChatSession.objects.get().pk)()
        busy = asyncio.ensure_future(sync_to_async(release.wait)(10))  # the database thread, taken

        typing = {"type": "typing", "name": "Aiko", "typing": True}
        await get_channel_layer().group_send(visitor_group(ticket_id), {"type": CHAT_MESSAGE_TYPE, "frame": typing})
        assert await until(customer, "typing", timeout=2) == typing
        assert not busy.done()
    finally:
        release.set()
        await customer.disconnect()
    assert await busy
