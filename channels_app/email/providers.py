"""Inbound mail from email providers' webhooks (Postmark, Mailgun, SendGrid, Amazon SES, ...) through
django-anymail, which verifies each request (basic auth with ANYMAIL_WEBHOOK_SECRET, plus the
provider's own signature where it has one) and hands us the message, here turned back into raw bytes."""

from __future__ import annotations

import logging

from channels_app.email.inbound import ingest_raw

logger = logging.getLogger(__name__)


def on_inbound(sender, event, esp_name, **kwargs) -> None:
    raw = event.message.as_bytes() if event.message is not None else b""
    outcome = ingest_raw(raw)
    logger.info("%s inbound webhook: %s %s", esp_name, outcome.outcome, outcome.detail)
