"""Inbound ingest benchmark: sustained messages stored per second through the whole inbound pipeline.

    .venv/bin/python bench/ingest.py [--messages N] [--runs K] [--database-url URL]

Uses its own database (default postgres://postgres@127.0.0.1:5432/helpdesk_ingest_bench, or
BENCH_INGEST_DATABASE_URL), creates and migrates it if needed, and empties its customers, tickets and
messages before each measurement. Attachments go to a temporary MEDIA_ROOT, removed at the end.

Each round pushes N inbound messages (plus a warm-up and 5% re-sent duplicates) through the real entry points:

- email: raw RFC 822 bytes built with the stdlib `email` package into `channels_app.email.inbound.ingest_raw`
  (the MTA-pipe path: the mailbox is found by the To address). New conversations, replies quoting earlier
  Message-IDs (In-Reply-To/References and a quoted body), fresh mail from known senders (continuity rule),
  Japanese bodies in ISO-2022-JP and UTF-8, some multipart/alternative HTML, some with a small attachment.
- LINE: signed webhook POSTs through the real view /webhooks/line/<key>/ with Django's test client: the view
  checks the signature and hands the events to `process_line_webhook`, which Celery runs in-process (eager:
  no REDIS_URL). Text, sticker, image (downloaded from a fake LINE API on 127.0.0.1, as are the profiles of
  new users), location and group-chat messages.

About half the messages come from new customers, half are follow-ups. The configuration is a realistic one:
two teams with automatic assignment (round robin, least load) and six online agents, two routing rules (a
LINE tag; refund/請求 keywords to the billing team at high priority), an SLA policy with targets for every
priority and Tokyo business hours, so routing and the SLA clock do the work they do in production.
It runs once with 1 process, then with 2 processes (multiprocessing, spawn; each its own database connection
and its own customers), both after a warm-up, and checks at the end that stored messages = messages sent (no
loss, no duplicates), that every re-sent duplicate was recognized, and that follow-ups joined the right
tickets (tickets = new customers + group chats). Besides wall-clock throughput it reports the CPU each stored
message costs (the worker processes, and their PostgreSQL backends read from /proc), which is far less
sensitive to other work on the machine, and the 2-core ceiling that CPU cost implies.

Then the LINE webhook acknowledgement latency: in a separate process with REDIS_URL pointing at
--redis-url (Celery no longer eager, so `.delay()` only enqueues; no worker needed), p50/p95/p99 of the
view's response time over --ack-requests signed POSTs. The queue is purged afterwards.

`--profile` runs 1 process under cProfile with SQL timing instead (a diagnosis, not a measurement).
`--experiment a,b` monkeypatches what-ifs into the workers (see EXPERIMENTS; no application file is changed)
and then ends with `experiment_msgs_per_s: X` instead, so it cannot be mistaken for the measurement.

The last line of output is `ingest_msgs_per_s: X`, the 2-process figure (median over --runs rounds).
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import multiprocessing
import os
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_ingest_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
PREFIX = "bench-"
MAILBOX_ADDRESS = "support@bench.example.com"
LINE_SECRET = "bench-line-channel-secret"  # noqa: S105 (a fake account of the bench database)
LINE_BOT = "Ubench0000000000000000000000000000"
TARGET_MSGS_PER_S = 300
TARGET_ACK_P99_MS = 50

# --- Content -------------------------------------------------------------------------------------------

EN_NAMES = ["Emma Brown", "Liam Smith", "Olivia Jones", "Noah Miller", "Ava Davis", "James Wilson", "Mia Moore"]
JA_NAMES = ["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健", "伊藤 さくら", "渡辺 大輔"]
DOMAINS = ["example.com", "example.jp", "example.net", "example.org", "mail.example.co.jp"]
EN_SUBJECTS = [
    "Order {n} has not arrived", "Refund for order {n}", "Cannot log in to my account", "Invoice {n} is wrong",
    "Question about my subscription", "Change of delivery address", "App crashes when I open settings",
    "Double charged for order {n}", "How do I export my data?",
]  # fmt: skip
JA_SUBJECTS = [
    "注文番号{n}の商品が届きません", "返金について（注文{n}）", "ログインできません", "請求書{n}の金額が違います",
    "配送先住所の変更のお願い", "アプリが起動しません", "解約の手続きについて",
]  # fmt: skip
EN_BODIES = [
    "Hello,\n\nI ordered {n} two weeks ago and it still has not arrived. The tracking page has not changed "
    "since last Monday. Could you check what happened?\n\nThanks,\n{name}",
    "Hi,\n\nI was charged twice for order {n}. Please refund the second payment.\n\nBest regards,\n{name}",
    "Hello support,\n\nSince the last update I cannot log in: the app says my password is wrong, but the reset "
    "link in your mail has already expired when I open it.\n\n{name}",
    "Hi there,\n\nCould you change the delivery address of order {n} to:\n12 Park Lane\nLondon W1K 1AA\n\n"
    "Thank you!\n{name}\n-- \n{name}\nSent from my iPhone",
]
JA_BODIES = [
    "お世話になっております。\n\n{n}で注文した商品がまだ届いておりません。配送状況を確認していただけますでしょうか。\n\n"
    "よろしくお願いいたします。\n{name}",
    "いつもお世話になっております。\n\n注文{n}の代金が二重に請求されているようです。返金の手続きをお願いします。\n\n{name}",
    "こんにちは。\n\nアップデート後にアプリが起動しなくなりました。再インストールしても同じです。\n"
    "機種は iPhone 15、iOS 17.5 です。\n\n{name}",
]
EN_FOLLOW_UPS = [
    "Any news about this? I still have not heard back.",
    "Here is the screenshot you asked for.",
    "Thanks, that worked. One more question: can I also change the invoice address?",
    "The parcel arrived today, but one item is missing.",
]
JA_FOLLOW_UPS = [
    "その後いかがでしょうか。ご連絡をお待ちしております。",
    "ご依頼のスクリーンショットを添付します。",
    "ありがとうございます。解決しました。もう一点質問があります。",
    "本日荷物が届きましたが、商品が一つ足りません。",
]
LINE_TEXTS = [
    "注文した商品がまだ届きません。注文番号は {n} です。", "返金はいつ頃になりますか？", "ログインできなくなりました",
    "ありがとうございます！", "了解です", "配送先を変更したいです", "請求金額が違うようです", "まだですか？",
    "Hello, is anyone there?", "My order {n} is late", "写真を送ります", "よろしくお願いします🙏",
]  # fmt: skip
STICKERS = [("11537", "52002734"), ("446", "1988"), ("789", "10855"), ("6136", "10551376")]
PLACES = [
    ("東京駅", "東京都千代田区丸の内1丁目", 35.681236, 139.767125),
    ("大阪駅", "大阪府大阪市北区梅田3丁目", 34.702485, 135.495951),
]
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


class Item(NamedTuple):
    """One inbound item: raw mail, or a LINE webhook body and its signature."""

    channel: str  # "email" or "line"
    data: bytes
    signature: str  # x-line-signature ("" for mail)
    external_id: str  # Message-ID or webhookEventId: what deduplication keys on
    new: bool  # the first message of a new customer


class Sample(NamedTuple):
    channel: str
    kind: str  # "new", "follow-up" or "duplicate"
    outcome: str  # what the pipeline said: "stored", "duplicate"...
    seconds: float  # wall time of the call
    done_at: float  # time.monotonic() at the end
    queries: int  # SQL statements
    sql_seconds: float  # time in cursor.execute (--profile only)
    cpu_seconds: float  # CPU of this process (app side) during the call


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="timed messages per measurement (default 3000)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed messages per process first (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; figures are medians of rounds (default 3)")
    parser.add_argument("--line-share", type=float, default=0.5, help="share of LINE messages (default 0.5)")
    parser.add_argument("--new-share", type=float, default=0.5, help="share from new customers (default 0.5)")
    parser.add_argument("--duplicates", type=float, default=0.05, help="share re-sent as duplicates (default 0.05)")
    parser.add_argument("--processes", default="1,2", help="process counts to measure (default 1,2; last one counts)")
    parser.add_argument("--ack-requests", type=int, default=1000, help="timed LINE webhook POSTs for the ack latency")
    parser.add_argument("--skip-ack", action="store_true", help="do not measure the webhook acknowledgement")
    parser.add_argument("--ack-only", action="store_true", help="only measure the webhook acknowledgement")
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS_URL, help=f"broker for the ack measurement (default {DEFAULT_REDIS_URL})"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_INGEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL of the bench database (env BENCH_INGEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="diagnosis instead of measurement: 1 process under cProfile, with SQL counts per channel",
    )
    parser.add_argument(
        "--experiment",
        default="",
        help="comma-separated what-ifs, monkeypatched into the workers (not the measurement; the last line is then "
        "experiment_msgs_per_s): " + ", ".join(EXPERIMENTS),
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated traffic")
    args = parser.parse_args(argv)
    args.experiments = [name.strip() for name in args.experiment.split(",") if name.strip()]
    unknown = [name for name in args.experiments if name not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; known: {', '.join(EXPERIMENTS)}")
    args.process_counts = [int(part) for part in args.processes.split(",") if part.strip()]
    if (
        args.messages < 100
        or args.runs < 1
        or args.warmup < 0
        or not args.process_counts
        or min(args.process_counts) < 1
        or not 0 <= args.line_share <= 1
        or not 0 < args.new_share <= 1
        or not 0 <= args.duplicates < 1
        or args.ack_requests < 100
    ):
        parser.error("need --messages >= 100, --runs >= 1, --warmup >= 0, --ack-requests >= 100, shares in 0..1")
    return args


# --- Database and Django --------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(url: str, *, migrate: bool) -> None:
    """Settings are read from the environment at import: everything is set before django.setup()."""
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the LINE fake's 404s and the like are not news here
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic here
    django.setup()
    # Celery 5.7 acquires a producer even in eager mode; with the memory:// broker kombu says so at WARNING.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    assert not settings.DEBUG, "DEBUG must be off while measuring"
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def reference_data() -> dict:
    """Teams, agents, routing rules, the email inbox with its mailbox, the LINE inbox with its account."""
    from django.contrib.auth import get_user_model

    from channels_app.models import LineAccount, Mailbox
    from customers.models import Tag
    from helpdesk.models import (
        AgentProfile,
        AssignmentStrategy,
        BusinessHours,
        BusinessPeriod,
        Holiday,
        Inbox,
        Presence,
        Role,
        RoutingRule,
        SlaPolicy,
        SlaTarget,
        Team,
    )
    from tests.channels_app.line_fake import ACCESS_TOKEN

    # Business hours (Tokyo, weekdays 9-18, a holiday) and an SLA policy with targets for every priority, so the
    # SLA clock does the work it does in a real deployment.
    tokyo, created = BusinessHours.objects.get_or_create(name=f"{PREFIX}Tokyo", defaults={"time_zone": "Asia/Tokyo"})
    if created:
        for weekday in range(5):
            BusinessPeriod.objects.create(schedule=tokyo, weekday=weekday, start_time=dt.time(9), end_time=dt.time(18))
        Holiday.objects.create(schedule=tokyo, date=dt.date(2026, 11, 23), name="勤労感謝の日")
    policy, created = SlaPolicy.objects.get_or_create(name=f"{PREFIX}Standard")
    if created:
        for priority, minutes in (("low", (480, 960, 4800)), ("normal", (240, 480, 2880)), ("high", (60, 240, 1440)),
                                  ("urgent", (30, 60, 480))):  # fmt: skip
            first, following, resolution = minutes
            SlaTarget.objects.create(policy=policy, priority=priority, first_response_minutes=first,
                                     next_response_minutes=following, resolution_minutes=resolution)  # fmt: skip
    support, _ = Team.objects.update_or_create(
        name=f"{PREFIX}Support",
        defaults={"assignment_strategy": AssignmentStrategy.ROUND_ROBIN, "business_hours": tokyo},
    )
    billing, _ = Team.objects.update_or_create(
        name=f"{PREFIX}Billing",
        defaults={"assignment_strategy": AssignmentStrategy.LEAST_LOAD, "business_hours": tokyo},
    )
    users = get_user_model().objects
    for index, team in enumerate([support] * 4 + [billing] * 2):
        user, created = users.get_or_create(username=f"{PREFIX}agent{index:02d}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        profile, _ = AgentProfile.objects.get_or_create(
            user=user, defaults={"role": Role.AGENT, "display_name": f"Agent {index}", "presence": Presence.ONLINE}
        )
        profile.teams.add(team)
    email_inbox, _ = Inbox.objects.get_or_create(name=f"{PREFIX}Email", defaults={"kind": "email", "team": support})
    line_inbox, _ = Inbox.objects.get_or_create(name=f"{PREFIX}LINE", defaults={"kind": "line", "team": support})
    Mailbox.objects.get_or_create(inbox=email_inbox, defaults={"address": MAILBOX_ADDRESS, "from_name": "Support"})
    account, _ = LineAccount.objects.get_or_create(
        inbox=line_inbox,
        defaults={"channel_id": "bench", "channel_secret": LINE_SECRET, "channel_access_token": ACCESS_TOKEN},
    )
    if not RoutingRule.objects.filter(name__startswith=PREFIX).exists():
        line_rule = RoutingRule.objects.create(
            name=f"{PREFIX}LINE tag", position=0, channel="line", stop_processing=False
        )
        line_rule.add_tags.add(Tag.objects.get_or_create(name="line")[0])
        refunds = RoutingRule.objects.create(
            name=f"{PREFIX}Refunds to billing",
            position=1,
            keywords="refund, charged, invoice, 返金, 請求",
            set_team=billing,
            set_priority="high",
        )
        refunds.add_tags.add(Tag.objects.get_or_create(name="billing")[0])
    return {"email_inbox": email_inbox.pk, "line_inbox": line_inbox.pk, "webhook_key": account.webhook_key}


def reset_data(media_root: Path) -> None:
    """Empty what the pipeline writes (customers, tickets, messages, audit...), keep the configuration."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from channels_app.models import Conversation, Delivery, Quarantine, ReplyRoute
    from customers.models import Customer
    from helpdesk.models import AgentProfile, AuditEntry, Message, Presence, TeamAssignmentCursor, Ticket

    tables = [m._meta.db_table for m in (Customer, Ticket, Message, AuditEntry, Quarantine, Conversation,
                                         ReplyRoute, Delivery, TeamAssignmentCursor)]  # fmt: skip
    with connection.cursor() as cursor:
        quoted = ", ".join(connection.ops.quote_name(table) for table in tables)
        cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    # Agents stay available: online and seen just now (routing only assigns agents seen in the last 5 minutes).
    bench_users = get_user_model().objects.filter(username__startswith=PREFIX)
    AgentProfile.objects.filter(user__in=bench_users).update(presence=Presence.ONLINE, last_seen_at=timezone.now())
    for child in media_root.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


