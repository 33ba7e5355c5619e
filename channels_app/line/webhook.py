"""LINE webhooks: check the `x-line-signature`, parse the body into plain dataclasses, and turn message
events into `InboundMessage`s. Nothing here touches tickets or the database.

Formats: https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects (and LINE's
OpenAPI definition, github.com/line/line-openapi `webhook.yml`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import mimetypes
from datetime import UTC, datetime
from typing import Any

from channels_app.adapters import InboundAttachment, InboundMessage, Sender

CHANNEL = "line"

EVENT_KINDS = frozenset({"message", "follow", "unfollow", "join", "leave", "postback", "unsend"})
MESSAGE_TYPES = frozenset({"text", "image", "video", "audio", "file", "location", "sticker"})

# What a media message is called in text, and what LINE serves when the content response does not say.
_MEDIA_LABEL = {"image": "Image", "video": "Video", "audio": "Audio", "file": "File"}
_MEDIA_DEFAULT_TYPE = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mp4"}
_MEDIA_DEFAULT_EXTENSION = {"image": ".jpg", "video": ".mp4", "audio": ".m4a", "file": ".bin"}


class MalformedWebhook(ValueError):
    """The body is not a LINE webhook (a signed body that fails here is a bug or a format change)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class LineMessage:
    id: str
    type: str  # one of MESSAGE_TYPES, or "other"
    raw_type: str
    text: str = ""  # text messages; the words of a message sticker
    quote_token: str = ""
    file_name: str = ""
    file_size: int | None = None
    sticker_package_id: str = ""
    sticker_id: str = ""
    location_title: str = ""
    location_address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    content_provider: str = ""  # image, video, audio: "line" (download it) or "external" (at original_content_url)
    original_content_url: str = ""

    @property
    def is_media(self) -> bool:
        return self.type in _MEDIA_LABEL

    @property
    def downloadable(self) -> bool:
        """Whether the content is kept by LINE (fetch it with `LineClient.get_content`)."""
        return self.is_media and self.content_provider != "external"


@dataclasses.dataclass(frozen=True)
class LineEvent:
    kind: str  # one of EVENT_KINDS, or "other"
    raw_type: str
    webhook_event_id: str
    mode: str  # "active"; "standby" while another channel (a module) has the chat: do not answer
    is_redelivery: bool
    timestamp: datetime
    reply_token: str = ""
    source_type: str = ""  # user, group, room
    user_id: str = ""
    group_id: str = ""
    room_id: str = ""
    message: LineMessage | None = None
    postback_data: str = ""
    unsent_message_id: str = ""

    @property
    def chat_id(self) -> str:
        """Where a push message reaches this chat: the group, the room, or the user."""
        return self.group_id or self.room_id or self.user_id


@dataclasses.dataclass(frozen=True)
class LineWebhook:
    destination: str  # the bot's user id
    events: list[LineEvent]  # empty for the console's "Verify" request


def verify_signature(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """x-line-signature is base64(HMAC-SHA256(channel secret, raw body))."""
    if not channel_secret or not signature:
        return False
    try:
        received = base64.b64decode(signature, validate=True)
    except ValueError:  # binascii.Error (not base64), or not ASCII at all
        return False
    expected = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, received)


