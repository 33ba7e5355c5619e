"""What a reply adds: the text above quoted earlier messages, without signature or mobile footer.

English and Japanese mail clients mark the quoted part in a handful of ways: an attribution line
("On <date>, <name> wrote:", Gmail's "2026年11月20日(金) 10:00 山田 太郎 <taro@example.jp>:",
"山田さんは書きました:"), an Outlook header block ("-----Original Message-----", or a rule of
underscores followed by "From:"/"差出人:"), or a trailing block of "> " lines. The new text is what
comes before the first of them, minus an RFC 3676 signature ("-- ") and "Sent from my iPhone" footers.
"""

from __future__ import annotations

import re

_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{3,}\s*(?:original message|元のメッセージ|オリジナル\s?メッセージ)\s*-{3,}\s*$", re.IGNORECASE
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|差出人|送信者|送信元)\*?\s*[:：]", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^\s*\*?(?:Sent|Date|送信日時|送信日|日時|日付)\*?\s*[:：]", re.IGNORECASE)
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-+\s*Forwarded message\s*-+|Begin forwarded message:|-+\s*転送(?:された)?メッセージ\s*-+)\s*$",
    re.IGNORECASE,
)
_ON_START = re.compile(r"^\s*On\s.{4,}", re.IGNORECASE)
_WROTE_END = re.compile(r"(?:\bwrote|\bwrites|書きました|書き込みました)\s*[:：]?\s*$", re.IGNORECASE)
# "2026年11月20日(金) 10:00 ..." / "2026/11/20 10:00、..." / "On 2026/11/20 ..."
_JA_DATE_START = re.compile(r"^\s*(?:On\s+)?\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}\s*日?")
_ENDS_WITH_COLON = re.compile(r"[:：]\s*$")
_QUOTED = re.compile(r"^\s*>")
_SIGNATURE_DELIMITER = "-- "
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:"
    r"Sent from my [\w .\-]{1,40}"
    r"|Sent from (?:Mail|Outlook|Yahoo Mail|Gmail)\b[\w .\-]{0,40}"
    r"|Get Outlook for (?:iOS|Android)"
    r"|(?:[A-Za-z][\w .!\-]{0,30}?|Yahoo!\s?メール|[^\s]{0,10}携帯)\s?から送信(?:しました|されました)?[。.]?"
    r")\s*$",
    re.IGNORECASE,
)
_MAX_ATTRIBUTION_LENGTH = 300
_MAX_LOOSE_SIGNATURE_LINES = 10


def new_text_of(text: str) -> str:
    """The part of `text` the author wrote for this message; never empty when `text` is not."""
    lines = text.split("\n")
    headers = _quote_headers(lines)
    kept = lines[: min(headers, default=len(lines))]
    new = "\n".join(_without_footer(_without_trailing_quote(kept))).strip()
    if not new:
        # Bottom-posting: the answer follows the quote; keep every line that neither quotes nor attributes.
        unquoted = [line for index, line in enumerate(lines) if index not in headers and not _QUOTED.match(line)]
        new = "\n".join(_without_footer(unquoted)).strip()
    return new or text.strip()


def _quote_headers(lines: list[str]) -> dict[int, int]:
    """Line index -> line count of each attribution line or header block that introduces a quote."""
    headers: dict[int, int] = {}
    last_forward_marker = -100
    for index, line in enumerate(lines):
        if _FORWARD_MARKER.match(line):
            last_forward_marker = index
        elif length := _quote_header_length(lines, index, in_forward=index - last_forward_marker <= 2):
            headers.update(dict.fromkeys(range(index, index + length), length))
    return headers


def _quote_header_length(lines: list[str], index: int, *, in_forward: bool) -> int:
    line = lines[index]
    if _ORIGINAL_MESSAGE.match(line) or _is_attribution(line):
        return 1
    if _UNDERSCORE_RULE.match(line) and _next_line_matches(lines, index, _HEADER_FROM):
        return 1
    # A forwarded message's header block is content the author passes on, not a quote to drop.
    if not in_forward and _HEADER_FROM.match(line) and _outlook_header_follows(lines, index):
        return 1
    if _is_wrapped_attribution(lines, index):
        return 2
    if _WROTE_END.search(line) and len(line) <= _MAX_ATTRIBUTION_LENGTH and _next_line_matches(lines, index, _QUOTED):
        return 1
    return 0


def _is_attribution(line: str) -> bool:
    if len(line) > _MAX_ATTRIBUTION_LENGTH or _QUOTED.match(line):
        return False
    if _WROTE_END.search(line) and (_ON_START.match(line) or _JA_DATE_START.match(line) or "さん" in line):
        return True
    return bool(_JA_DATE_START.match(line) and _ENDS_WITH_COLON.search(line) and re.search(r"\d:\d\d", line))


def _is_wrapped_attribution(lines: list[str], index: int) -> bool:
    """Gmail wraps a long "On ... wrote:" line, and a long Japanese one before the address."""
    line = lines[index]
    if index + 1 >= len(lines) or len(line) > _MAX_ATTRIBUTION_LENGTH:
        return False
    following = lines[index + 1]
    if len(following) > _MAX_ATTRIBUTION_LENGTH or _QUOTED.match(following):
        return False
    if _ON_START.match(line) and not _ENDS_WITH_COLON.search(line):
        return bool(_WROTE_END.search(following))
    return bool(
        _JA_DATE_START.match(line)
        and not _ENDS_WITH_COLON.search(line)
        and _ENDS_WITH_COLON.search(following)
        and ("@" in line + following or _WROTE_END.search(following))
    )


def _next_line_matches(lines: list[str], index: int, pattern: re.Pattern[str]) -> bool:
    following = [line for line in lines[index + 1 : index + 4] if line.strip()]
    return bool(following) and bool(pattern.match(following[0]))


def _outlook_header_follows(lines: list[str], index: int) -> bool:
    return any(_HEADER_SENT.match(line) for line in lines[index + 1 : index + 5])


def _without_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    quoted = False
    while end and (not lines[end - 1].strip() or _QUOTED.match(lines[end - 1])):
        quoted = quoted or bool(lines[end - 1].strip())
        end -= 1
    if quoted and end and _looks_like_unknown_attribution(lines[end - 1]):
        end -= 1
    return lines[:end]


def _looks_like_unknown_attribution(line: str) -> bool:
    """The line that introduces a trailing quote, from a client we do not know by name."""
    return (
        len(line) <= _MAX_ATTRIBUTION_LENGTH
        and bool(_ENDS_WITH_COLON.search(line))
        and ("@" in line or bool(re.search(r"\d:\d\d", line)))
    )


def _without_footer(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _MOBILE_FOOTER.match(line):
            return lines[:index]
        if line == _SIGNATURE_DELIMITER:
            return lines[:index]
        # Many editors strip the delimiter's trailing space: a bare "--" counts only near the end.
        if line.strip() == "--" and len(lines) - index - 1 <= _MAX_LOOSE_SIGNATURE_LINES:
            return lines[:index]
    return lines