# --- Traffic --------------------------------------------------------------------------------------------


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest()).decode()


class Traffic:
    """The inbound items of one process: deterministic for a seed, disjoint customers per `tag`."""

    def __init__(self, rng: random.Random, tag: str, args: argparse.Namespace):
        self.rng, self.tag, self.args = rng, tag, args
        self.serial = 0
        self.email_customers: list[dict] = []
        self.line_customers: list[dict] = []
        self.groups: list[str] = [f"C{self._hex(f'{tag}-group-{k}')}" for k in range(3)]
        self.groups_used: set[str] = set()
        self.profiles: dict[str, str] = {}  # LINE user id -> display name, for the fake LINE API
        self.contents: dict[str, bytes] = {}  # LINE message id -> image bytes
        self.new_customers = 0

    def _hex(self, text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def items(self, count: int) -> list[Item]:
        """`count` unique items, each a new customer's first message or a known customer's follow-up."""
        out = []
        for _ in range(count):
            line = self.rng.random() < self.args.line_share
            known = self.line_customers if line else self.email_customers
            new = not known or self.rng.random() < self.args.new_share
            if line:
                out.append(self._line(None if new else self.rng.choice(known)))
            else:
                out.append(self._email(None if new else self.rng.choice(known)))
        return out

    # Email ---------------------------------------------------------------------------------------------

    def _email(self, customer: dict | None) -> Item:
        rng, n, new = self.rng, self._next(), customer is None
        order = f"A-{rng.randint(1000, 99999)}"
        if customer is None:
            self.new_customers += 1
            japanese = rng.random() < 0.35
            name = rng.choice(JA_NAMES if japanese else EN_NAMES)
            local = f"{name.split()[0].lower() if not japanese else 'user'}.{self.tag}.{n}"
            customer = {
                "name": name,
                "address": f"{local}@{rng.choice(DOMAINS)}",
                "japanese": japanese,
                # Japanese mail: half ISO-2022-JP (classic Japanese clients), half UTF-8.
                "charset": ("iso-2022-jp" if rng.random() < 0.5 else "utf-8") if japanese else "utf-8",
                "thread": [],  # Message-IDs of this customer's conversation
                "subject": "",
                "last_body": "",
            }
            self.email_customers.append(customer)
            subjects, bodies = (JA_SUBJECTS, JA_BODIES) if customer["japanese"] else (EN_SUBJECTS, EN_BODIES)
            subject = rng.choice(subjects).format(n=order)
            body = rng.choice(bodies).format(n=order, name=customer["name"])
            customer["subject"], references = subject, []
        elif rng.random() < 0.7:  # a reply to their earlier mail, quoting it
            subject = customer["subject"] if customer["subject"].startswith("Re:") else f"Re: {customer['subject']}"
            new_text = rng.choice(JA_FOLLOW_UPS if customer["japanese"] else EN_FOLLOW_UPS)
            who = f"{customer['name']} <{customer['address']}>"
            if customer["japanese"]:
                attribution = f"2026年3月{rng.randint(1, 28)}日(火) 10:{rng.randint(10, 59)} {who}:"
            else:
                attribution = f"On Tue, 3 Mar 2026 at 10:{rng.randint(10, 59)}, {who} wrote:"
            quoted = "\n".join(f"> {line}" for line in customer["last_body"].splitlines())
            body = f"{new_text}\n\n{attribution}\n{quoted}\n"
            references = customer["thread"][-8:]
        else:  # new mail from a known address, no references: the continuity rule threads it
            subject = rng.choice(JA_SUBJECTS if customer["japanese"] else EN_SUBJECTS).format(n=order)
            body = rng.choice(JA_FOLLOW_UPS if customer["japanese"] else EN_FOLLOW_UPS)
            references = []
        message_id = f"{self.tag}.{n}.{rng.getrandbits(48):012x}@{customer['address'].split('@')[1]}"
        attachment = None
        if rng.random() < 0.08:
            size = rng.randint(2_000, 24_000)
            if rng.random() < 0.5:
                attachment = ("application", "pdf", "見積書.pdf" if customer["japanese"] else f"invoice-{n}.pdf",
                              b"%PDF-1.4\n" + rng.randbytes(size))  # fmt: skip
            else:
                attachment = ("image", "png", f"IMG_{n:04d}.png", PNG_HEADER + rng.randbytes(size))
        html = customer["charset"] == "utf-8" and rng.random() < 0.4
        raw = build_email(
            name=customer["name"], address=customer["address"], subject=subject, body=body, message_id=message_id,
            charset=customer["charset"], references=references, attachment=attachment, html=html,
        )  # fmt: skip
        customer["thread"].append(f"<{message_id}>")
        customer["last_body"] = body.split("\n\n>", 1)[0]
        return Item("email", raw, "", message_id, new)

    # LINE ----------------------------------------------------------------------------------------------

    def _line(self, customer: dict | None) -> Item:
        rng, n, new = self.rng, self._next(), customer is None
        if customer is None:
            self.new_customers += 1
            user_id = f"U{self._hex(f'{self.tag}-user-{n}')}"
            customer = {"user_id": user_id}
            self.line_customers.append(customer)
            self.profiles[user_id] = rng.choice(JA_NAMES + EN_NAMES[:2])
            source = {"type": "user", "userId": user_id}
        elif rng.random() < 0.1:  # a group chat the customer is in: one ticket per group
            group = rng.choice(self.groups)
            self.groups_used.add(group)
            source = {"type": "group", "groupId": group, "userId": customer["user_id"]}
        else:
            source = {"type": "user", "userId": customer["user_id"]}
        message_id = str(rng.randint(10**17, 10**18 - 1))
        kind = rng.random()
        if kind < 0.82:
            text = rng.choice(LINE_TEXTS).format(n=rng.randint(1000, 9999))
            message = {"type": "text", "id": message_id, "quoteToken": f"q{rng.getrandbits(64):x}", "text": text}
        elif kind < 0.90:
            package, sticker = rng.choice(STICKERS)
            message = {"type": "sticker", "id": message_id, "quoteToken": f"q{rng.getrandbits(64):x}",
                       "packageId": package, "stickerId": sticker, "stickerResourceType": "STATIC"}  # fmt: skip
        elif kind < 0.96:
            message = {"type": "image", "id": message_id, "quoteToken": f"q{rng.getrandbits(64):x}",
                       "contentProvider": {"type": "line"}}  # fmt: skip
            self.contents[message_id] = PNG_HEADER + rng.randbytes(rng.randint(3_000, 30_000))
        else:
            title, address, latitude, longitude = rng.choice(PLACES)
            message = {"type": "location", "id": message_id, "title": title, "address": address,
                       "latitude": latitude, "longitude": longitude}  # fmt: skip
        event_id = "01" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(24))
        event = {
            "type": "message",
            "message": message,
            "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False},
            "timestamp": int(time.time() * 1000),
            "source": source,
            "replyToken": f"{rng.getrandbits(128):032x}",
            "mode": "active",
        }
        body = json.dumps({"destination": LINE_BOT, "events": [event]}, ensure_ascii=False).encode()
        return Item("line", body, sign(body), event_id, new)


