"""Inbound email as plain data: who wrote, what they wrote and attached, and whether a machine sent it.

`parse_email(raw)` raises nothing but `UnparseableEmail`, and that only for a message without a sender
address or without any content. Everything odd degrades instead: broken MIME structure, lying or
unknown charsets, broken base64, 8-bit headers, absurdly long headers.

The `email` package parses the structure (with the compat32 policy, which leaves header values raw);
header values, parameters and bodies are decoded here, so that raw 8-bit headers, encoded-words in
quoted filenames and the charsets Japanese mail uses (ISO-2022-JP with Windows extensions, Shift_JIS
as cp932, EUC-JP) all go through one tolerant decoder instead of turning into U+FFFD.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.policy
import email.utils
import hashlib
import io
import logging
import re
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message

from channels_app.adapters import InboundAttachment
from channels_app.email.charsets import decode_bytes
from channels_app.email.quoting import new_text_of
from helpdesk.sanitize import html_to_text, sanitize_html, strip_nul

logger = logging.getLogger(__name__)

_MAX_DEPTH = 30
_MAX_ADDRESS_LENGTH = 320
_MAX_ID_LENGTH = 998
_MAX_FILENAME_LENGTH = 200
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
_AUTOMATED_PRECEDENCE = {"bulk", "list", "junk"}
_SUPPRESSED_RESPONSES = {"all", "autoreply", "oof"}
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")
_LIST_HEADERS = ("list-id", "list-unsubscribe")
_ACTION_SEVERITY = {"failed": 3, "delayed": 2}


class UnparseableEmail(ValueError):
    """The message has no sender address, or nothing in it: quarantine it, do not make a ticket."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class ParsedEmail:
    message_id: str  # without angle brackets; "generated-<sha256 of the raw bytes>" when missing
    subject: str
    from_address: str  # lower-cased addr-spec from From (never Reply-To)
    from_name: str
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]  # Delivered-To, X-Original-To, Envelope-To
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: datetime | None
    text: str  # the whole plain-text body (derived from the HTML for HTML-only mail)
    html: str  # sanitized, or ""
    new_text: str  # the text without quoted earlier messages, signature and mobile footer
    attachments: tuple[InboundAttachment, ...]
    auto_submitted: str  # the Auto-Submitted keyword ("auto-replied", ...), "" when absent or "no"
    precedence: str  # the Precedence keyword, lower-cased ("bulk", "list", "junk", ...)
    x_loop: tuple[str, ...]
    is_automated: bool  # never acknowledge or auto-answer it (RFC 3834)
    report_type: str  # multipart/report's report-type: "delivery-status", "feedback-report", ...
    is_bounce: bool
    bounced_recipients: tuple[str, ...]
    bounce_action: str  # the most severe DSN Action: "failed", "delayed", "delivered", ...
    original_message_id: str  # of the returned or reported message, in a bounce or report
    is_complaint: bool  # an ARF feedback report (a recipient marked our mail as spam)
    raw_size: int
    defects: tuple[str, ...]  # MIME defects the parser worked around, for the quarantine view


