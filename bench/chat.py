"""Live chat benchmark: message latency between customers and agents on two server processes, lost messages,
and the memory an idle widget socket costs.

    .venv/bin/python bench/chat.py [--chats N] [--agents K] [--rate R] [--seconds S] [--idle M] [--runs K]

It runs the chat as deployed: PostgreSQL (its own database, default
postgres://postgres@127.0.0.1:5432/helpdesk_chat_bench, created and migrated if needed), Redis for the channel
layer and the cache (database 13 by default, channel layer prefix `bench-chat`), DEBUG off, persistent database
connections, and two Daphne processes (`daphne -b 127.0.0.1 -p <port> helpdesk.asgi:application`) on free
ports. The clients are real websockets (the `websockets` library, asyncio) in this process:

- K agents log in over HTTP (POST /login/ with the CSRF cookie) and open the console socket `/ws/agent/` with
  their session cookie, half on each server;
- N customers open the widget socket `/ws/chat/<public key>/` (half on each server), say `hello`, write a first
  message (the bot answers) and press "talk to a person" (`human`); the chat is queued, and the agent chosen for
  it, connected to the OTHER server, sees it in a `queue` (or `offer`) frame and sends `accept`. So every message
  of the measured phase crosses processes through Redis.

Per round (emptied tables, fresh servers):
1. **setup**: the agents connect, the chats are opened, handed off and accepted, a few at a time
   (--setup-concurrency); then the bench waits until the servers are quiet (every queue change is pushed to every
   agent, and each console reads the queue again);
2. **traffic**: customers and agents write at R messages/s in all (half each way, evenly spread: each chat's
   customer and its agent once per N/(R/2) seconds, half a cycle apart, or with `--turns together` the agent
   1/R s after its customer): --warmup seconds first, then --seconds measured. Each text
   carries a unique id; latency = time the other side's socket received it minus the time it was sent (one
   clock: both sides are in this process). The bench waits for late messages as long as they keep coming, at
   most --drain seconds after the last send. Every message must reach the other side exactly once (lost,
   duplicated and misdelivered are counted; a lost message is also looked up in the database: stored but never
   pushed, or never stored) and, once the servers have stopped, be stored exactly once (by `external_id`:
   `chat:<visitor>:<client_id>` and `chat-agent:<user id>:<client_id>`, on the chat's ticket, with its text);
3. **idle** (unless --skip-idle): two fresh servers, warmed up by 20 sockets each; then M widget sockets (split
   over them) connect, say `hello`, get `welcome` and stay open; the servers' resident memory (VmRSS) before
   and after gives the memory per idle socket, with the growth of Redis's memory.

CPU over the measured window is read from /proc for each server, PostgreSQL, Redis and this client process,
with the machine's total. The Daphne logs are searched for errors. The last line of output is
`chat_p99_ms: X lost: N`: X the median over rounds of the overall p99 (both directions), N the lost
messages of all rounds. See docs/performance.md ("Live chat").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http.client
import json
import logging
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from machine import code_revision, cpu_of, ensure_database, machine_seconds, pids_named

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_chat_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
CHANNEL_LAYER_PREFIX = "bench-chat"
PREFIX = "bench-chat-"
SITE = "http://bench.example"  # the company site the widget is embedded in (the widget's allowed origin)
CONSOLE_ORIGIN = "http://localhost"  # the helpdesk's own pages (ALLOWED_HOSTS)
PASSWORD = "bench-chat-agent-Password-1"  # noqa: S105 (the bench agents' own, in the bench database)
TARGET_P50_MS, TARGET_P99_MS = 10.0, 50.0
# The server's own limits (channels_app/chat/consumers.py): a widget may send 20 messages per 10 s, any socket
# 60 frames per 10 s (more closes it with 4429). The bench stays well below both.
MAX_CUSTOMER_RATE = 1.5  # messages/s per widget socket
MAX_AGENT_RATE = 5.0  # messages/s per console socket
KEY = re.compile(r"^\[([ca][wm]\d+)\]")
TEXTS = (
    "My order has not arrived yet, can you check where it is?",
    "ご注文の商品がまだ届いていません。確認していただけますか。",
    "I was charged twice for the same order, please refund one of them.",
    "Could you change the delivery address to my office?",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100, help="concurrent chats (customer sockets; default 100)")
    parser.add_argument("--agents", type=int, default=26, help="agent console sockets (default 26)")
    parser.add_argument("--rate", type=float, default=200, help="messages per second in all, half each way")
    parser.add_argument("--seconds", type=float, default=20, help="measured duration (default 20)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of traffic before measuring (default 5)")
    parser.add_argument("--idle", type=int, default=5000, help="idle widget sockets of the memory phase")
    parser.add_argument("--skip-idle", action="store_true", help="no idle phase")
    parser.add_argument(
        "--turns",
        choices=("alternate", "together"),
        default="alternate",
        help="alternate (default): a chat's agent writes half a cycle after its customer, turn by turn as people "
        "chat; together: right after its customer (1/R s), both sides of every chat at once, which makes the two "
        "servers write the same tickets at the same moment",
    )
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians of rounds (default 3)")
    parser.add_argument("--drain", type=float, default=30, help="seconds to wait for late messages (default 30)")
    parser.add_argument("--setup-concurrency", type=int, default=4, help="chats handed off at once while setting up")
    parser.add_argument("--idle-concurrency", type=int, default=40, help="idle sockets connecting at once")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"Redis (default {DEFAULT_REDIS_URL})")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_CHAT_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL of the bench database (env BENCH_CHAT_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    if args.chats < 2 or args.agents < 2 or args.rate <= 0 or args.seconds <= 0 or args.runs < 1 or args.idle < 0:
        parser.error("need --chats/--agents >= 2 (one per server at least), --rate/--seconds > 0, --runs >= 1")
    if args.warmup < 0 or args.setup_concurrency < 1 or args.idle_concurrency < 1:
        parser.error("need --warmup >= 0 and concurrencies >= 1")
    per_customer = args.rate / 2 / args.chats
    per_agent = per_customer * -(-((args.chats + 1) // 2) // (args.agents // 2))  # the busiest agent's chats
    if per_customer > MAX_CUSTOMER_RATE or per_agent > MAX_AGENT_RATE:
        parser.error(
            f"{per_customer:.2f} messages/s per customer and {per_agent:.2f} per agent: the server refuses more than "
            f"2/s per widget and closes a socket over 6 frames/s; stay under {MAX_CUSTOMER_RATE} and "
            f"{MAX_AGENT_RATE} (more --chats or --agents)"
        )
    return args


# --- Database, Django, Redis -----------------------------------------------------------------------------


def environment(args, media_root: Path) -> dict[str, str]:
    """The deployment's settings (read from the environment at import), for the servers and this process."""
    return {
        "DATABASE_URL": args.database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "REDIS_URL": args.redis_url,
        "CHANNEL_LAYER_PREFIX": CHANNEL_LAYER_PREFIX,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "bench-chat-secret-key-not-for-production-0123456789abcdef",
        "MEDIA_ROOT": str(media_root),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic here
    django.setup()
    assert not settings.DEBUG, "measure the deployed configuration"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] != "channels.layers.InMemoryChannelLayer"
    call_command("migrate", interactive=False, verbosity=0)