def redelivery(item: Item) -> Item:
    """The same item again: an MTA or IMAP retry (same bytes), a LINE redelivery (isRedelivery, re-signed)."""
    if item.channel == "email":
        return item
    data = json.loads(item.data)
    for event in data["events"]:
        event["deliveryContext"]["isRedelivery"] = True
    body = json.dumps(data, ensure_ascii=False).encode()
    return item._replace(data=body, signature=sign(body))


def with_duplicates(rng: random.Random, items: list[Item], share: float) -> list[tuple[Item, bool]]:
    """Items in order, with `share` of them re-sent once at a random later point: (item, is_duplicate)."""
    keyed = [(float(index), item, False) for index, item in enumerate(items)]
    keyed += [
        (rng.uniform(index + 0.5, len(items)), redelivery(items[index]), True)
        for index in rng.sample(range(len(items)), round(share * len(items)))
    ]
    keyed.sort(key=lambda entry: entry[0])
    return [(item, duplicate) for _, item, duplicate in keyed]


def build_email(
    *, name, address, subject, body, message_id, charset, references=(), attachment=None, html=False
) -> bytes:
    """Raw mail the way the clients write it: ISO-2022-JP with the legacy API (encoded-word headers in
    ISO-2022-JP), everything else with EmailMessage (UTF-8, multipart/alternative, RFC 2231 file names)."""
    from email.header import Header
    from email.message import EmailMessage
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import format_datetime, formataddr

    from django.utils import timezone

    if charset == "iso-2022-jp":
        text = MIMEText(body, "plain", "iso-2022-jp")
        if attachment is None:
            message = text
        else:
            message = MIMEMultipart()
            message.attach(text)
            maintype, subtype, filename, data = attachment
            part = MIMEApplication(data, subtype if maintype == "application" else "octet-stream")
            part.add_header("Content-Disposition", "attachment", filename=("iso-2022-jp", "", filename))
            message.attach(part)
        message["From"] = formataddr((name, address), charset="iso-2022-jp")
        message["Subject"] = Header(subject, "iso-2022-jp")
    else:
        message = EmailMessage()
        message["From"] = formataddr((name, address))
        message["Subject"] = subject
        message.set_content(body)
        if html:
            paragraphs = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
            message.add_alternative(f'<html><body><div dir="ltr">{paragraphs}</div></body></html>', subtype="html")
        if attachment is not None:
            maintype, subtype, filename, data = attachment
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    message["To"] = f"Support <{MAILBOX_ADDRESS}>"
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = f"<{message_id}>"
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    return message.as_bytes()


