"""Inbound mail from email providers' webhooks (Postmark, Mailgun, SendGrid, Amazon SES, ...) through
django-anymail, which verifies each request (basic auth with ANYMAIL_WEBHOOK_SECRET, plus the
provider's own signature where it has one) and hands us the message, here turned back into raw bytes."""

from __future__ import annotations

import logging

from channels_app import intake
from channels_app.email.inbound import incoming_email
from channels_app.models import IntakeSource

logger = logging.getLogger(__name__)


def on_inbound(sender, event, esp_name, **kwargs) -> None:
    raw = event.message.as_bytes() if event.message is not None else b""
    intake.accept([incoming_email(raw, source=IntakeSource.PROVIDER)])
    logger.info("%s inbound webhook: mail accepted (%s bytes)", esp_name, len(raw))