def seed(agents: int) -> dict:
    """A team, its chat inbox with the widget, and `agents` agents with a known password (the others of an
    earlier, larger run stay but are offline)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from channels_app.models import ChatWidget
    from helpdesk.models import AgentProfile, Inbox, Presence, Role, Team

    team, _ = Team.objects.get_or_create(name=f"{PREFIX}Support")
    inbox, _ = Inbox.objects.update_or_create(name=f"{PREFIX}Website chat", defaults={"kind": "chat", "team": team})
    widget, _ = ChatWidget.objects.update_or_create(
        inbox=inbox,
        defaults={"allowed_origins": SITE, "ask_name": False, "ask_email": False, "bot_enabled": True,
                  "is_active": True, "bot_takes_returning_customers": False},
    )  # fmt: skip
    users, hashed, found = get_user_model().objects, None, []
    for index in range(agents):
        user, created = users.get_or_create(username=f"{PREFIX}agent{index:03d}", defaults={"is_active": True})
        if created:
            hashed = hashed or make_password(PASSWORD)  # one PBKDF2 run for all of them
            user.password = hashed
            user.save(update_fields=["password"])
        profile, _ = AgentProfile.objects.update_or_create(
            user=user,
            defaults={"role": Role.AGENT, "display_name": f"Agent {index}", "presence": Presence.ONLINE,
                      "last_seen_at": timezone.now(), "chat_capacity": 1000, "capacity": 1000},
        )  # fmt: skip
        profile.teams.set([team])
        found.append((user.pk, user.username))
    return {"widget_key": widget.public_key, "agents": found, "team": team.pk}


def reset_data(agents: list[tuple[int, str]]) -> None:
    """Empty what chats write (customers, tickets, messages, chat sessions...), keep the configuration."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from channels_app.models import ChatSession, Conversation, Delivery, InboundItem, Quarantine, ReplyRoute
    from customers.models import Customer
    from helpdesk.models import AgentProfile, AuditEntry, Message, Presence, TeamAssignmentCursor, Ticket

    models = (Customer, Ticket, Message, AuditEntry, ChatSession, Conversation, ReplyRoute, Delivery,
              TeamAssignmentCursor, InboundItem, Quarantine)  # fmt: skip
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    bench_users = get_user_model().objects.filter(username__startswith=PREFIX)
    AgentProfile.objects.filter(user__in=bench_users).update(presence=Presence.OFFLINE)
    AgentProfile.objects.filter(user_id__in=[pk for pk, _ in agents]).update(
        presence=Presence.ONLINE, last_seen_at=timezone.now()
    )