# --- Measurement ----------------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


class Ingester:
    """One process's way in: ingest_raw for mail, the webhook view (eager task) for LINE."""

    def __init__(self, webhook_key: str, fake_url: str):
        from django.conf import settings
        from django.test import Client

        import channels_app.line.inbound as line_inbound
        from channels_app.email.inbound import ingest_raw

        settings.LINE_API_BASE = settings.LINE_DATA_BASE = fake_url
        self.ingest_raw = ingest_raw
        self.client = Client(SERVER_NAME="localhost")
        self.url = f"/webhooks/line/{webhook_key}/"
        # Outcome of the LINE pipeline call (the view answers 200 either way): a thin wrapper, no app change.
        self.line_outcomes: list[str] = []
        receive = line_inbound.receive

        def recording_receive(**kwargs):
            received = receive(**kwargs)
            self.line_outcomes.append(received.outcome)
            return received

        line_inbound.receive = recording_receive

    def __call__(self, item: Item) -> str:
        if item.channel == "email":
            return self.ingest_raw(item.data).outcome
        before = len(self.line_outcomes)
        response = self.client.post(
            self.url, item.data, content_type="application/json", HTTP_X_LINE_SIGNATURE=item.signature
        )
        if response.status_code != 200:
            raise RuntimeError(f"LINE webhook answered {response.status_code}: {response.content[:200]!r}")
        outcomes = self.line_outcomes[before:]
        return outcomes[0] if len(outcomes) == 1 else f"line events handled: {len(outcomes)}"


