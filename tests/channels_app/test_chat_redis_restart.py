"""Redis restarts under open sockets: the pushes published while it was down never reach the process, so its
sockets are closed with 1012 and the widget, reconnecting, gets what it missed from the database."""

import asyncio
import shutil
import subprocess
import time

import pytest
import redis
from channels.db import database_sync_to_async

from helpdesk import consumers
from helpdesk.models import Message
from tests.channels_app.mailservers import free_port
from tests.channels_app.test_chat import hello, message_from, until, widget_socket

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can stop and start again."""

    def __init__(self, tmp_path) -> None:
        self.port, self.dir, self.process = free_port(), tmp_path, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(settings, tmp_path, monkeypatch):
    server = RedisServer(tmp_path)
    server.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "helpdesk.channel_layer.BatchingPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": server.url, "socket_timeout": None}], "prefix": "restart-test"},
        }
    }
    monkeypatch.setattr(consumers, "RESUBSCRIBE_SPREAD_SECONDS", 0)
    yield server
    server.stop()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_after_redis_restarts_a_widget_gets_every_message_it_missed(support, own_redis):
    customer, _ = await widget_socket(support)
    try:
        welcome = await hello(customer)
        await customer.send_json_to({"type": "message", "client_id": "c1", "text": "Hello"})
        seen = (await until(customer, message_from("bot")))["message"]["seq"]

        own_redis.stop()
        await customer.send_json_to({"type": "message", "client_id": "c2", "text": "What are your support hours?"})
        bot_answers = database_sync_to_async(lambda: Message.objects.filter(author_type="bot").count())
        for _ in range(100):  # stored, and the bot answered, though nothing could be pushed
            if await bot_answers() == 2:
                break
            await asyncio.sleep(0.1)
        assert await bot_answers() == 2
        own_redis.start()

        closed = await customer.receive_output(timeout=15)
        assert (closed["type"], closed.get("code")) == ("websocket.close", 1012)
        await customer.disconnect()

        customer, _ = await widget_socket(support)
        await hello(customer, visitor=welcome["visitor"], after_seq=seen)
        missed = []
        await until(customer, "resynced", seen=missed)
        texts = [(frame["message"]["author_type"], frame["message"]["client_id"]) for frame in missed]
        assert texts == [("customer", "c2"), ("bot", None)]
    finally:
        await customer.disconnect()