class RedisKeys:
    """The bench's Redis database: what was there before the bench is left alone, what the bench and its
    servers wrote (channel layer, cache, presence counters) is deleted between rounds and at the end."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.before = set(self.client.scan_iter(count=1000))
        if self.before:
            print(f"note: {len(self.before)} keys already in {url}; they are left as they are")

    def clean(self) -> int:
        ours = [key for key in self.client.scan_iter(count=1000) if key not in self.before]
        for start in range(0, len(ours), 500):
            self.client.delete(*ours[start : start + 500])
        return len(ours)

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])


# --- Servers ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One `daphne` process against the bench database and Redis, its output in a log file."""

    def __init__(self, index: int, env: dict[str, str], log_dir: Path) -> None:
        self.index, self.port = index, free_port()
        self.log_path = log_dir / f"daphne-{index}.log"
        self.access_path = log_dir / f"daphne-{index}-access.log"
        daphne = Path(sys.executable).parent / "daphne"
        command = [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "--access-log", str(self.access_path),
                   "helpdesk.asgi:application"]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne {self.index} exited ({self.process.returncode}): {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daphne {self.index} did not answer /healthz within {timeout:.0f} s: {self.log_tail()}")

    def rss(self) -> int:
        """Resident memory in bytes (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def open_files_limit(self) -> str:
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return soft if soft == hard else f"{soft}/{hard}"
        return "?"

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self) -> list[str]:
        """Lines of the server's own log that are more than its start-up chatter."""
        # Start-up lines, and whitenoise's warning that static files were not collected (no collectstatic here).
        startup = ("Starting server at", "HTTP/2 support", "Configuring endpoint", "Listening on TCP address",
                   "Killed 0 pending application instances", "UserWarning: No directory at:",
                   "mw_instance = middleware(adapted_handler)")  # fmt: skip
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [line for line in lines if line.strip() and not any(marker in line for marker in startup)]


def login(port: int, username: str) -> str:
    """Log in through the login page as a browser does (CSRF cookie and token); returns the session id."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    response.read()
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    token = cookies["csrftoken"].value
    form = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"}
    conn.request("POST", "/login/", body=form, headers=headers)
    response = conn.getresponse()
    response.read()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    if response.status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login of {username} answered {response.status}")
    return cookies["sessionid"].value


# --- CPU and memory ----------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of each part of the deployment between two readings."""

    def __init__(self, servers: list[Server], database_url: str) -> None:
        self.servers, self.database = servers, urlsplit(database_url).path.lstrip("/")
        self.postgres = set(pids_named("postgres"))

    def bench_backends(self) -> set[int]:
        """PostgreSQL backends connected to the bench database (the servers' connections)."""
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if command.startswith("postgres: ") and f" {self.database} " in command:
                    pids.add(int(entry.name))
        return pids

    def read(self) -> dict[str, float]:
        self.postgres |= set(pids_named("postgres"))  # connections opened meanwhile count too
        machine, steal = machine_seconds()
        reading = {f"daphne {server.index}": cpu_of([server.pid]) for server in self.servers}
        reading |= {
            "PostgreSQL": cpu_of(self.postgres), "PostgreSQL (bench database)": cpu_of(self.bench_backends()),
            "Redis": cpu_of(pids_named("redis-server")), "client": cpu_of([os.getpid()]),
            "machine": machine, "steal": steal,
        }  # fmt: skip
        return reading


# --- Websocket clients -------------------------------------------------------------------------------------


class BenchError(RuntimeError):
    pass


@dataclass
class Tracker:
    """Every bench message sent, and where and when it arrived."""

    sent: dict[str, tuple[float, int]] = field(default_factory=dict)  # key -> (perf_counter at send, chat)
    delivered: collections.Counter = field(default_factory=collections.Counter)  # on the other side
    echoed: collections.Counter = field(default_factory=collections.Counter)  # back on the sender's socket
    latency: dict[str, list[float]] = field(default_factory=lambda: {"customer": [], "agent": []})
    echo: dict[str, list[float]] = field(default_factory=lambda: {"customer": [], "agent": []})
    misdelivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # error frames and unexpected closes
    last_delivery: float = 0.0

    def arrived(self, key: str, chat: int | None, own: bool, now: float) -> None:
        sent = self.sent.get(key)
        if sent is None or chat != sent[1]:
            self.misdelivered.append(f"{key} (sent in chat {sent[1] if sent else '?'}, received in chat {chat})")
            return
        counter, samples = (self.echoed, self.echo) if own else (self.delivered, self.latency)
        counter[key] += 1
        if not own:
            self.last_delivery = now
        if counter[key] == 1 and key[1] == "m":
            samples["customer" if key[0] == "c" else "agent"].append((now - sent[0]) * 1000)


class Conn:
    """A websocket whose frames are read as they come: bench messages are timed, the rest can be awaited."""

    def __init__(self, ws, label: str, tracker: Tracker) -> None:
        self.ws, self.label, self.tracker = ws, label, tracker
        self.unclaimed: collections.deque[dict] = collections.deque(maxlen=300)
        self.waiters: list[tuple[object, asyncio.Future]] = []
        self.closing, self.frames, self.kinds = False, 0, collections.Counter()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                self.frames += 1
                self.kinds[frame.get("type")] += 1
                if frame.get("type") == "error":
                    self.tracker.errors.append(f"{self.label}: {raw}")
                if frame.get("type") == "message" and self.timed(frame, now):
                    continue
                for waiter in self.waiters:
                    match, future = waiter
                    if not future.done() and match(frame):
                        future.set_result(frame)
                        self.waiters.remove(waiter)
                        break
                else:
                    self.unclaimed.append(frame)
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.tracker.errors.append(
                    f"{self.label}: closed by the server (code {self.ws.close_code}, reason {self.ws.close_reason!r})"
                )
            for _, future in self.waiters:
                if not future.done():
                    future.set_exception(BenchError(f"{self.label}: socket closed (code {self.ws.close_code})"))

    def timed(self, frame: dict, now: float) -> bool:
        raise NotImplementedError

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def until(self, match, what: str, timeout: float = 60) -> dict:
        for frame in self.unclaimed:
            if match(frame):
                self.unclaimed.remove(frame)
                return frame
        future = asyncio.get_running_loop().create_future()
        self.waiters.append((match, future))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            seen = [frame.get("type") for frame in self.unclaimed][-12:]
            raise BenchError(f"{self.label}: no {what} within {timeout:.0f} s (last frames: {seen})") from None

    async def close(self) -> None:
        self.closing = True
        await self.ws.close()
        await self.reader


class Customer(Conn):
    def __init__(self, ws, chat: int, tracker: Tracker) -> None:
        super().__init__(ws, f"customer {chat}", tracker)
        self.chat, self.visitor, self.ticket = chat, "", 0

    def timed(self, frame: dict, now: float) -> bool:
        message = frame.get("message") or {}
        found = KEY.match(message.get("text") or "")
        if not found:
            return False
        key = found.group(1)
        own = key[0] == "c"
        if (message.get("author_type") != "customer") if own else (message.get("author_type") != "agent"):
            self.tracker.misdelivered.append(f"{key} arrived at the widget as {message.get('author_type')}")
        self.tracker.arrived(key, self.chat, own, now)
        return True


class Agent(Conn):
    def __init__(self, ws, index: int, user_id: int, tracker: Tracker) -> None:
        super().__init__(ws, f"agent {index}", tracker)
        self.index, self.user_id = index, user_id
        self.chats: dict[int, int] = {}  # ticket -> chat

    def timed(self, frame: dict, now: float) -> bool:
        message = frame.get("message") or {}
        found = KEY.match(message.get("body_text") or "")
        if not found:
            return False
        key = found.group(1)
        self.tracker.arrived(key, self.chats.get(frame.get("ticket")), key[0] == "a", now)
        return True


async def connect(url: str, origin: str, headers: dict | None = None, open_timeout: float = 60):
    from websockets.asyncio.client import connect as ws_connect

    # A browser neither pings nor goes through a proxy here; it does offer permessage-deflate (the default).
    return await ws_connect(
        url, origin=origin, additional_headers=headers, proxy=None, ping_interval=None, open_timeout=open_timeout,
        max_queue=None,
    )  # fmt: skip


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    if len(samples) == 1:
        return {"n": 1, "p50": samples[0], "p95": samples[0], "p99": samples[0], "max": samples[0]}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(samples)}


