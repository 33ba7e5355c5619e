"""Our own marks on outgoing mail, so replies find their ticket and forged references do not.

Every Message-ID we send names its ticket and carries a short HMAC made with SECRET_KEY:
`<t123.m456.3f9a1c2b7e@example.com>`. A reply that quotes it in In-Reply-To or References can be
threaded without a database lookup, and nobody can attach mail to a ticket by guessing its number.
Subjects carry a visible token `[#123]` too, for clients that drop the headers.
"""

import hmac
import re
import secrets
from hashlib import sha256

from django.conf import settings

_OUR_ID = re.compile(r"^t(?P<ticket>\d{1,18})\.m(?P<message>\d{1,18})\.(?P<nonce>[0-9a-f]{6})\.(?P<sig>[0-9a-f]{10})@")
_SUBJECT_TOKEN = re.compile(r"\[#(?P<ticket>\d{1,18})\]")


def _signature(*parts: str) -> str:
    key = f"helpdesk-email:{settings.SECRET_KEY}".encode()
    return hmac.new(key, ".".join(parts).encode(), sha256).hexdigest()[:10]


def make_message_id(*, ticket_id: int, message_id: int, domain: str) -> str:
    """A Message-ID (without angle brackets) for one outgoing message."""
    nonce = secrets.token_hex(3)
    signature = _signature(str(ticket_id), str(message_id), nonce)
    return f"t{ticket_id}.m{message_id}.{nonce}.{signature}@{domain}"


def ticket_of_message_id(message_id: str) -> int | None:
    """The ticket named by one of our Message-IDs, if the id is ours and untampered."""
    match = _OUR_ID.match(message_id.strip().strip("<>"))
    if match is None:
        return None
    expected = _signature(match["ticket"], match["message"], match["nonce"])
    if not hmac.compare_digest(expected, match["sig"]):
        return None
    return int(match["ticket"])


def subject_with_token(subject: str, ticket_id: int) -> str:
    token = f"[#{ticket_id}]"
    return subject if token in subject else f"{subject} {token}".strip()


def ticket_of_subject(subject: str) -> int | None:
    match = _SUBJECT_TOKEN.search(subject or "")
    return int(match["ticket"]) if match else None