def parse_email(raw: bytes) -> ParsedEmail:
    data = bytes(raw)
    if not data.strip():
        raise UnparseableEmail("empty message")
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
    except RecursionError as error:
        raise UnparseableEmail("MIME structure nested too deeply") from error
    headers = _header_table(message)
    senders = _addresses(headers.get("from", [])[:1])
    if not senders:
        raise UnparseableEmail("no sender address in From")
    from_name, from_address = senders[0]

    walker = _Walker()
    body = walker.visit(message)
    raw_html = _clean("\n".join(part for part in body.html if part.strip()))
    text = _clean("\n\n".join(part.strip("\n") for part in body.plain if part.strip())).strip()
    if not text and raw_html:
        text = html_to_text(raw_html)
    subject = _normalize_space(decode_header_value(_first(headers, "subject")))
    if not (subject or text or body.attachments):
        raise UnparseableEmail("no subject, body or attachment")

    report_type = walker.report_type
    has_status = bool(walker.content_types & {"message/delivery-status", "message/global-delivery-status"})
    is_bounce = report_type == "delivery-status" or (has_status and from_address.partition("@")[0] in _BOUNCE_SENDERS)
    is_complaint = report_type == "feedback-report" or "message/feedback-report" in walker.content_types
    auto_submitted = _keyword(_first(headers, "auto-submitted"))
    if auto_submitted == "no":
        auto_submitted = ""
    precedence = _keyword(_first(headers, "precedence"))
    is_automated = bool(
        auto_submitted
        or precedence in _AUTOMATED_PRECEDENCE
        or _suppresses_auto_responses(headers.get("x-auto-response-suppress", []))
        or any(name in headers for name in (*_LIST_HEADERS, *_AUTOREPLY_HEADERS))
        or re.sub(r"\s", "", _first(headers, "return-path")) == "<>"
        or report_type
        or is_bounce
        or is_complaint
    )
    actions = [action for _, action in walker.recipients if action]
    is_report = bool(report_type) or is_bounce or is_complaint
    return ParsedEmail(
        message_id=_own_message_id(_first(headers, "message-id"))
        or "generated-" + hashlib.sha256(data).hexdigest()[:40],
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        reply_to=_address_list(headers, "reply-to"),
        to=_address_list(headers, "to"),
        cc=_address_list(headers, "cc"),
        delivered_to=_address_list(headers, "delivered-to", "x-original-to", "envelope-to"),
        in_reply_to=tuple(_message_ids(headers.get("in-reply-to", []))),
        references=tuple(_message_ids(headers.get("references", []))),
        date=_date(_first(headers, "date")),
        text=text,
        html=sanitize_html(raw_html) if raw_html.strip() else "",
        new_text=new_text_of(text) if text else "",
        attachments=tuple(body.attachments),
        auto_submitted=auto_submitted,
        precedence=precedence,
        x_loop=tuple(dict.fromkeys(v.lower() for v in headers.get("x-loop", []) if v)),
        is_automated=is_automated,
        report_type=report_type,
        is_bounce=is_bounce,
        bounced_recipients=tuple(dict.fromkeys(address for address, _ in walker.recipients if address)),
        bounce_action=max(actions, key=lambda action: _ACTION_SEVERITY.get(action, 1), default=""),
        original_message_id=walker.original_ids[0] if walker.original_ids and is_report else "",
        is_complaint=is_complaint,
        raw_size=len(data),
        defects=tuple(dict.fromkeys(walker.defects)),
    )


# Headers ------------------------------------------------------------------------------------------

_ID_TOKEN = re.compile(rf"[^<>\s]{{1,{_MAX_ID_LENGTH}}}")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([BbQq])\?([^?]*)\?=")
_SURROGATES = re.compile("[\ud800-\udfff]")


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded-words decoded, wherever they are (mailers put them inside quotes too).

    Adjacent words in one charset are joined before decoding: mailers split multibyte characters
    and ISO-2022-JP escape sequences across them.
    """
    chunks: list[tuple[str | None, bytes | str]] = []
    position = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        position = match.end()
        decoded = _encoded_word_bytes(match.group(2), match.group(3))
        if decoded is None:
            chunks.append((None, between + match.group(0)))
            after_word = False
            continue
        if between and not (after_word and between.isspace()):
            chunks.append((None, between))
        charset = match.group(1).split("*", 1)[0].lower()
        previous_charset, previous = chunks[-1] if chunks else (None, "")
        if previous_charset == charset and isinstance(previous, bytes):
            chunks[-1] = (charset, previous + decoded)
        else:
            chunks.append((charset, decoded))
        after_word = True
    chunks.append((None, value[position:]))
    return "".join(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset) for charset, chunk in chunks)


def _encoded_word_bytes(encoding: str, payload: str) -> bytes | None:
    if encoding in "Qq":
        return binascii.a2b_qp(payload.encode("utf-8", "replace"), header=True)
    compact = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    if len(compact) % 4 == 1:
        compact = compact[:-1]
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4))
    except binascii.Error:
        return None


def _header_text(value: object) -> str:
    """A raw header value unfolded, with raw 8-bit bytes decoded (encoded-words are left alone)."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = decode_bytes(_as_raw_bytes(text), None)
    return _clean(re.sub(r"[\r\n]", "", text)).strip()