@dataclass
class Chat:
    index: int
    customer: Customer
    agent: Agent
    ticket: int = 0
    handoff_ms: float = 0.0  # from `human` to the customer's `state: agent`


async def servers_quiet(servers: list[Server], conns=(), limit: float = 300) -> float:
    """Wait until no socket got a frame for 2 s and the servers were nearly idle; returns the seconds waited
    before that quiet started."""
    started, quiet, frames = time.perf_counter(), 0, -1
    while quiet < 2 and time.perf_counter() - started < limit:
        before = cpu_of([server.pid for server in servers])
        await asyncio.sleep(1)
        busy = cpu_of([server.pid for server in servers]) - before
        count = sum(conn.frames for conn in conns)
        quiet = quiet + 1 if count == frames and busy < 0.1 else 0
        frames = count
    return max(time.perf_counter() - started - 2, 0.0)


async def chat_phase(args, ref, servers: list[Server], sessions: dict[int, str], meter: CpuMeter) -> dict:
    """Agents connect, chats are opened, handed off and accepted; then the timed traffic; then all close."""
    tracker = Tracker()
    ws_base = [f"ws://127.0.0.1:{server.port}" for server in servers]
    started = time.perf_counter()

    async def open_agent(index: int, user_id: int) -> Agent:
        ws = await connect(
            f"{ws_base[index % 2]}/ws/agent/", CONSOLE_ORIGIN, headers={"Cookie": f"sessionid={sessions[user_id]}"}
        )
        agent = Agent(ws, index, user_id, tracker)
        await agent.until(lambda f: f["type"] == "hello", "hello")
        return agent

    agents = await asyncio.gather(*(open_agent(i, pk) for i, (pk, _) in enumerate(ref["agents"][: args.agents])))
    by_server = [[a for a in agents if a.index % 2 == s] for s in (0, 1)]
    semaphore = asyncio.Semaphore(args.setup_concurrency)
    extension = []

    async def open_chat(index: int) -> Chat:
        server = index % 2
        others = by_server[1 - server]  # the agent is on the other server: every message crosses through Redis
        agent = others[(index // 2) % len(others)]
        async with semaphore:
            ws = await connect(f"{ws_base[server]}/ws/chat/{ref['widget_key']}/", SITE)
            if not extension:
                extension.append(ws.response.headers.get("Sec-WebSocket-Extensions") or "none")
            customer = Customer(ws, index, tracker)
            await customer.send({"type": "hello", "visitor": None, "language": "en", "page": f"{SITE}/orders",
                                 "after_seq": 0})  # fmt: skip
            welcome = await customer.until(lambda f: f["type"] == "welcome", "welcome")
            customer.visitor = welcome["visitor"]
            await customer.send({"type": "message", "client_id": "first", "text": TEXTS[index % len(TEXTS)]})
            await customer.until(
                lambda f: f["type"] == "message" and f["message"].get("client_id") == "first", "its first message"
            )
            handoff = time.perf_counter()
            await customer.send({"type": "human"})
            queued = await customer.until(lambda f: f["type"] == "state" and f["state"] == "queued", "state queued")
            ticket = queued["id"]
            agent.chats[ticket] = index

            def listed(frame: dict) -> bool:
                if frame["type"] == "offer":
                    return frame["chat"]["ticket"] == ticket
                return frame["type"] == "queue" and any(chat["ticket"] == ticket for chat in frame["queue"])

            await agent.until(listed, f"queue or offer frame with ticket {ticket}")
            await agent.send({"type": "accept", "ticket": ticket})
            answer = await agent.until(
                lambda f: f.get("ticket") == ticket and f["type"] in ("resynced", "error"), f"accept of {ticket}"
            )
            if answer["type"] == "error":
                raise BenchError(f"agent {agent.index} could not accept ticket {ticket}: {answer}")
            await customer.until(lambda f: f["type"] == "state" and f["state"] == "agent", "state agent")
            customer.ticket = ticket
            return Chat(index, customer, agent, ticket, (time.perf_counter() - handoff) * 1000)

    chats = await asyncio.gather(*(open_chat(i) for i in range(args.chats)))
    setup_seconds = time.perf_counter() - started
    # Every queue change is pushed to every agent, and each console reads the queue again: wait until the servers
    # have worked through those (no frame for 2 s and the servers nearly idle) so the traffic starts on quiet
    # servers.
    conns = (*agents, *(chat.customer for chat in chats))
    setup_frames = sum((agent.kinds for agent in agents), collections.Counter())
    settle_seconds = await servers_quiet(servers, conns)
    for conn in conns:
        conn.unclaimed.clear()
    errors_before_traffic = list(tracker.errors)

    # The traffic: message g goes at t0 + g/R; even ones from a customer, odd ones from an agent: by default
    # the agent of the chat half the chats further on (each chat's turns alternate, half a cycle apart), with
    # --turns together the agent of the customer's own chat, 1/R s after it.
    agent_offset = len(chats) // 2 if args.turns == "alternate" else 0
    warm, measured = round(args.warmup * args.rate), round(args.seconds * args.rate)
    lags, cpu_start, t_first = [], None, 0.0
    t0 = time.perf_counter() + 0.5
    for g in range(warm + measured):
        target = t0 + g / args.rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        phase = "w" if g < warm else "m"
        if g == warm:
            cpu_start, t_first = meter.read(), time.perf_counter()
        chat = chats[(g // 2 + (0 if g % 2 == 0 else agent_offset)) % len(chats)]
        text = f"{TEXTS[g % len(TEXTS)]} (bench message {g})"
        if g % 2 == 0:
            key = f"c{phase}{g}"
            tracker.sent[key] = (time.perf_counter(), chat.index)
            await chat.customer.send({"type": "message", "client_id": key, "text": f"[{key}] {text}"})
        else:
            key = f"a{phase}{g}"
            tracker.sent[key] = (time.perf_counter(), chat.index)
            await chat.agent.send(
                {"type": "message", "ticket": chat.ticket, "client_id": key, "text": f"[{key}] {text}"}
            )
        if phase == "m":
            lags.append((time.perf_counter() - target) * 1000)
    t_last = time.perf_counter()
    cpu_end = meter.read()

    # Drain: until every message is delivered and echoed, as long as messages keep arriving (a server that is
    # behind still delivers them, late), at most --drain seconds after the last send. A message not delivered
    # then is counted lost, and those the servers were still working through are told apart ("behind").
    last_progress, arrivals = time.perf_counter(), -1
    while time.perf_counter() - last_progress < 10 and time.perf_counter() - t_last < args.drain:
        if all(tracker.delivered[key] and tracker.echoed[key] for key in tracker.sent):
            break
        count = sum(tracker.delivered.values()) + sum(tracker.echoed.values())
        if count != arrivals:
            last_progress, arrivals = time.perf_counter(), count
        await asyncio.sleep(0.05)
    drained = time.perf_counter() - t_last
    still_working = time.perf_counter() - last_progress < 10
    await asyncio.sleep(1)  # late duplicates

    close_started = time.perf_counter()
    await asyncio.gather(*(chat.customer.close() for chat in chats), *(agent.close() for agent in agents))
    close_seconds = time.perf_counter() - close_started

    window = t_last - t_first
    delivered_measured = sum(1 for key in tracker.sent if key[1] == "m" and tracker.delivered[key])
    delivery_span = max(tracker.last_delivery, t_last) - t_first
    cpu = {part: cpu_end[part] - cpu_start[part] for part in cpu_end}
    measured_keys = [key for key in tracker.sent if key[1] == "m"]
    both = tracker.latency["customer"] + tracker.latency["agent"]
    return {
        "chats": [(chat.index, chat.customer.visitor, chat.ticket, chat.agent.user_id) for chat in chats],
        "sent": dict(tracker.sent),
        "setup_seconds": setup_seconds,
        "settle_seconds": settle_seconds,
        "setup_frames": dict(setup_frames),
        "still_working": still_working,
        "handoff": percentiles([chat.handoff_ms for chat in chats]),
        "extension": extension[0] if extension else "?",
        "measured": len(measured_keys),
        "rate": len(measured_keys) / (window + 1 / args.rate),
        "delivered_rate": delivered_measured / delivery_span if delivery_span > 0 else 0.0,
        "delivered_measured": delivered_measured,
        "window": window,
        "to_agent": percentiles(tracker.latency["customer"]),
        "to_customer": percentiles(tracker.latency["agent"]),
        "overall": percentiles(both),
        "echo_customer": percentiles(tracker.echo["customer"]),
        "echo_agent": percentiles(tracker.echo["agent"]),
        "lag": percentiles(lags),
        "lost": sum(1 for key in tracker.sent if not tracker.delivered[key]),
        "lost_keys": [key for key in tracker.sent if not tracker.delivered[key]],
        "not_echoed": sum(1 for key in tracker.sent if not tracker.echoed[key]),
        "duplicates": sum(count - 1 for count in tracker.delivered.values() if count > 1)
        + sum(count - 1 for count in tracker.echoed.values() if count > 1),
        "misdelivered": list(tracker.misdelivered),
        "errors": list(tracker.errors),
        "errors_in_setup": errors_before_traffic,
        "drained": drained,
        "close_seconds": close_seconds,
        "cpu": cpu,
    }


def verify_database(result: dict) -> list[str]:
    """Every bench message stored exactly once, on its chat's ticket, with its text."""
    from django.db.models import Count

    from helpdesk.models import Message

    chats = {index: (visitor, ticket, agent) for index, visitor, ticket, agent in result["chats"]}
    expected = {}
    for key, (_, index) in result["sent"].items():
        visitor, ticket, agent = chats[index]
        external_id = f"chat:{visitor}:{key}" if key[0] == "c" else f"chat-agent:{agent}:{key}"
        expected[external_id] = (ticket, key)
    rows = Message.objects.filter(external_id__in=list(expected)).values_list("external_id", "ticket_id", "body_text")
    problems, seen = [], collections.Counter()
    for external_id, ticket, body in rows:
        seen[external_id] += 1
        want_ticket, key = expected[external_id]
        if ticket != want_ticket or not body.startswith(f"[{key}] "):
            problems.append(f"{external_id} stored on ticket {ticket} with text {body[:40]!r}")
    missing = [external_id for external_id in expected if not seen[external_id]]
    doubled = [external_id for external_id, count in seen.items() if count > 1]
    if missing:
        problems.append(f"{len(missing)} sent messages not stored, e.g. {missing[:3]}")
    if doubled:
        problems.append(f"{len(doubled)} messages stored more than once, e.g. {doubled[:3]}")
    bench_rows = Message.objects.filter(body_text__regex=r"^\[[ca][wm][0-9]+\] ").count()
    if bench_rows != len(expected):
        problems.append(f"{bench_rows} stored messages carry a bench id, {len(expected)} were sent")
    tickets = {ticket for _, _, ticket, _ in result["chats"]}
    if len(tickets) != len(result["chats"]):
        problems.append(f"{len(result['chats'])} chats share {len(tickets)} tickets")
    by_ticket = Message.objects.filter(ticket_id__in=tickets).values("ticket_id").annotate(n=Count("id"))
    result["stored"] = len(seen)
    stored_keys = {expected[external_id][1] for external_id in seen}
    result["lost_stored"] = sum(1 for key in result["lost_keys"] if key in stored_keys)
    result["messages_per_chat"] = statistics.median(row["n"] for row in by_ticket) if by_ticket else 0
    return problems


async def idle_phase(args, ref, servers: list[Server], redis_keys: RedisKeys) -> dict:
    """M widget sockets say hello and stay open: the servers' memory before and after."""
    ws_base = [f"ws://127.0.0.1:{server.port}" for server in servers]
    # Warm-up: the first sockets load the code the others then share; 20 sockets on each server open and close.
    for server_base in ws_base:
        warm = [await connect(f"{server_base}/ws/chat/{ref['widget_key']}/", SITE) for _ in range(20)]
        for ws in warm:
            await ws.send(json.dumps({"type": "hello", "visitor": None, "language": "en", "after_seq": 0}))
            await asyncio.wait_for(ws.recv(), 60)
        for ws in warm:
            await ws.close()
    await servers_quiet(servers)
    rss_before = [server.rss() for server in servers]
    redis_before = redis_keys.used_memory()
    client_before = rss_of(os.getpid())
    semaphore = asyncio.Semaphore(args.idle_concurrency)
    sockets, times, failures = [], [], []

    async def open_one(index: int) -> None:
        async with semaphore:
            t0 = time.perf_counter()
            try:
                ws = await connect(f"{ws_base[index % 2]}/ws/chat/{ref['widget_key']}/", SITE)
                await ws.send(json.dumps({"type": "hello", "visitor": None, "language": "ja", "after_seq": 0,
                                          "page": f"{SITE}/products/{index}"}))  # fmt: skip
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except Exception as error:  # counted and shown
                failures.append(f"socket {index}: {type(error).__name__}: {error}")
                return
            if frame.get("type") != "welcome":
                failures.append(f"socket {index}: {str(frame)[:200]}")
            sockets.append(ws)
            times.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(open_one(i) for i in range(args.idle)))
    open_seconds = time.perf_counter() - started
    await asyncio.sleep(3)
    rss_after = [server.rss() for server in servers]
    await asyncio.sleep(5)  # still open and stable?
    rss_later = [server.rss() for server in servers]
    redis_after = redis_keys.used_memory()
    client_after = rss_of(os.getpid())
    still_open = sum(1 for ws in sockets if ws.close_code is None)
    started = time.perf_counter()

    async def close_one(ws) -> None:
        async with semaphore:
            await ws.close()

    await asyncio.gather(*(close_one(ws) for ws in sockets))
    close_seconds = time.perf_counter() - started
    per_server = [sum(1 for i in range(args.idle) if i % 2 == s) for s in (0, 1)]
    return {
        "opened": len(sockets), "failures": failures, "open_seconds": open_seconds, "welcome": percentiles(times),
        "still_open": still_open, "close_seconds": close_seconds, "per_server": per_server,
        "rss_before": rss_before, "rss_after": rss_after, "rss_later": rss_later,
        "per_socket": [(after - before) / max(n, 1)
                       for before, after, n in zip(rss_before, rss_later, per_server, strict=True)],
        "redis_growth": redis_after - redis_before,
        "client_per_socket": (client_after - client_before) / max(args.idle, 1),
    }  # fmt: skip


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- Rounds ------------------------------------------------------------------------------------------------


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-files limit (the servers started from it inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))  # root may raise hard
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start_servers(env: dict[str, str], log_dir: Path) -> list[Server]:
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = [Server(index, env, log_dir) for index in (1, 2)]
    try:
        for server in servers:
            server.wait_ready()
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


def stop_servers(servers: list[Server], result: dict, phase: str) -> None:
    """Stop the servers and keep what their logs say. Daphne's warning that an application instance "took too
    long to shut down and was killed" means a socket's consumer was still waiting (for the database thread)
    when the server stopped: counted apart from the other lines."""
    for server in servers:
        server.stop()
    for server in servers:
        for line in server.log_problems():
            if "took too long to shut down and was killed" in line:
                result["killed"] = result.get("killed", 0) + 1
            else:
                result["log_problems"].append(f"{phase}, daphne {server.index}: {line}")


def run_round(args, env, ref, redis_keys: RedisKeys, sessions: dict[int, str], log_dir: Path, run: int) -> dict:
    reset_data(ref["agents"][: args.agents])
    redis_keys.clean()
    result: dict = {"load": os.getloadavg()[0], "problems": [], "log_problems": [], "killed": 0}
    servers = start_servers(env, log_dir / f"round{run}" / "chat")
    try:
        result["limits"] = [server.open_files_limit() for server in servers]
        result["pids"] = [(server.pid, server.port) for server in servers]
        if not sessions:
            t0 = time.monotonic()
            for index, (user_id, username) in enumerate(ref["agents"][: args.agents]):
                sessions[user_id] = login(servers[index % 2].port, username)
            print(f"  {len(sessions)} agents logged in over HTTP in {time.monotonic() - t0:.1f} s")
        meter = CpuMeter(servers, args.database_url)
        result |= asyncio.run(chat_phase(args, ref, servers, sessions, meter))
    finally:
        stop_servers(servers, result, "chat")
    result["problems"] += verify_database(result)  # once the servers stopped: what is stored is final
    result["celery_queued"] = redis_keys.client.llen("celery")
    if not args.skip_idle and args.idle:
        # Fresh servers: nothing left over from the traffic, and a clean memory baseline.
        servers = start_servers(env, log_dir / f"round{run}" / "idle")
        try:
            result["idle"] = asyncio.run(idle_phase(args, ref, servers, redis_keys))
        finally:
            stop_servers(servers, result, "idle")
    return result


def print_round(args, run: int, result: dict) -> None:
    ms = lambda s: f"p50 {s['p50']:.1f}  p95 {s['p95']:.1f}  p99 {s['p99']:.1f}  max {s['max']:.1f} ms"  # noqa: E731
    servers = ", ".join(f"pid {pid} port {port}" for pid, port in result["pids"])
    print(f"  servers: {servers}; open files limit {' / '.join(result['limits'])}; load average before "
          f"{result['load']:.2f}")  # fmt: skip
    handoff = result["handoff"]
    print(
        f"  setup: {args.agents} agents, {args.chats} chats opened, handed off and accepted in "
        f"{result['setup_seconds']:.1f} s (human -> state agent p50 {handoff['p50']:.0f} ms, max "
        f"{handoff['max']:.0f} ms); websocket extension: {result['extension']}"
    )
    kinds = result["setup_frames"]
    print(
        f"    the agents got {kinds.get('queue', 0)} queue, {kinds.get('offer', 0)} offer and {kinds.get('chat', 0)} "
        f"chat frames (each queue frame is the whole queue read again by the server for that agent); the servers "
        f"were busy {result['settle_seconds']:.1f} s more after the last accept"
    )
    print(
        f"  traffic: {result['measured']} messages measured in {result['window']:.1f} s = {result['rate']:.1f} msg/s "
        f"(+{round(args.warmup * args.rate)} warm-up); client send lag {ms(result['lag'])}"
    )
    print(
        f"    delivered to the other side: {result['delivered_measured']}/{result['measured']} measured messages, "
        f"{result['delivered_rate']:.1f} msg/s from the first send to the last delivery"
    )
    print(f"    customer -> agent  {ms(result['to_agent'])}  (n={result['to_agent']['n']})")
    print(f"    agent -> customer  {ms(result['to_customer'])}  (n={result['to_customer']['n']})")
    print(f"    both directions    {ms(result['overall'])}")
    print(f"    own echo (stored, back to the sender): customer {ms(result['echo_customer'])}; "
          f"agent {ms(result['echo_agent'])}")  # fmt: skip
    print(
        f"    lost {result['lost']}, not echoed {result['not_echoed']}, duplicates {result['duplicates']}, "
        f"misdelivered {len(result['misdelivered'])}, error frames/closes {len(result['errors'])}; "
        f"stored once in the database: {result['stored']}/{len(result['sent'])} (the last delivered "
        f"{result['drained']:.1f} s after the last send; {result['messages_per_chat']:.0f} messages per chat)"
    )
    if result["lost"]:
        print(
            f"    of the {result['lost']} lost: {result['lost_stored']} are stored in the database (the live push to "
            f"the other side never came), {result['lost'] - result['lost_stored']} were never stored"
        )
    if result["lost"] and result["still_working"]:
        print(f"    the servers were still delivering when the bench stopped waiting ({args.drain:.0f} s): the lost "
              f"messages include those still queued in them")  # fmt: skip
    cpu, window = result["cpu"], result["window"]
    parts = ("daphne 1", "daphne 2", "PostgreSQL", "Redis", "client")
    shares = ", ".join(f"{part} {cpu[part] / window * 100:.0f}%" for part in parts)
    others = cpu["machine"] - sum(cpu[part] for part in parts)
    print(
        f"    CPU over the window (% of one core): {shares} (bench database backends "
        f"{cpu['PostgreSQL (bench database)'] / window * 100:.0f}%); everything else on the machine (other work, "
        f"kernel) {others / window * 100:.0f}%; machine {cpu['machine'] / window * 100:.0f}% of 200%, steal "
        f"{cpu['steal'] / window * 100:.0f}%; per message: servers "
        f"{(cpu['daphne 1'] + cpu['daphne 2']) * 1000 / result['measured']:.2f} ms, machine "
        f"{cpu['machine'] * 1000 / result['measured']:.2f} ms"
    )
    idle = result.get("idle")
    if idle:
        mb = 1024 * 1024
        memory = "; ".join(
            f"daphne {i + 1} {before / mb:.0f} -> {after / mb:.0f} MB ({n} sockets, {per / 1024:.1f} KiB each)"
            for i, (before, after, n, per) in enumerate(
                zip(idle["rss_before"], idle["rss_later"], idle["per_server"], idle["per_socket"], strict=True)
            )
        )
        print(
            f"  idle (fresh servers, warmed up): {idle['opened']}/{args.idle} widget sockets opened in "
            f"{idle['open_seconds']:.1f} s (connect + "
            f"hello -> welcome {ms(idle['welcome'])}), {idle['still_open']} still open 8 s later, closed in "
            f"{idle['close_seconds']:.1f} s"
        )
        print(
            f"    memory: {memory}; Redis {idle['redis_growth'] / 1024:+.0f} KiB; client "
            f"{idle['client_per_socket'] / 1024:.1f} KiB per socket"
        )
        for failure in idle["failures"][:5]:
            print(f"    IDLE SOCKET FAILED: {failure}")
    if result["celery_queued"]:
        print(f"  note: {result['celery_queued']} Celery tasks were queued (no worker runs in this bench)")
    for line in result["errors"][:10]:
        print(f"    SERVER SAID: {line}")
    for line in result["misdelivered"][:5]:
        print(f"    MISDELIVERED: {line}")
    if result["killed"]:
        print(
            f"    LOG: Daphne killed {result['killed']} application instances that were still waiting when it stopped "
            f'("took too long to shut down and was killed")'
        )
    for line in result["log_problems"][:30]:
        print(f"    LOG: {line}")
    if len(result["log_problems"]) > 30:
        print(f"    LOG: ... {len(result['log_problems']) - 30} more lines")
    for problem in result["problems"]:
        print(f"    VERIFICATION FAILED: {problem}")


def main(argv=None) -> int:
    args = parse_args(argv)
    limit = raise_open_files(args.idle + 2 * args.chats + 2 * args.agents + 1024)
    if limit < args.idle + args.chats + args.agents + 256:
        raise SystemExit(f"open files limit {limit} is too low for {args.idle} idle sockets")
    try:
        import websockets
    except ImportError:
        raise SystemExit("needs the websockets package: .venv/bin/pip install websockets") from None
    ensure_database(args.database_url)
    temp = Path(tempfile.mkdtemp(prefix="helpdesk-chat-bench-"))
    env = environment(args, temp / "media")
    setup_django(env)
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    from django.db import connection

    ref = seed(args.agents)
    redis_keys = RedisKeys(args.redis_url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(
        f"database: {connection.settings_dict['NAME']}  {version.split(',')[0]}  cpus={os.cpu_count()}  "
        f"code: {code_revision()}  websockets {websockets.__version__}  load average (1 min) "
        f"{os.getloadavg()[0]:.2f}\n"
        f"chats={args.chats} agents={args.agents} rate={args.rate:.0f}/s (half each way, turns {args.turns}) "
        f"measured={args.seconds:.0f} s "
        f"(+{args.warmup:.0f} s warm-up) idle sockets={0 if args.skip_idle else args.idle} runs={args.runs}  "
        f"2 Daphne processes, Redis {args.redis_url} (prefix {CHANNEL_LAYER_PREFIX}), open files limit {limit}"
    )
    rounds, sessions, failed = [], {}, False
    try:
        for run in range(1, args.runs + 1):
            print(f"\nround {run}/{args.runs}")
            result = run_round(args, env, ref, redis_keys, sessions, temp / "logs", run)
            print_round(args, run, result)
            failed = failed or bool(
                result["problems"] or result["lost"] or result["duplicates"] or result["misdelivered"]
                or result["errors"] or result["log_problems"] or result.get("idle", {}).get("failures")
            )  # fmt: skip
            rounds.append(result)
    finally:
        removed = redis_keys.clean()
        if failed or not rounds:
            print(f"\nserver logs kept in {temp / 'logs'}")
            shutil.rmtree(temp / "media", ignore_errors=True)
        else:
            shutil.rmtree(temp, ignore_errors=True)
        print(f"removed {removed} Redis keys the bench and its servers wrote")
    return summarize(args, rounds, failed)


def summarize(args, rounds: list[dict], failed: bool) -> int:
    median = statistics.median
    each = lambda values, f="{:.1f}": ", ".join(f.format(v) for v in values)  # noqa: E731
    print(f"\nsummary: medians of {len(rounds)} rounds [per-round values]")
    for name, title in (("to_agent", "customer -> agent"), ("to_customer", "agent -> customer"), ("overall", "both")):
        p50s, p99s = [r[name]["p50"] for r in rounds], [r[name]["p99"] for r in rounds]
        print(f"  {title:18} p50 {median(p50s):.1f} ms [{each(p50s)}]  p99 {median(p99s):.1f} ms [{each(p99s)}]")
    rates, delivered = [r["rate"] for r in rounds], [r["delivered_rate"] for r in rounds]
    lost = sum(r["lost"] for r in rounds)
    print(
        f"  messages/s sent {median(rates):.1f} [{each(rates)}], delivered {median(delivered):.1f} "
        f"[{each(delivered)}]; lost {lost} [{each([r['lost'] for r in rounds], '{}')}], duplicates "
        f"{sum(r['duplicates'] for r in rounds)}, misdelivered {sum(len(r['misdelivered']) for r in rounds)}"
    )
    machine = [r["cpu"]["machine"] / r["window"] * 100 for r in rounds]
    parts = ("daphne 1", "daphne 2", "PostgreSQL", "Redis", "client")
    others = [(r["cpu"]["machine"] - sum(r["cpu"][p] for p in parts)) / r["window"] * 100 for r in rounds]
    print(
        f"  machine busy {median(machine):.0f}% of 200% [{each(machine, '{:.0f}')}], of which not the bench's "
        f"processes {median(others):.0f}% [{each(others, '{:.0f}')}]"
    )
    idles = [r["idle"] for r in rounds if "idle" in r]
    if idles:
        per = [statistics.mean(i["per_socket"]) / 1024 for i in idles]
        print(f"  idle socket: {median(per):.1f} KiB of server memory each [{each(per)}], "
              f"{sum(i['opened'] for i in idles)}/{args.idle * len(idles)} opened")  # fmt: skip
    p50, p99 = median(r["overall"]["p50"] for r in rounds), median(r["overall"]["p99"] for r in rounds)
    verdict = lambda ok: "meets" if ok else "MISSES"  # noqa: E731
    print(
        f"  p50 {p50:.1f} ms {verdict(p50 <= TARGET_P50_MS)} the target (<= {TARGET_P50_MS:.0f} ms), p99 {p99:.1f} "
        f"ms {verdict(p99 <= TARGET_P99_MS)} the target (<= {TARGET_P99_MS:.0f} ms), lost {lost} "
        f"{verdict(lost == 0)} the target (0)"
    )
    if failed:
        print("VERIFICATION FAILED or the server misbehaved in at least one round (see above)")
    print(f"chat_p99_ms: {p99:.1f} lost: {lost}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