class SqlCounter:
    """Counts statements (always: an integer increment); times them only when diagnosing."""

    def __init__(self, timed: bool):
        self.queries, self.seconds, self.timed = 0, 0.0, timed

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        if not self.timed:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU of this process (all threads), or of another local process (the PostgreSQL backend)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # PostgreSQL on another machine or not readable: no figure
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Experiments: monkeypatches applied in the worker processes only with --experiment, never in the measurement.
# Each says what a change would buy (or the most it could: "no-*" removes a step altogether).
EXPERIMENTS = {
    "no-savepoints": "nested transaction.atomic blocks create no SAVEPOINT/RELEASE (what savepoint=False buys)",
    "batched-fanout": "one async_to_sync per event for all its group_send calls, instead of one per group",
    "no-fanout": "no websocket fan-out after commit at all (upper bound of what the fan-out costs)",
    "no-routing": "new tickets are not routed (upper bound of routing's cost)",
    "no-sla": "no SLA bookkeeping (upper bound of its cost)",
    "config-cache": "per-process caches of configuration read for every message: business-hours schedules, SLA "
    "targets, business-hours ids, routing rules, team strategies, mailboxes by address",
    "async-commit": "SET synchronous_commit = off on the worker connections (what the WAL flush per commit costs)",
    "redis-layer": "REDIS_URL set for the workers (Celery kept eager): websocket fan-out to Redis, as deployed",
}
REDIS_LAYER_PREFIX = "bench-ingest"


def apply_experiments(names: list[str]) -> None:
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection

    import channels_app.pipeline
    import helpdesk.services.sla as sla
    import helpdesk.services.tickets as tickets
    from customers import events
    from helpdesk import realtime

    def replace_fanout(handler):
        for (_, phase), handlers in events._subscribers.items():
            if phase == "after_commit" and realtime.send_to_groups in handlers:
                handlers[handlers.index(realtime.send_to_groups)] = handler

    for name in names:
        if name == "no-savepoints":
            connection._savepoint_allowed = lambda: False
        elif name == "batched-fanout":

            def batched_send_to_groups(event):
                layer = get_channel_layer()
                groups = realtime.groups_for(event)
                if layer is None or not groups:
                    return
                message = {"type": realtime.GROUP_MESSAGE_TYPE, "event": event.payload()}

                async def send_all():
                    await asyncio.gather(*(layer.group_send(group, message) for group in groups))

                async_to_sync(send_all)()

            replace_fanout(batched_send_to_groups)
        elif name == "no-fanout":
            replace_fanout(lambda event: None)
        elif name == "no-routing":
            channels_app.pipeline.route_ticket = lambda **kwargs: None
        elif name == "no-sla":
            tickets.start_sla = tickets.sla_on_status_change = tickets.replan_sla = lambda **kwargs: None
            sla.sla_on_message = lambda **kwargs: None
        elif name == "config-cache":
            cache_configuration()
        elif name == "async-commit":
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
        else:
            raise ValueError(f"unknown experiment {name!r}")


def cache_configuration() -> None:
    """What caching the configuration would buy: the bench's configuration does not change while it runs (an
    application cache would be invalidated on save)."""
    import channels_app.email.inbound as email_inbound
    import helpdesk.services.routing as routing
    import helpdesk.services.sla as sla
    from channels_app.models import Mailbox
    from helpdesk.models import RoutingRule

    def memoized(function, key):
        cache = {}

        def cached(*args, **kwargs):
            k = key(*args, **kwargs)
            if k not in cache:
                cache[k] = function(*args, **kwargs)
            return cache[k]

        return cached

    schedule_of = sla._Schedules.get
    sla._Schedules.get = memoized(schedule_of, lambda self, business_hours_id: business_hours_id)
    sla.applicable_target = memoized(
        sla.applicable_target, lambda *, ticket: (ticket.priority, ticket.inbox_id, ticket.team_id)
    )
    sla._business_hours_id = memoized(sla._business_hours_id, lambda ticket: (ticket.inbox_id, ticket.team_id))
    routing._team_strategy = memoized(routing._team_strategy, lambda team_id: team_id)
    rules = list(RoutingRule.objects.filter(is_active=True).prefetch_related("add_tags").order_by("position", "id"))

    def matching_rules(*, facts):
        matched = []
        for rule in rules:
            if routing.rule_matches(rule, facts):
                matched.append(rule)
                if rule.stop_processing:
                    break
        return matched

    routing.matching_rules = matching_rules
    mailboxes = {mailbox.address: mailbox for mailbox in Mailbox.objects.select_related("inbox").filter(is_active=True)}

    def addressed_mailbox(parsed):
        for address in [*parsed.delivered_to, *parsed.to, *parsed.cc]:
            local, _, domain = address.partition("@")
            for candidate in (address, f"{local.split('+', 1)[0]}@{domain}"):
                if candidate in mailboxes:
                    return mailboxes[candidate]
        return None

    email_inbound._addressed_mailbox = addressed_mailbox