def parse_webhook(body: bytes) -> LineWebhook:
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedWebhook(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedWebhook("the body is not a JSON object")
    events = data.get("events")
    if not isinstance(events, list):
        raise MalformedWebhook("no events list")
    return LineWebhook(
        destination=_str(data, "destination", "body"),
        events=[_parse_event(event, f"events[{index}]") for index, event in enumerate(events)],
    )


def parse_event(data: Any) -> LineEvent:
    """One event of a webhook body, as stored by the intake."""
    return _parse_event(data, "event")


def to_inbound(event: LineEvent, *, content: bytes | None = None, content_type: str = "") -> InboundMessage | None:
    """A message event as the pipeline takes it; None for every other event (follow, unfollow... are the
    pipeline's own business). `content` is the downloaded media of an image, video, audio or file."""
    message = event.message
    if event.kind != "message" or message is None:
        return None
    text, attachments = _text_and_attachments(message, content, content_type)
    metadata = {
        "reply_token": event.reply_token,
        "source_type": event.source_type,
        "chat_id": event.chat_id,
        "message_id": message.id,
        "message_type": message.raw_type,
        "mode": event.mode,
        "is_redelivery": event.is_redelivery,
        "timestamp": event.timestamp.isoformat(),
    }
    if message.quote_token:
        metadata["quote_token"] = message.quote_token
    if message.original_content_url:
        metadata["original_content_url"] = message.original_content_url
    if message.is_media and not attachments:
        metadata["content_missing"] = True
    return InboundMessage(
        channel=CHANNEL,
        external_id=event.webhook_event_id or message.id,
        # LINE vouches for the user id. It leaves it out for some group and room members (not on LINE for
        # iOS or Android, or not agreed to the terms): such a sender has no address, only the chat.
        sender=Sender(kind=CHANNEL, address=event.user_id, verified=bool(event.user_id)),
        text=text,
        attachments=attachments,
        conversation_key=_conversation_key(event),
        received_at=event.timestamp,
        metadata=metadata,
    )


def _text_and_attachments(
    message: LineMessage, content: bytes | None, content_type: str
) -> tuple[str, tuple[InboundAttachment, ...]]:
    if message.type == "text":
        return message.text, ()
    if message.type == "sticker":
        label = f"[Sticker {message.sticker_package_id}/{message.sticker_id}]"
        return (f"{label} {message.text}" if message.text else label), ()
    if message.type == "location":
        return _location_text(message), ()
    if message.is_media:
        text = f"[{_MEDIA_LABEL[message.type]}]"
        if message.file_name:
            text = f"{text} {message.file_name}"
        if message.content_provider == "external" and message.original_content_url:
            text = f"{text} {message.original_content_url}"
        if content is None:
            return text, ()
        return text, (_attachment(message, content, content_type),)
    return f"[Unsupported LINE message: {message.raw_type}]", ()


def _location_text(message: LineMessage) -> str:
    place = ", ".join(part for part in (message.location_title, message.location_address) if part)
    if message.latitude is None or message.longitude is None:
        return f"[Location] {place}".rstrip()
    latitude, longitude = message.latitude, message.longitude
    where = " ".join(part for part in (place, f"({latitude}, {longitude})") if part)
    return f"[Location] {where}\nhttps://www.google.com/maps?q={latitude},{longitude}"


def _attachment(message: LineMessage, content: bytes, content_type: str) -> InboundAttachment:
    content_type = content_type.split(";")[0].strip().lower()
    if not content_type:
        guessed = mimetypes.guess_type(message.file_name)[0] if message.file_name else None
        content_type = guessed or _MEDIA_DEFAULT_TYPE.get(message.type, "application/octet-stream")
    filename = message.file_name
    if not filename:
        extension = _MEDIA_DEFAULT_EXTENSION[message.type]
        if message.type == "image":  # LINE may keep PNGs and GIFs as they were sent
            extension = mimetypes.guess_extension(content_type) or extension
        filename = f"line-{message.id}{extension}"
    return InboundAttachment(filename=filename, content=content, content_type=content_type)


def _conversation_key(event: LineEvent) -> str:
    if event.group_id:
        return f"line-group:{event.group_id}"
    if event.room_id:
        return f"line-room:{event.room_id}"
    return ""


def _parse_event(event: Any, path: str) -> LineEvent:
    if not isinstance(event, dict):
        raise MalformedWebhook(f"{path} is not an object")
    raw_type = _str(event, "type", path, required=True)
    kind = raw_type if raw_type in EVENT_KINDS else "other"
    source = _object(event, "source", path)
    delivery_context = _object(event, "deliveryContext", path)
    message = None
    if kind == "message":
        message_object = _object(event, "message", path)
        if not message_object:
            raise MalformedWebhook(f"{path}: a message event without a message")
        message = _parse_message(message_object, f"{path}.message")
    return LineEvent(
        kind=kind,
        raw_type=raw_type,
        webhook_event_id=_str(event, "webhookEventId", path),
        mode=_str(event, "mode", path) or "active",
        is_redelivery=_bool(delivery_context, "isRedelivery", f"{path}.deliveryContext"),
        timestamp=_timestamp(event, path),
        reply_token=_str(event, "replyToken", path),
        source_type=_str(source, "type", f"{path}.source"),
        user_id=_str(source, "userId", f"{path}.source"),
        group_id=_str(source, "groupId", f"{path}.source"),
        room_id=_str(source, "roomId", f"{path}.source"),
        message=message,
        postback_data=_str(_object(event, "postback", path), "data", f"{path}.postback"),
        unsent_message_id=_str(_object(event, "unsend", path), "messageId", f"{path}.unsend"),
    )


def _parse_message(message: dict, path: str) -> LineMessage:
    raw_type = _str(message, "type", path, required=True)
    provider = _object(message, "contentProvider", path)
    return LineMessage(
        id=_str(message, "id", path, required=True),
        type=raw_type if raw_type in MESSAGE_TYPES else "other",
        raw_type=raw_type,
        text=_str(message, "text", path),
        quote_token=_str(message, "quoteToken", path),
        file_name=_str(message, "fileName", path),
        file_size=_int(message, "fileSize", path),
        sticker_package_id=_str(message, "packageId", path),
        sticker_id=_str(message, "stickerId", path),
        location_title=_str(message, "title", path),
        location_address=_str(message, "address", path),
        latitude=_number(message, "latitude", path),
        longitude=_number(message, "longitude", path),
        content_provider=_str(provider, "type", f"{path}.contentProvider"),
        original_content_url=_str(provider, "originalContentUrl", f"{path}.contentProvider"),
    )


def _timestamp(event: dict, path: str) -> datetime:
    milliseconds = _int(event, "timestamp", path)
    if milliseconds is None:
        raise MalformedWebhook(f"{path}.timestamp is missing")
    try:
        seconds = datetime.fromtimestamp(milliseconds // 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedWebhook(f"{path}.timestamp is out of range") from exc
    return seconds.replace(microsecond=milliseconds % 1000 * 1000)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _object(data: dict, key: str, path: str) -> dict:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{path}.{key} is not an object")
    return value


def _str(data: dict, key: str, path: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None or (required and value == ""):
        if required:
            raise MalformedWebhook(f"{path}.{key} is missing")
        return ""
    if not isinstance(value, str):
        raise MalformedWebhook(f"{path}.{key} is not a string")
    return value


def _int(data: dict, key: str, path: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedWebhook(f"{path}.{key} is not an integer")
    return value


def _number(data: dict, key: str, path: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedWebhook(f"{path}.{key} is not a number")
    return float(value)


def _bool(data: dict, key: str, path: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise MalformedWebhook(f"{path}.{key} is not a boolean")
    return value
