"""Reading what chat sockets send: JSON objects of known types with fields of the right kind and size.
Anything else is a `FrameError` with the code and words the client gets back (the socket stays open)."""

from __future__ import annotations

import json
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_FRAME_BYTES = 64 * 1024  # a 10,000-character Japanese message is about 30 KB of UTF-8
MAX_TEXT = 10_000
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class FrameError(Exception):
    def __init__(self, code: str, detail: str, *, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.client_id = code, detail, client_id

    def frame(self) -> dict:
        frame = {"type": "error", "code": self.code, "detail": self.detail}
        if self.client_id:
            frame["client_id"] = self.client_id
        return frame


def decode(text_data: str | None, bytes_data: bytes | None) -> dict:
    if bytes_data is not None or text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
        raise FrameError("bad_frame", f"Send JSON text frames of at most {MAX_FRAME_BYTES // 1024} KiB.")
    try:
        content = json.loads(text_data)
    except ValueError:
        raise FrameError("bad_json", "Frames must be JSON objects.") from None
    if not isinstance(content, dict):
        raise FrameError("bad_frame", "Frames must be JSON objects.")
    if not isinstance(content.get("type"), str):
        raise FrameError("unknown_type", "A frame needs a type.")
    return content


def client_id(frame: dict) -> str:
    value = frame.get("client_id")
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise FrameError("bad_field", "client_id: 1 to 64 letters, digits or _.:-")
    return value


def text(frame: dict, *, field: str = "text") -> str:
    value = frame.get(field)
    identifier = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    if not isinstance(value, str) or not value.strip():
        raise FrameError("bad_field", f"{field}: some text.", client_id=identifier)
    value = _clean(value).strip()
    if not value or len(value) > MAX_TEXT:
        raise FrameError("bad_field", f"{field}: 1 to {MAX_TEXT} characters.", client_id=identifier)
    return value


def whole_number(frame: dict, field: str, *, default: int | None = None) -> int:
    value = frame.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise FrameError("bad_field", f"{field}: a whole number.")
    return value


def boolean(frame: dict, field: str) -> bool:
    value = frame.get(field)
    if not isinstance(value, bool):
        raise FrameError("bad_field", f"{field}: true or false.")
    return value


def optional_text(frame: dict, field: str, *, limit: int) -> str:
    value = frame.get(field, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise FrameError("bad_field", f"{field}: at most {limit} characters.")
    return _clean(value).strip()


def email(frame: dict, field: str = "email") -> str:
    value = optional_text(frame, field, limit=254)
    if not value:
        return ""
    if any(mark in value for mark in "\r\n"):
        raise FrameError("bad_field", f"{field}: an email address.")
    try:
        validate_email(value)
    except ValidationError:
        raise FrameError("bad_field", f"{field}: an email address.") from None
    return value.lower()


def language(frame: dict) -> str:
    value = frame.get("language")
    if not isinstance(value, str):
        return ""
    value = value.lower()[:2]
    return value if value in ("ja", "en") else ""


def _clean(value: str) -> str:
    """No NUL and no other control characters but line breaks and tabs (PostgreSQL text, and terminals)."""
    return "".join(character for character in value if character in "\n\t" or unicodedata.category(character) != "Cc")
