"""Inbound webhooks. Each verifies its caller before anything else, bounds the body, answers fast and
leaves the work to a task: LINE retries a webhook that is slow to answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_app import intake
from channels_app.line import inbound as line_inbound
from channels_app.line.webhook import MalformedWebhook, parse_webhook, verify_signature
from channels_app.models import LineAccount, PhoneLine
from channels_app.phone import Call, CallDirection, CallStatus, log_call
from helpdesk.configuration import cached

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"detail": reason}, status=status)


def _line_account(key: str) -> LineAccount | None:
    """The active LINE account of a webhook key, from the configuration cache: a busy account sends hundreds
    of webhooks a second, and guessed keys cost the database nothing."""
    accounts = cached(
        "line-webhook-keys", lambda: {a.webhook_key: a for a in LineAccount.objects.filter(is_active=True)}
    )
    return accounts.get(key)


@csrf_exempt
@require_POST
def line_webhook(request: HttpRequest, key: str) -> HttpResponse:
    account = _line_account(key)
    if account is None:
        return _error(404, "Unknown webhook.")
    if int(request.headers.get("Content-Length") or 0) > MAX_WEBHOOK_BYTES:
        return _error(413, "Body too large.")
    body = request.body
    if len(body) > MAX_WEBHOOK_BYTES:
        return _error(413, "Body too large.")
    if not verify_signature(account.channel_secret, body, request.headers.get("x-line-signature")):
        logger.warning("LINE webhook %s…: bad signature from %s", key[:6], request.META.get("REMOTE_ADDR"))
        return _error(401, "Invalid signature.")
    try:
        webhook = parse_webhook(body)
    except MalformedWebhook as error:
        return _error(400, f"Malformed webhook: {error}")
    if webhook.events:
        # Stored before we answer; processed after (LINE wants its answer fast, and redelivers otherwise).
        intake.accept(line_inbound.incoming(account, json.loads(body)["events"]))
    return JsonResponse({"status": "ok", "events": len(webhook.events)})


@csrf_exempt
@require_POST
def phone_webhook(request: HttpRequest, key: str) -> HttpResponse:
    """A telephony provider reports a call. Body: JSON {call_id, direction, from, to, status,
    duration_seconds, started_at, recording_url}; header `X-Helpdesk-Signature: sha256=<hex HMAC of the
    body with the line's signing secret>`."""
    line = PhoneLine.objects.select_related("inbox").filter(webhook_key=key, is_active=True).first()
    if line is None:
        return _error(404, "Unknown webhook.")
    body = request.body
    if len(body) > 64 * 1024:
        return _error(413, "Body too large.")
    expected = "sha256=" + hmac.new(line.signing_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Helpdesk-Signature", "")):
        return _error(401, "Invalid signature.")
    try:
        call = _call_from(json.loads(body), line)
    except (ValueError, TypeError, KeyError) as error:
        return _error(400, f"Malformed call: {error}")
    try:
        ticket, message = log_call(inbox=line.inbox, call=call, line=line)
    except ValidationError as error:
        return _error(400, "; ".join(error.messages))
    return JsonResponse({"status": "ok", "ticket": ticket.pk, "message": message.pk})


def _call_from(data: dict, line: PhoneLine) -> Call:
    if not isinstance(data, dict):
        raise TypeError("the body must be a JSON object")
    direction, status = data.get("direction", "inbound"), data.get("status", "completed")
    if direction not in CallDirection.values or status not in CallStatus.values:
        raise ValueError("unknown direction or status")
    number = data["from"] if direction == "inbound" else data["to"]
    started = parse_datetime(data["started_at"]) if data.get("started_at") else None
    duration = int(data.get("duration_seconds") or 0)
    recording = str(data.get("recording_url") or "")
    if recording and not recording.startswith("https://"):
        raise ValueError("recording_url must be an https URL")
    if not str(data["call_id"]).strip() or not 0 <= duration <= 86_400:
        raise ValueError("call_id is required and duration_seconds must be 0..86400")
    return Call(
        call_id=str(data["call_id"])[:120], direction=direction, number=str(number)[:40], status=status,
        duration_seconds=duration, started_at=started, recording_url=recording[:1000],
    )  # fmt: skip