def ingest_worker(index, url, ref, fake_url, warm, timed, barrier, results, options):
    """One process: warm up, wait for the others, then push its timed items and report."""
    os.environ.update(options.get("env", {}))
    setup_django(url, migrate=False)
    from django.db import connection

    if options.get("experiments"):
        apply_experiments(options["experiments"])
    ingest = Ingester(ref["webhook_key"], fake_url)
    for item in warm:
        ingest(item)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cursor.fetchone()
    samples: list[Sample] = []
    profiler = cProfile.Profile() if options.get("profile") else None
    counter = SqlCounter(timed=bool(profiler))
    barrier.wait()
    cpu_before, db_cpu_before = cpu_seconds(), cpu_seconds(backend_pid)
    started = time.monotonic()
    with connection.execute_wrapper(counter):
        if profiler:
            profiler.enable()
        for item, duplicate in timed:
            queries, sql_seconds, cpu0 = counter.queries, counter.seconds, cpu_seconds()
            t0 = time.perf_counter()
            outcome = ingest(item)
            t1 = time.perf_counter()
            kind = "duplicate" if duplicate else "new" if item.new else "follow-up"
            samples.append(
                Sample(item.channel, kind, outcome, t1 - t0, time.monotonic(), counter.queries - queries,
                       counter.seconds - sql_seconds, cpu_seconds() - cpu0)
            )  # fmt: skip
        if profiler:
            profiler.disable()
    finished = time.monotonic()
    cpu, db_cpu = cpu_seconds() - cpu_before, cpu_seconds(backend_pid)
    db_cpu = db_cpu - db_cpu_before if db_cpu is not None and db_cpu_before is not None else None
    stats = None
    if profiler:
        out = io.StringIO()
        stats_object = pstats.Stats(profiler, stream=out)
        stats_object.sort_stats("cumulative").print_stats(45)
        stats_object.sort_stats("tottime").print_stats(30)
        stats = out.getvalue()
    results.put({"index": index, "started": started, "finished": finished, "samples": samples, "profile": stats,
                 "cpu": cpu, "db_cpu": db_cpu})  # fmt: skip


def ack_worker(url, redis_url, key, requests, warmup, results):
    """Separate process: REDIS_URL set before Django starts, so Celery is not eager and .delay() enqueues."""
    os.environ["REDIS_URL"] = redis_url
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    setup_django(url, migrate=False)
    from django.conf import settings
    from django.test import Client

    from helpdesk.celery import app

    assert not settings.CELERY_TASK_ALWAYS_EAGER, "Celery must not be eager here"
    assert app.conf.broker_url == redis_url
    purged_before = app.control.purge()
    rng = random.Random(7)
    args = argparse.Namespace(line_share=1.0, new_share=0.5)
    traffic = Traffic(rng, f"ack{os.getpid()}", args)
    items = traffic.items(warmup + requests)
    client, path = Client(SERVER_NAME="localhost"), f"/webhooks/line/{key}/"
    samples = []
    for number, item in enumerate(items):
        t0 = time.perf_counter()
        response = client.post(path, item.data, content_type="application/json", HTTP_X_LINE_SIGNATURE=item.signature)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise RuntimeError(f"LINE webhook answered {response.status_code}")
        if number >= warmup:
            samples.append(elapsed * 1000)
    purged = app.control.purge()
    # What kombu left in the bench's Redis database: the exchange bindings of the (now empty) queue.
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        bindings = list(client.scan_iter("_kombu.binding*"))
        if bindings and not client.llen("celery"):
            client.delete(*bindings)
    results.put({"samples": samples, "queued": purged, "purged_before": purged_before})


# --- Phases ---------------------------------------------------------------------------------------------


