"""Two ASGI server processes behind one Redis channel layer: a customer on one and an agent on the other
talk live (what a deployment with several Daphne processes behind a load balancer does)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone

from channels_app.models import ChatWidget
from helpdesk.models import Inbox, Presence
from tests.factories import AgentFactory, TeamFactory
from tests.helpers import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]
SITE = "https://shop.example.com"

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs the Redis channel layer (REDIS_URL)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_servers(transactional_db):
    env = {
        **os.environ,
        "DATABASE_URL": url_of_test_database(),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "helpdesk.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        for port, server in zip(ports, servers, strict=True):
            while True:
                assert server.poll() is None, "a server exited"
                assert time.monotonic() < deadline, "a server did not answer"
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
        yield ports
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


async def frame_of(connection, wanted, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(connection.recv(), timeout=max(0.1, deadline - time.monotonic())))
        if wanted(frame):
            return frame


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_customer_on_one_server_and_an_agent_on_the_other_talk_live(two_servers):
    widget, cookie = await database_sync_to_async(_chat_and_agent)()
    customer_port, agent_port = two_servers
    customer = await websockets.connect(f"ws://127.0.0.1:{customer_port}/ws/chat/{widget.public_key}/", origin=SITE)
    agent = await websockets.connect(
        f"ws://127.0.0.1:{agent_port}/ws/agent/", origin="http://localhost", additional_headers={"Cookie": cookie}
    )
    try:
        await frame_of(agent, lambda f: f["type"] == "hello")
        await customer.send(json.dumps({"type": "hello", "visitor": None, "language": "en", "after_seq": 0}))
        await frame_of(customer, lambda f: f["type"] == "welcome")
        await customer.send(json.dumps({"type": "message", "client_id": "c1", "text": "Hello"}))
        await customer.send(json.dumps({"type": "human"}))

        offer = await frame_of(agent, lambda f: f["type"] == "offer")
        ticket = offer["chat"]["ticket"]
        await agent.send(json.dumps({"type": "accept", "ticket": ticket}))
        await frame_of(customer, lambda f: f["type"] == "state" and f["state"] == "agent")

        await agent.send(json.dumps({"type": "message", "ticket": ticket, "client_id": "a1", "text": "Across"}))
        heard = await frame_of(customer, lambda f: f["type"] == "message" and f["message"]["text"] == "Across")
        assert heard["message"]["author_type"] == "agent"
        await customer.send(json.dumps({"type": "message", "client_id": "c2", "text": "And back"}))
        back = await frame_of(agent, lambda f: f["type"] == "message" and f["message"]["body_text"] == "And back")
        assert back["ticket"] == ticket
    finally:
        await customer.close()
        await agent.close()


def _chat_and_agent():
    team = TeamFactory(name="Chat team")
    inbox = Inbox.objects.create(name="Website chat", kind="chat", team=team)
    widget = ChatWidget.objects.create(inbox=inbox, allowed_origins=SITE, ask_name=False)
    agent = AgentFactory(
        user__username="aiko", teams=[team], presence=Presence.ONLINE, last_seen_at=timezone.now()
    ).user
    client = Client()
    client.force_login(agent)
    return widget, f"sessionid={client.cookies['sessionid'].value}"