def _header_table(message: Message) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        table.setdefault(str(name).strip().lower(), []).append(_header_text(value))
    return table


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased addr-spec) pairs; entries without a usable address are dropped."""
    pairs = []
    for name, address in email.utils.getaddresses(values):
        address = _clean(address).strip().strip("<>").lower()
        if "@" in address and len(address) <= _MAX_ADDRESS_LENGTH and not re.search(r"\s", address):
            pairs.append((_normalize_space(decode_header_value(name)), address))
    return pairs


def _address_list(headers: dict[str, list[str]], *names: str) -> tuple[str, ...]:
    values = [value for name in names for value in headers.get(name, [])]
    return tuple(dict.fromkeys(address for _, address in _addresses(values)))


def _message_ids(values: list[str]) -> list[str]:
    """Ids without brackets; junk between them (comments, phrases, broken ids) is ignored."""
    ids: list[str] = []
    for value in values:
        found = [re.sub(r"\s+", "", inner) for inner in re.findall(r"<([^<>]*)>", value)]
        if not any(found):
            found = [token.strip("<>,;\"'") for token in value.split() if "@" in token]
        ids.extend(_clean(id_) for id_ in found if _ID_TOKEN.fullmatch(id_))
    return list(dict.fromkeys(ids))


def _own_message_id(value: str) -> str:
    """A message's own id: like `_message_ids`, but a lone bare token (no brackets, no "@") counts too."""
    ids = _message_ids([value])
    bare = value.strip().strip("<>")
    return ids[0] if ids else _clean(bare) if _ID_TOKEN.fullmatch(bare) else ""


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # RFC 5322: "-0000" is UTC with no information about the sender's zone.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _keyword(value: str) -> str:
    return _clean(re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower())


def _suppresses_auto_responses(values: list[str]) -> bool:
    return any(token.strip().lower() in _SUPPRESSED_RESPONSES for value in values for token in value.split(","))


def _normalize_space(text: str) -> str:
    return " ".join(_clean(text).split())


