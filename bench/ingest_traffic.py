"""The inbound traffic of the ingest benchmark (bench/ingest.py): realistic mail and LINE webhook events.

Deterministic for a seed; each process gets customers of its own. About half the items come from new
customers, half are follow-ups: replies quoting earlier Message-IDs (In-Reply-To/References and a quoted
body), fresh mail from known senders (the continuity rule threads it), LINE users writing again, some in
group chats. Japanese mail is half ISO-2022-JP (classic clients), half UTF-8; some mail is
multipart/alternative HTML, some has a small attachment; LINE sends text, stickers, images (served by the
fake LINE API) and locations.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import time
from typing import NamedTuple

MAILBOX_ADDRESS = "support@bench.example.com"
LINE_SECRET = "bench-line-channel-secret"  # noqa: S105 (a fake account of the bench database)
LINE_BOT = "Ubench0000000000000000000000000000"

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
