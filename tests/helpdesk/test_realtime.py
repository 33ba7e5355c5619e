"""Events reach websockets after commit, through the real router, with the same access rules as the API."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from helpdesk.asgi import application
from helpdesk.services.tickets import (
    add_internal_note,
    assign_ticket,
    change_status,
    open_ticket,
    receive_customer_message,
    reply,
)
from tests.factories import AgentFactory, CustomerFactory, InboxFactory

ORIGIN = (b"origin", b"http://localhost")
MALFORMED_FRAMES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "resync", "after_seq": "x"}', "bad_field"),
    ("x" * 70_000, "bad_frame"),
]


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(user, ticket_id):
    headers = [ORIGIN]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    communicator = WebsocketCommunicator(application, f"/ws/tickets/{ticket_id}/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.fixture
def ticket(transactional_db, inbox, customer):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Live")
    receive_customer_message(ticket=ticket, body_text="first")
    return ticket


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_agents_get_every_new_item_live_and_customers_only_public_ones(ticket, agent, customer_user):
    agent_socket, connected, _ = await _connect(agent, ticket.pk)
    assert connected
    customer_socket, connected, _ = await _connect(customer_user, ticket.pk)
    assert connected
    try:
        await sync_to_async(add_internal_note)(ticket=ticket, agent=agent, body_text="internal only")
        await sync_to_async(reply)(ticket=ticket, agent=agent, body_text="public answer")

        agent_frames = [await agent_socket.receive_json_from(timeout=5) for _ in range(4)]
        assert [(f["type"], f.get("message", {}).get("seq")) for f in agent_frames] == [
            ("message", 2), ("message", 3), ("message", 4), ("status", None),
        ]  # fmt: skip
        assert agent_frames[0]["message"]["kind"] == "note"

        customer_frames = [await customer_socket.receive_json_from(timeout=5) for _ in range(2)]
        assert customer_frames[0]["message"]["body_text"] == "public answer"
        assert customer_frames[0]["message"]["seq"] == 3
        assert customer_frames[1] == {"type": "status", "status": "open", "previous": "new"}
        assert await customer_socket.receive_nothing(timeout=0.3)
    finally:
        await agent_socket.disconnect()
        await customer_socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_reconnecting_client_resyncs_everything_after_its_last_sequence(ticket, agent):
    await sync_to_async(reply)(ticket=ticket, agent=agent, body_text="while you were away")
    await sync_to_async(change_status)(ticket=ticket, status="pending", actor=agent)
    socket, connected, _ = await _connect(agent, ticket.pk)
    assert connected
    try:
        await socket.send_json_to({"type": "resync", "after_seq": 1})
        frames = [await socket.receive_json_from(timeout=5) for _ in range(4)]
        assert [frame["message"]["seq"] for frame in frames[:3]] == [2, 3, 4]
        assert frames[3] == {"type": "resynced", "complete": True, "last_seq": 4}
    finally:
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "other restricted agent", "missing ticket"])
async def test_sockets_for_tickets_outside_the_callers_access_are_closed_before_joining(ticket, restricted_agent, who):
    user = None if who == "anonymous" else restricted_agent
    ticket_id = 999999 if who == "missing ticket" else ticket.pk
    socket, _, _ = await _connect(user, ticket_id)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    await sync_to_async(reply)(ticket=ticket, agent=await sync_to_async(_staff)(ticket), body_text="not for you")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


def _staff(ticket):
    return AgentFactory(user__username="staff-member").user


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_socket_is_closed_when_its_ticket_moves_out_of_the_agents_teams(
    restricted_agent, restricted_team, team
):
    ticket = await sync_to_async(open_ticket)(
        inbox=await sync_to_async(InboxFactory)(team=restricted_team),
        customer=await sync_to_async(CustomerFactory)(),
        subject="x",
    )
    socket, connected, _ = await _connect(restricted_agent, ticket.pk)
    assert connected
    await sync_to_async(assign_ticket)(ticket=ticket, team=team)
    assert (await socket.receive_json_from(timeout=5))["type"] == "message"  # the assignment event itself
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_malformed_frames_get_an_error_and_the_socket_keeps_working(ticket, agent):
    socket, connected, _ = await _connect(agent, ticket.pk)
    assert connected
    try:
        for frame, code in MALFORMED_FRAMES:
            await socket.send_to(text_data=frame)
            assert (await socket.receive_json_from(timeout=5))["code"] == code
        await socket.send_json_to({"type": "resync", "after_seq": 0})
        assert (await socket.receive_json_from(timeout=5))["message"]["seq"] == 1
        assert (await socket.receive_json_from(timeout=5))["type"] == "resynced"
    finally:
        await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_agents_see_field_changes_live_and_customers_do_not(ticket, agent, customer_user):
    from helpdesk.services.tickets import update_ticket

    agent_socket, _, _ = await _connect(agent, ticket.pk)
    customer_socket, _, _ = await _connect(customer_user, ticket.pk)
    try:
        await sync_to_async(update_ticket)(ticket=ticket, actor=agent, priority="urgent")
        frame = await agent_socket.receive_json_from(timeout=5)
        assert frame == {"type": "changed", "action": "updated", "changes": {"priority": ["normal", "urgent"]}}
        assert await customer_socket.receive_nothing(timeout=0.3)
    finally:
        await agent_socket.disconnect()
        await customer_socket.disconnect()
