"""Mail out through Django's email backends (SMTP by default, any anymail backend by settings)."""

from __future__ import annotations

import logging
import smtplib
import socket

from django.core.mail import EmailMultiAlternatives, get_connection

from channels_app.adapters import OutboundMessage, SendResult
from customers.models import ChannelKind

logger = logging.getLogger(__name__)

# Failures worth another try: the server or the network, not the message or the address.
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError, OSError)


class EmailAdapter:
    kind = ChannelKind.EMAIL

    def __init__(self, *, from_address: str, from_name: str = ""):
        self.from_address = from_address
        self.from_name = from_name

    def send(self, outbound: OutboundMessage) -> SendResult:
        context = outbound.context
        message_id = context["message_id"]
        references = [*context.get("references", [])]
        headers = {
            "Message-ID": f"<{message_id}>",
            # RFC 3834: answers from a helpdesk are not personal mail; clients and robots should not auto-reply.
            "Auto-Submitted": "auto-replied" if context.get("automatic") else "no",
            "X-Auto-Response-Suppress": "All",
            "X-Loop": self.from_address,
        }
        if context.get("in_reply_to"):
            headers["In-Reply-To"] = f"<{context['in_reply_to']}>"
        if references:
            headers["References"] = " ".join(f"<{ref}>" for ref in references[-20:])
        sender = f"{self.from_name} <{self.from_address}>" if self.from_name else self.from_address
        mail = EmailMultiAlternatives(
            subject=outbound.subject, body=outbound.text, from_email=sender, to=[outbound.recipient], headers=headers
        )
        if outbound.html:
            mail.attach_alternative(outbound.html, "text/html")
        for attachment in outbound.attachments:
            mail.attach(attachment.filename, attachment.content, attachment.content_type)
        try:
            with get_connection() as connection:
                connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as error:
            return SendResult(ok=False, error=f"recipient refused: {error.recipients}")
        except smtplib.SMTPResponseException as error:
            return SendResult(
                ok=False, transient=400 <= error.smtp_code < 500, error=f"{error.smtp_code} {error.smtp_error!r}"
            )
        except TRANSIENT_ERRORS as error:
            return SendResult(ok=False, transient=True, error=f"{type(error).__name__}: {error}")
        return SendResult(ok=True, provider_id=message_id)
