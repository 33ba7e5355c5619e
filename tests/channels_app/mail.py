"""Building test mail the way mail clients write it."""

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone


def mail(
    *,
    sender="Hanako Tanaka <hanako@example.jp>",
    to="support@example.com",
    subject="Order A-1029 has not arrived",
    body="My order has not arrived yet.",
    message_id=None,
    in_reply_to=None,
    references=None,
    headers=None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id or make_msgid(domain="example.jp")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()
