"""Inbound webhooks. Each verifies its caller before anything else, bounds the body, answers fast and
leaves the work to a task: LINE retries a webhook that is slow to answer."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_app.line.webhook import MalformedWebhook, parse_webhook, verify_signature
from channels_app.models import LineAccount
from channels_app.tasks import process_line_webhook

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"detail": reason}, status=status)


@csrf_exempt
@require_POST
def line_webhook(request: HttpRequest, key: str) -> HttpResponse:
    account = LineAccount.objects.filter(webhook_key=key, is_active=True).only("pk", "channel_secret").first()
    if account is None:
        return _error(404, "Unknown webhook.")
    if int(request.headers.get("Content-Length") or 0) > MAX_WEBHOOK_BYTES:
        return _error(413, "Body too large.")
    body = request.body
    if len(body) > MAX_WEBHOOK_BYTES:
        return _error(413, "Body too large.")
    if not verify_signature(account.channel_secret, body, request.headers.get("x-line-signature")):
        logger.warning("LINE webhook %s: bad signature from %s", account.pk, request.META.get("REMOTE_ADDR"))
        return _error(401, "Invalid signature.")
    try:
        webhook = parse_webhook(body)
    except MalformedWebhook as error:
        return _error(400, f"Malformed webhook: {error}")
    if webhook.events:
        process_line_webhook.delay(account.pk, json.loads(body))
    return JsonResponse({"status": "ok", "events": len(webhook.events)})
