"""LINE Messaging API calls the helpdesk makes: reply, push, a user's profile, and the content of a media
message. Every send reports a `SendResult`; nothing here retries or touches tickets.

Plain urllib rather than linebot.v3's generated client: the SDK's blob API pins its host to
https://api-data.line.me (so it cannot be pointed at a test server), and answers other than 2xx arrive as
exceptions that would be translated back into status codes anyway.

Reference: https://developers.line.biz/en/reference/messaging-api/ and
https://developers.line.biz/en/docs/messaging-api/retrying-api-request/
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email.message import Message
from typing import Any

from channels_app.adapters import SendResult

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 5000  # characters of one text message object (LINE counts UTF-16 code units)
MAX_MESSAGES_PER_REQUEST = 5
_MAX_JSON_RESPONSE = 1024 * 1024
_CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class LineProfile:
    user_id: str
    display_name: str
    picture_url: str = ""
    language: str = ""  # BCP 47; absent until the user accepts LINE's privacy policy


@dataclasses.dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """LINE's API does not redirect; following one would hand the access token to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class LineClient:
    def __init__(
        self,
        channel_access_token: str,
        *,
        api_base: str = "https://api.line.me",
        data_base: str = "https://api-data.line.me",
        timeout: float = 5.0,
    ) -> None:
        for base in (api_base, data_base):
            if urllib.parse.urlsplit(base).scheme not in ("https", "http"):
                raise ValueError(f"not an http(s) URL: {base!r}")
        self._token = channel_access_token
        self._api_base = api_base.rstrip("/")
        self._data_base = data_base.rstrip("/")
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def reply(self, reply_token: str, texts: list[str]) -> SendResult:
        """Answer the event that carried `reply_token` (free; the token works once, shortly after the event).

        A reply is one request, so it takes at most five message objects; longer answers have to be pushed.
        """
        messages = text_messages(texts)
        if not messages:
            return SendResult(ok=False, error="nothing to send")
        if len(messages) > MAX_MESSAGES_PER_REQUEST:
            return SendResult(
                ok=False, error=f"{len(messages)} message objects do not fit in one reply (at most 5); push instead"
            )
        return self._send("/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})

    def push(self, to: str, texts: list[str], *, retry_key: str | None = None) -> SendResult:
        """Send to a user, group or room id at any time, five message objects a request.

        With `retry_key` (a UUID, the same for every attempt to send this content) LINE accepts each
        request once: a retry after a timeout or a 5xx cannot deliver twice. A request already accepted
        answers 409, which counts as sent here. Each request of a long push uses its own key derived
        from `retry_key`, so a retry resends only what was not accepted.
        """
        if retry_key is not None:
            retry_key = str(uuid.UUID(retry_key))  # LINE refuses a key that is not a UUID (400)
        messages = text_messages(texts)
        if not messages:
            return SendResult(ok=False, error="nothing to send")
        batches = [
            messages[start : start + MAX_MESSAGES_PER_REQUEST]
            for start in range(0, len(messages), MAX_MESSAGES_PER_REQUEST)
        ]
        request_ids = []
        for index, batch in enumerate(batches):
            headers = {"X-Line-Retry-Key": _batch_retry_key(retry_key, index)} if retry_key else {}
            result = self._send("/v2/bot/message/push", {"to": to, "messages": batch}, headers=headers)
            if not result.ok:
                if len(batches) > 1:
                    result = dataclasses.replace(result, error=f"request {index + 1}/{len(batches)}: {result.error}")
                return result
            request_ids.append(result.provider_id)
        return SendResult(ok=True, provider_id=",".join(request_ids))

    def get_profile(self, user_id: str) -> LineProfile | None:
        """The user's display name, picture and language; None if LINE will not say (not a friend,
        blocked, unknown) or cannot be reached."""
        path = f"/v2/bot/profile/{urllib.parse.quote(user_id, safe='')}"
        try:
            response = self._request("GET", self._api_base + path, max_bytes=_MAX_JSON_RESPONSE)
        except (OSError, http.client.HTTPException, _TooLarge) as exc:
            logger.warning("LINE profile of %s: %r", user_id, exc)
            return None
        profile = response.json() if response.status == 200 else None
        if not isinstance(profile, dict) or not isinstance(profile.get("displayName"), str):
            logger.warning("LINE profile of %s: HTTP %s", user_id, response.status)
            return None
        return LineProfile(
            user_id=_text(profile.get("userId")) or user_id,
            display_name=profile["displayName"],
            picture_url=_text(profile.get("pictureUrl")),
            language=_text(profile.get("language")),
        )

    def get_content(self, message_id: str, max_bytes: int) -> tuple[bytes, str] | None:
        """The image, video, audio or file a user sent, and its content type; None when it is larger than
        `max_bytes`, not ready (LINE may still be preparing a video), gone, or unreachable."""
        path = f"/v2/bot/message/{urllib.parse.quote(message_id, safe='')}/content"
        try:
            response = self._request("GET", self._data_base + path, max_bytes=max_bytes)
        except _TooLarge:
            logger.warning("LINE content of message %s is larger than %s bytes", message_id, max_bytes)
            return None
        except (OSError, http.client.HTTPException) as exc:
            logger.warning("LINE content of message %s: %s", message_id, exc)
            return None
        if response.status != 200:
            logger.warning("LINE content of message %s: HTTP %s", message_id, response.status)
            return None
        return response.body, response.headers.get("Content-Type", "")

    def _send(self, path: str, payload: dict, *, headers: dict[str, str] | None = None) -> SendResult:
        headers = headers or {}
        try:
            response = self._request(
                "POST", self._api_base + path, payload=payload, headers=headers, max_bytes=_MAX_JSON_RESPONSE
            )
        except (OSError, http.client.HTTPException) as exc:
            # A timeout may hide an accepted request: only a retry key makes a retry safe.
            return SendResult(ok=False, transient=True, error=f"LINE unreachable: {exc}")
        except _TooLarge:
            return SendResult(ok=False, transient=True, error="LINE answered with an oversized body")
        request_id = response.headers.get("x-line-request-id", "")
        if 200 <= response.status < 300:
            return SendResult(ok=True, provider_id=request_id)
        if response.status == 409 and "X-Line-Retry-Key" in headers:
            # "The retry key is already accepted": an earlier attempt delivered it.
            return SendResult(ok=True, provider_id=response.headers.get("x-line-accepted-request-id") or request_id)
        error = f"HTTP {response.status}: {_error_message(response)}"
        transient = response.status == 429 or response.status >= 500
        return SendResult(ok=False, transient=transient, error=error)

    def _request(
        self,
        method: str,
        url: str,
        *,
        max_bytes: int,
        payload: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Response:
        request = urllib.request.Request(  # noqa: S310 (the bases are checked to be http(s) in __init__)
            url,
            method=method,
            data=json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None,
            headers={
                "Authorization": f"Bearer {self._token}",
                "User-Agent": "helpdesk-line-client",
                **({"Content-Type": "application/json"} if payload is not None else {}),
                **(headers or {}),
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _Response(response.status, response.headers, _read_bounded(response, max_bytes))
        except urllib.error.HTTPError as error:
            with error:
                return _Response(error.code, error.headers, _read_bounded(error, _MAX_JSON_RESPONSE, strict=False))


class _TooLarge(Exception):
    pass


def text_messages(texts: list[str]) -> list[dict]:
    """Text message objects for `texts`: blank texts left out, long ones split to LINE's limit."""
    return [{"type": "text", "text": chunk} for text in texts if text.strip() for chunk in split_text(text)]


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most `limit` UTF-16 code units that join back into `text`, cut after a line break or
    a space where one is near the limit, and never inside a surrogate pair."""
    pieces = []
    rest = text
    while _utf16_length(rest) > limit:
        cut = _fitting_prefix(rest, limit)
        for separator in ("\n", " "):
            position = rest.rfind(separator, 0, cut)
            if position >= cut // 2:
                cut = position + 1
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def _utf16_length(text: str) -> int:
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def _fitting_prefix(text: str, limit: int) -> int:
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _batch_retry_key(retry_key: str, index: int) -> str:
    return retry_key if index == 0 else str(uuid.uuid5(uuid.UUID(retry_key), f"batch-{index}"))


def _read_bounded(response: Any, max_bytes: int, *, strict: bool = True) -> bytes:
    """At most `max_bytes` of the body; `_TooLarge` (when strict) rather than a truncated body."""
    declared = response.headers.get("Content-Length")
    if strict and declared and declared.isdigit() and int(declared) > max_bytes:
        raise _TooLarge
    body = bytearray()
    while len(body) <= max_bytes:
        chunk = response.read(min(_CHUNK, max_bytes + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
    if strict:
        raise _TooLarge
    return bytes(body[:max_bytes])


def _error_message(response: _Response) -> str:
    """LINE's error body: {"message": "...", "details": [{"message": "...", "property": "..."}]}."""
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return response.body[:200].decode(errors="replace") or http.client.responses.get(response.status, "")
    details = [
        f"{detail.get('property')}: {detail.get('message')}" if detail.get("property") else str(detail.get("message"))
        for detail in data.get("details") or []
        if isinstance(detail, dict)
    ]
    return "; ".join([data["message"], *details])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