def run_phase(args, ref, fake, run: int, processes: int, options: dict) -> dict:
    """Reset, generate, spawn `processes` workers, collect, verify. Returns the phase's figures."""
    from django.db.models import Count

    from channels_app.models import Quarantine
    from helpdesk.models import Message, Ticket

    reset_data(args.media_root)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    share = [args.messages // processes + (1 if k < args.messages % processes else 0) for k in range(processes)]
    plans, expected_tickets, sent_ids, duplicates_sent = [], 0, set(), 0
    for k in range(processes):
        rng = random.Random(f"{args.seed}-{run}-{processes}-{k}")
        traffic = Traffic(rng, f"r{run}p{processes}w{k}", args)
        warm = traffic.items(args.warmup)
        timed = with_duplicates(rng, traffic.items(share[k]), args.duplicates)
        for user_id, name in traffic.profiles.items():
            fake.add_profile(user_id, name)
        for message_id, data in traffic.contents.items():
            fake.add_content(message_id, data, "image/png")
        expected_tickets += traffic.new_customers + len(traffic.groups_used)
        sent_ids.update(item.external_id for item in warm)
        sent_ids.update(item.external_id for item, _ in timed)
        duplicates_sent += sum(duplicate for _, duplicate in timed)
        plans.append((warm, timed))

    from django.db import connection

    connection.close()  # children connect on their own; nothing is inherited with spawn anyway
    workers = [
        context.Process(
            target=ingest_worker,
            args=(k, args.database_url, ref, fake.url, warm, timed, barrier, results, options),
            name=f"ingest-{k}",
        )
        for k, (warm, timed) in enumerate(plans)
    ]
    for worker in workers:
        worker.start()
    reports = []
    while len(reports) < processes:
        try:
            reports.append(results.get(timeout=5))
        except Exception:  # queue.Empty: check nobody died
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead:
                for worker in workers:
                    if worker.is_alive():
                        worker.terminate()
                raise RuntimeError(f"worker {dead[0].name} failed (exit {dead[0].exitcode})") from None
    for worker in workers:
        worker.join()

    samples = [sample for report in reports for sample in report["samples"]]
    started = min(report["started"] for report in reports)
    finished = max(report["finished"] for report in reports)
    elapsed = finished - started
    unique = [sample for sample in samples if sample.kind != "duplicate"]
    stored = sum(1 for sample in unique if sample.outcome == "stored")

    # Verification: every unique item stored once, every re-sent one recognized, follow-ups threaded.
    problems = []
    unexpected = [
        (x.channel, x.kind, x.outcome)
        for x in samples
        if x.outcome != ("duplicate" if x.kind == "duplicate" else "stored")
    ]
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected outcomes, e.g. {unexpected[:3]}")
    inbound = Message.objects.filter(kind="message", direction="inbound")
    stored_rows = inbound.count()
    if stored_rows != len(sent_ids):
        problems.append(f"{stored_rows} inbound messages stored for {len(sent_ids)} sent")
    doubled = inbound.values("inbox_id", "external_id").annotate(n=Count("id")).filter(n__gt=1).count()
    if doubled:
        problems.append(f"{doubled} external ids stored more than once")
    missing = len(sent_ids - set(inbound.values_list("external_id", flat=True)))
    if missing:
        problems.append(f"{missing} sent items not stored")
    quarantined = Quarantine.objects.count()
    if quarantined:
        reasons = list(Quarantine.objects.values_list("reason", flat=True)[:3])
        problems.append(f"{quarantined} items quarantined: {reasons}")
    tickets = Ticket.objects.count()
    if tickets != expected_tickets:
        problems.append(f"{tickets} tickets for {expected_tickets} expected (new customers + group chats)")
    recognized = sum(1 for x in samples if x.kind == "duplicate" and x.outcome == "duplicate")

    thirds = []
    for part in range(3):
        lo, hi = started + elapsed * part / 3, started + elapsed * (part + 1) / 3
        if part == 2:
            hi = finished + 1
        done = sum(1 for x in unique if x.outcome == "stored" and lo <= x.done_at < hi)
        thirds.append(done / (elapsed / 3))
    groups = {
        "email": [x for x in unique if x.channel == "email"],
        "  email, new customer": [x for x in unique if x.channel == "email" and x.kind == "new"],
        "  email, follow-up": [x for x in unique if x.channel == "email" and x.kind == "follow-up"],
        "line": [x for x in unique if x.channel == "line"],
        "  line, new customer": [x for x in unique if x.channel == "line" and x.kind == "new"],
        "  line, follow-up": [x for x in unique if x.channel == "line" and x.kind == "follow-up"],
        "re-sent duplicates": [x for x in samples if x.kind == "duplicate"],
    }
    channels = {}
    for label, mine in groups.items():
        if mine:
            p50, p95, p99 = (
                percentiles([x.seconds * 1000 for x in mine]) if len(mine) > 1 else (mine[0].seconds * 1000,) * 3
            )
            channels[label] = {
                "count": len(mine), "p50": p50, "p95": p95, "p99": p99,
                "mean": statistics.fmean(x.seconds * 1000 for x in mine),
                "queries": statistics.fmean(x.queries for x in mine),
                "sql_ms": statistics.fmean(x.sql_seconds * 1000 for x in mine),
                "cpu_ms": statistics.fmean(x.cpu_seconds * 1000 for x in mine),
            }  # fmt: skip
    cpu = sum(report["cpu"] for report in reports)
    db_cpus = [report["db_cpu"] for report in reports]
    db_cpu = sum(db_cpus) if None not in db_cpus else None
    return {
        "cpu_ms": cpu * 1000 / stored, "db_cpu_ms": db_cpu * 1000 / stored if db_cpu is not None else None,
        "queries": statistics.fmean(x.queries for x in unique),
        "processes": processes, "stored": stored, "elapsed": elapsed, "rate": stored / elapsed, "thirds": thirds,
        "items": len(samples), "channels": channels, "problems": problems, "duplicates_sent": duplicates_sent,
        "duplicates_recognized": recognized, "tickets": tickets, "rows": stored_rows,
        "profiles": [report["profile"] for report in reports if report["profile"]],
    }  # fmt: skip


def run_ack(args, ref) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(
        target=ack_worker,
        args=(args.database_url, args.redis_url, ref["webhook_key"], args.ack_requests, 50, results),
        name="line-ack",
    )
    process.start()
    while True:
        try:
            report = results.get(timeout=5)
            break
        except Exception:
            if process.exitcode not in (None, 0):
                raise RuntimeError(f"ack process failed (exit {process.exitcode})") from None
    process.join()
    p50, p95, p99 = percentiles(report["samples"])
    return {"p50": p50, "p95": p95, "p99": p99, "max": max(report["samples"]), "queued": report["queued"],
            "purged_before": report["purged_before"]}  # fmt: skip


def print_phase(phase: dict) -> None:
    thirds = " / ".join(f"{rate:.0f}" for rate in phase["thirds"])
    print(
        f"  {phase['processes']} process{'es' if phase['processes'] > 1 else ''}: {phase['stored']} stored in "
        f"{phase['elapsed']:.1f} s = {phase['rate']:.1f} msg/s (by thirds of the run: {thirds}); "
        f"{phase['duplicates_recognized']}/{phase['duplicates_sent']} duplicates recognized; "
        f"{phase['tickets']} tickets, {phase['rows']} inbound rows"
    )
    for label, figures in phase["channels"].items():
        sql = f", {figures['sql_ms']:.1f} ms in SQL" if figures["sql_ms"] else ""
        print(
            f"    {label:<22} {figures['count']:>5}  p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms  "
            f"p99 {figures['p99']:6.1f} ms  mean {figures['mean']:6.1f} ms  app CPU {figures['cpu_ms']:5.1f} ms  "
            f"{figures['queries']:5.1f} statements{sql}"
        )
    print(f"    {phase['queries']:.1f} SQL statements per message; {cpu_line(phase)}")
    for problem in phase["problems"]:
        print(f"    VERIFICATION FAILED: {problem}")


def cpu_line(phase: dict) -> str:
    text = f"CPU per stored message: app {phase['cpu_ms']:.1f} ms"
    if phase["db_cpu_ms"] is None:
        return text
    total = phase["cpu_ms"] + phase["db_cpu_ms"]
    ceiling = 2000 / total
    return (
        f"{text} + PostgreSQL {phase['db_cpu_ms']:.1f} ms = {total:.1f} ms (2-core CPU ceiling ≈ {ceiling:.0f} msg/s)"
    )


def code_revision() -> str:
    """The commit measured, and whether the working tree had changes (others edit the application meanwhile)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    changed = [line for line in dirty.stdout.splitlines() if line.strip() and "bench/" not in line]
    return head.stdout.strip() + (f" + {len(changed)} uncommitted file(s)" if changed else "")


def redis_connections(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("stats")["total_connections_received"])


def redis_cleanup(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    return len(keys)


def main(argv=None) -> int:
    args = parse_args(argv)
    ensure_database(args.database_url)
    media_root = Path(tempfile.mkdtemp(prefix="helpdesk-ingest-bench-media-"))
    os.environ["MEDIA_ROOT"] = str(media_root)  # inherited by the spawned processes
    args.media_root = media_root
    try:
        return _main(args)
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


def _main(args) -> int:
    setup_django(args.database_url, migrate=True)
    from django.db import connection

    from tests.channels_app.line_fake import ACCESS_TOKEN, running_fake_line_api

    ref = reference_data()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(
        f"database: {connection.settings_dict['NAME']}  {version.split(',')[0]}  cpus={os.cpu_count()}  "
        f"code: {code_revision()}  load average (1 min) {os.getloadavg()[0]:.2f}"
    )
    print(
        f"messages={args.messages} per measurement (+{args.warmup} warm-up per process, +{args.duplicates:.0%} "
        f"re-sent)  LINE share={args.line_share:.0%}  new customers={args.new_share:.0%}  runs={args.runs}  "
        f"processes={args.process_counts}"
    )

    options: dict = {"experiments": [name for name in args.experiments if name != "redis-layer"]}
    if "redis-layer" in args.experiments:
        options["env"] = {"REDIS_URL": args.redis_url, "CELERY_TASK_ALWAYS_EAGER": "1",
                          "CHANNEL_LAYER_PREFIX": REDIS_LAYER_PREFIX}  # fmt: skip
    if args.experiments:
        print("EXPERIMENT (monkeypatched or reconfigured workers; not the measurement):")
        for name in args.experiments:
            print(f"  {name}: {EXPERIMENTS[name]}")
    if args.profile:
        with running_fake_line_api(access_token=ACCESS_TOKEN) as fake:
            phase = run_phase(args, ref, fake, 0, 1, {**options, "profile": True})
        print("DIAGNOSIS (cProfile and SQL timing on: slower than the measurement, not a result)")
        print_phase(phase)
        for text in phase["profiles"]:
            print(text)
        return 1 if phase["problems"] else 0

    rounds: list[dict] = []
    failed = False
    for run in range(1, args.runs + 1):
        print(f"\nround {run}/{args.runs}")
        figures: dict = {}
        if not args.ack_only:
            with running_fake_line_api(access_token=ACCESS_TOKEN) as fake:
                for processes in args.process_counts:
                    redis_before = redis_connections(args.redis_url) if "redis-layer" in args.experiments else 0
                    phase = run_phase(args, ref, fake, run, processes, options)
                    print_phase(phase)
                    if "redis-layer" in args.experiments:
                        opened = redis_connections(args.redis_url) - redis_before
                        print(f"    Redis connections opened: {opened} ({opened / phase['items']:.1f} per item)")
                    failed = failed or bool(phase["problems"])
                    figures[processes] = phase
            if "redis-layer" in args.experiments:
                redis_cleanup(args.redis_url, REDIS_LAYER_PREFIX)
        if not args.skip_ack:
            ack = run_ack(args, ref)
            figures["ack"] = ack
            print(
                f"  LINE webhook ack (queued to {args.redis_url}, not processed): p50 {ack['p50']:.2f} ms  "
                f"p95 {ack['p95']:.2f} ms  p99 {ack['p99']:.2f} ms  max {ack['max']:.1f} ms over "
                f"{args.ack_requests} POSTs; {ack['queued']} queued tasks purged"
            )
        print(f"  load average (1 min) {os.getloadavg()[0]:.2f}")
        rounds.append(figures)

    print(f"\nsummary: medians of {args.runs} rounds (per-round values in brackets)")
    headline = None
    if not args.ack_only:
        for processes in args.process_counts:
            phases = [r[processes] for r in rounds]
            median = statistics.median(phase["rate"] for phase in phases)
            each = ", ".join(f"{phase['rate']:.1f}" for phase in phases)
            print(f"  {processes} process{'es' if processes > 1 else ' '}: {median:7.1f} msg/s  [{each}]")
            for label in phases[0]["channels"]:
                values = [phase["channels"][label] for phase in phases if label in phase["channels"]]
                p50s = ", ".join(f"{v['p50']:.1f}" for v in values)
                print(
                    f"      {label:<22} p50 {statistics.median(v['p50'] for v in values):6.1f} ms [{p50s}]  "
                    f"p95 {statistics.median(v['p95'] for v in values):6.1f} ms  "
                    f"app CPU {statistics.median(v['cpu_ms'] for v in values):5.1f} ms  "
                    f"{statistics.median(v['queries'] for v in values):5.1f} statements"
                )
            cpu = statistics.median(phase["cpu_ms"] for phase in phases)
            db = [phase["db_cpu_ms"] for phase in phases]
            text = f"      CPU per message: app {cpu:.1f} ms"
            if None not in db:
                db_ms = statistics.median(db)
                text += f" + PostgreSQL {db_ms:.1f} ms (2-core CPU ceiling ≈ {2000 / (cpu + db_ms):.0f} msg/s)"
            queries = statistics.median(phase["queries"] for phase in phases)
            print(f"{text}; {queries:.1f} SQL statements per message")
            headline = median
    if not args.skip_ack:
        for key in ("p50", "p95", "p99"):
            values = [r["ack"][key] for r in rounds]
            print(f"  LINE ack {key}: {statistics.median(values):6.2f} ms  [{', '.join(f'{v:.2f}' for v in values)}]")
        ack_p99 = statistics.median(r["ack"]["p99"] for r in rounds)
        verdict = "meets" if ack_p99 <= TARGET_ACK_P99_MS else "MISSES"
        print(f"  ack p99 {ack_p99:.2f} ms {verdict} the target (<= {TARGET_ACK_P99_MS} ms)")
    if failed:
        print("VERIFICATION FAILED in at least one round (see above)")
    if headline is not None and args.experiments:
        print(f"  EXPERIMENT {','.join(args.experiments)}: not the measurement")
        print(f"experiment_msgs_per_s: {headline:.1f}")
    elif headline is not None:
        verdict = "meets" if headline >= TARGET_MSGS_PER_S else "MISSES"
        print(f"  {args.process_counts[-1]}-process throughput {verdict} the target (>= {TARGET_MSGS_PER_S} msg/s)")
        print(f"ingest_msgs_per_s: {headline:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