def _clean(text: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (nothing can encode it)."""
    return _SURROGATES.sub("\ufffd", strip_nul(text))


# Parameters (Content-Type, Content-Disposition) ---------------------------------------------------


def _params(part: Message, header: str) -> dict[str, str]:
    raw = next((_header_text(value) for name, value in part.raw_items() if name.lower() == header), "")
    pairs = []
    for segment in _split_params(raw)[1:]:
        name, _, value = segment.partition("=")
        if name.strip():
            pairs.append((name.strip().lower(), value.strip()))
    try:
        decoded = email.utils.decode_params([("", ""), *pairs])[1:]
    except (TypeError, ValueError):  # e.g. "name*" next to "name*0": continuations that do not sort
        decoded = [(name, value) for name, value in pairs if "*" not in name]
    params: dict[str, str] = {}
    for name, value in decoded:
        params.setdefault(name, _param_text(value))
    return params


def _split_params(value: str) -> list[str]:
    """Split on semicolons outside quoted strings."""
    segments, current, quoted, escaped = [], [], False, False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            segments.append("".join(current))
            current = []
            continue
        current.append(char)
    segments.append("".join(current))
    return segments


def _param_text(value: str | tuple[str, str, str]) -> str:
    if isinstance(value, tuple):  # RFC 2231: charset, language and %-decoded octets as latin-1
        charset, _, text = value
        try:
            return _clean(decode_bytes(email.utils.unquote(text).encode("latin-1"), charset))
        except UnicodeEncodeError:
            return _clean(email.utils.unquote(text))
    return _clean(decode_header_value(email.utils.unquote(value)))


# Structure ----------------------------------------------------------------------------------------

_FORWARDED_TYPES = {"message/rfc822", "message/global"}
_STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_HEADERS_TYPES = {"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
_REPORT_TYPES = {
    "message/feedback-report",
    "message/disposition-notification",
    "message/global-disposition-notification",
}
_BODY_TYPES = {"text/plain", "text/html"}
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{1,40})""", re.IGNORECASE)
_EXTENSIONS = {"text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "image/jpeg": ".jpg"}


@dataclasses.dataclass
class _Body:
    plain: list[str] = dataclasses.field(default_factory=list)
    html: list[str] = dataclasses.field(default_factory=list)
    attachments: list[InboundAttachment] = dataclasses.field(default_factory=list)

    def extend(self, other: _Body) -> None:
        self.plain += other.plain
        self.html += other.html
        self.attachments += other.attachments


class _Walker:
    """Walks the MIME tree once: body text, attachments, and the facts of a delivery or feedback report."""

    def __init__(self) -> None:
        self.content_types: set[str] = set()
        self.report_type = ""
        self.recipients: list[tuple[str, str]] = []  # (final recipient, DSN action)
        self.original_ids: list[str] = []
        self.defects: list[str] = []
        self._unnamed = 0

    def visit(self, part: Message, depth: int = 0) -> _Body:
        body = _Body()
        if depth > _MAX_DEPTH:
            self.defects.append("TooDeeplyNested")
            return body
        try:
            self._visit(part, depth, body)
        except Exception:
            # One unreadable part must not cost the whole message (the rest is still a customer's mail).
            logger.warning("Skipped an unreadable MIME part", exc_info=True)
            self.defects.append("UnreadablePart")
        return body

    def _visit(self, part: Message, depth: int, body: _Body) -> None:
        content_type = _content_type(part)
        self.content_types.add(content_type)
        self.defects.extend(type(defect).__name__ for defect in part.defects)
        params = _params(part, "content-type")
        if content_type.startswith("multipart/"):
            self._multipart(part, content_type, params, depth, body)
        elif content_type in _FORWARDED_TYPES:
            for enclosed in _children(part)[:1]:
                self.original_ids += _message_ids(_header_table(enclosed).get("message-id", [])[:1])
            body.attachments.append(self._attachment(part, params, "forwarded-message.eml"))
        elif content_type in _STATUS_TYPES:
            self._delivery_status(part)
        elif content_type in _HEADERS_TYPES:
            headers = next(iter(_children(part)), None) or _parse_headers(part)
            self.original_ids += _message_ids(_header_table(headers).get("message-id", [])[:1])
            body.attachments.append(self._attachment(part, params, "original-headers.txt"))
        elif content_type in _REPORT_TYPES:
            pass  # machine-readable report fields; the report's type says all the pipeline needs
        elif content_type in _BODY_TYPES and not _is_attachment(part, params, top_level=depth == 0):
            text = _part_text(part, params, html=content_type == "text/html")
            (body.html if content_type == "text/html" else body.plain).append(text)
        else:
            body.attachments.append(self._attachment(part, params, ""))

    def _multipart(self, part: Message, content_type: str, params: dict[str, str], depth: int, body: _Body) -> None:
        if content_type == "multipart/report" and not self.report_type:
            self.report_type = params.get("report-type", "").strip().lower()
        children = _children(part)
        if not part.is_multipart():
            recovered = _recover_multipart(part, content_type)
            if recovered is None:
                # No usable boundary: what the sender wrote is in there as text, with or without markup.
                body.plain.append(_part_text(part, params, html=False))
                return
            self.defects.append("RecoveredBoundary")
            children = _children(recovered)
        parts = [self.visit(child, depth + 1) for child in children]
        if content_type != "multipart/alternative":
            for child in parts:
                body.extend(child)
            return
        # Alternatives: the plain text from the first that has one, the HTML from the last that has one.
        body.plain += next((child.plain for child in parts if any(t.strip() for t in child.plain)), [])
        body.html += next((child.html for child in reversed(parts) if any(t.strip() for t in child.html)), [])
        for child in parts:
            body.attachments += child.attachments

    def _delivery_status(self, part: Message) -> None:
        if part.is_multipart():
            fields = [{name: values[0] for name, values in _header_table(block).items()} for block in _children(part)]
        else:
            fields = _status_blocks(decode_bytes(_payload_bytes(part)))
        for block in fields:
            recipient = block.get("final-recipient") or block.get("original-recipient", "")
            if recipient:
                address = recipient.rpartition(";")[2].strip().strip("<>").lower()
                self.recipients.append((_clean(address), _keyword(block.get("action", ""))))

    def _attachment(self, part: Message, params: dict[str, str], default_name: str) -> InboundAttachment:
        content_type = _content_type(part)
        enclosed = _children(part)
        content = _serialize(enclosed[0]) if enclosed else _payload_bytes(part)
        disposition = _params(part, "content-disposition")
        filename = _safe_filename(disposition.get("filename") or params.get("name") or "")
        if not filename:
            filename = default_name or self._generated_name(content_type)
        content_id = next((_header_text(v) for n, v in part.raw_items() if n.lower() == "content-id"), "")
        return InboundAttachment(
            filename=filename,
            content=content,
            content_type=content_type,
            content_id=_clean(content_id.strip().strip("<>").strip()),
        )

    def _generated_name(self, content_type: str) -> str:
        self._unnamed += 1
        extension = _EXTENSIONS.get(content_type) or (
            f".{content_type.partition('/')[2]}" if "/" in content_type else ""
        )
        if not re.fullmatch(r"\.[a-z0-9]{1,10}", extension):
            extension = ".bin"
        return f"attachment-{self._unnamed}{extension}"


def _content_type(part: Message) -> str:
    try:
        content_type = part.get_content_type()
    except Exception:
        logger.info("Unreadable Content-Type", exc_info=True)
        return "application/octet-stream"
    return content_type if _MIME_TYPE.fullmatch(content_type) else "application/octet-stream"


def _is_attachment(part: Message, params: dict[str, str], *, top_level: bool) -> bool:
    disposition = _keyword(
        next((_header_text(v) for n, v in part.raw_items() if n.lower() == "content-disposition"), "")
    )
    if disposition == "attachment":
        return True
    return not top_level and bool(_params(part, "content-disposition").get("filename") or params.get("name"))


def _children(part: Message) -> list[Message]:
    """Parts of a multipart, the message inside a message/rfc822; [] for a leaf.

    Checking is_multipart() first matters: get_payload() without decode=True re-decodes a leaf's
    8-bit text with its declared charset, and raises on a bad one.
    """
    return [child for child in part.get_payload() if isinstance(child, Message)] if part.is_multipart() else []


def _payload_bytes(part: Message) -> bytes:
    """A leaf's content, transfer encoding undone; what cannot be undone is kept as it came."""
    if part.is_multipart():
        return b""
    try:
        decoded = part.get_payload(decode=True)
    except Exception:
        logger.info("Could not undo a transfer encoding", exc_info=True)
        decoded = None
    if isinstance(decoded, bytes):
        return decoded
    try:
        return _as_raw_bytes(str(part.get_payload()))
    except (ValueError, LookupError):
        return b""


def _part_text(part: Message, params: dict[str, str], *, html: bool) -> str:
    data = _payload_bytes(part)
    charset = params.get("charset")
    if html and not charset and (meta := _META_CHARSET.search(data[:4096])):
        charset = meta.group(1).decode("ascii")
    text = decode_bytes(data, charset).replace("\r\n", "\n").replace("\r", "\n")
    if not html and params.get("format", "").lower() == "flowed":
        text = _unflow(text, delete_space=params.get("delsp", "").lower() == "yes")
    return _clean(text)


def _unflow(text: str, *, delete_space: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines, keeping quote depth and the "-- " delimiter."""
    lines: list[str] = []
    paragraph: list[str] = []
    depth = 0
    for line in text.split("\n"):
        line_depth = len(line) - len(line.lstrip(">"))
        content = line[line_depth:]
        content = content.removeprefix(" ")  # space-stuffing
        if paragraph and line_depth != depth:
            lines.append(">" * depth + (" " if depth else "") + "".join(paragraph))
            paragraph = []
        depth = line_depth
        flowed = content.endswith(" ") and content != "-- "
        paragraph.append(content[:-1] if flowed and delete_space else content)
        if not flowed:
            lines.append(">" * depth + (" " if depth else "") + "".join(paragraph))
            paragraph = []
    if paragraph:
        lines.append(">" * depth + (" " if depth else "") + "".join(paragraph))
    return "\n".join(lines)


def _recover_multipart(part: Message, content_type: str) -> Message | None:
    """A multipart whose declared boundary is missing or wrong, re-read with the one its body uses."""
    payload = _payload_bytes(part)
    match = re.search(rb"^--([^\s\"][^\r\n\"]{0,68}?)[ \t]*\r?$", payload, re.MULTILINE)
    if match is None or payload.count(b"\n--" + match.group(1)) + payload.startswith(b"--") < 2:
        return None
    header = f'Content-Type: {content_type}; boundary="'.encode() + match.group(1) + b'"\r\n\r\n'
    recovered = email.message_from_bytes(header + payload, policy=email.policy.compat32)
    return recovered if recovered.is_multipart() else None


def _parse_headers(part: Message) -> Message:
    return email.message_from_bytes(_payload_bytes(part), policy=email.policy.compat32)


def _status_blocks(text: str) -> list[dict[str, str]]:
    """A delivery-status body the parser left as text: blocks of "Name: value" fields."""
    blocks = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields = dict(re.findall(r"^([A-Za-z][\w-]*)[ \t]*:[ \t]*(.*?)\s*$", chunk, re.MULTILINE))
        blocks.append({name.lower(): value for name, value in fields.items()})
    return blocks


def _serialize(message: Message) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0).flatten(message)
    except Exception:
        logger.info("The generator refused an enclosed message; writing it out as parsed", exc_info=True)
        return _flatten_as_parsed(message)
    return buffer.getvalue()


def _flatten_as_parsed(message: Message) -> bytes:
    """Headers and parts written back as the parser read them, for what the generator cannot fold."""
    head = _as_raw_bytes("".join(f"{name}: {value}\n" for name, value in message.raw_items()) + "\n")
    if not message.is_multipart():
        try:
            return head + _as_raw_bytes(str(message.get_payload()))
        except (ValueError, LookupError):  # a charset parameter get_payload() cannot use
            return head + _payload_bytes(message)
    parts = [_flatten_as_parsed(part) for part in _children(message)]
    boundary = message.get_boundary()
    if not boundary:  # message/rfc822, delivery-status blocks
        return head + b"\n".join(parts)
    delimiter = _as_raw_bytes(f"--{boundary}")
    return head + b"".join(delimiter + b"\n" + part + b"\n" for part in parts) + delimiter + b"--\n"


def _as_raw_bytes(text: str) -> bytes:
    """Text the parser read from bytes, back to those bytes (8-bit ones are held as surrogates)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that did not come from a byte
        return text.encode("utf-8", "replace")


def _safe_filename(name: str) -> str:
    """The last path segment, printable, of a sane length; "" when nothing usable is left."""
    name = _clean(name).replace("\\", "/").rpartition("/")[2]
    name = " ".join("".join(char for char in name if char.isprintable()).split())
    if name in {".", ".."}:
        return ""
    if len(name) > _MAX_FILENAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            return stem[: _MAX_FILENAME_LENGTH - len(extension) - 1] + "." + extension
        return name[:_MAX_FILENAME_LENGTH]
    return name
