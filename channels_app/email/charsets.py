"""Decoding text whose charset label may lie: the tolerant decoder behind `parse_email`.

Declared charsets first (with the aliases Japanese mail needs: Shift_JIS read as cp932, EUC-JP,
ISO-2022-JP with Windows extensions), valid UTF-8 whatever its label, then a Japanese guess accepted
only when the result reads as Japanese, then cp1252 with replacement.
"""

from __future__ import annotations

import codecs
import re

_JIS_AS_CP932 = "jis-as-cp932"
_ISO2022JP = ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp", _JIS_AS_CP932)
_JAPANESE_FALLBACK = ("cp932", "euc_jp", *_ISO2022JP)
_CHARSET_FAMILIES: dict[tuple[str, ...], tuple[str, ...]] = {
    _ISO2022JP: (
        "iso-2022-jp", "csiso2022jp", "iso2022jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3",
        "iso-2022-jp-ms", "cp50220", "cp50221", "cp50222", "jis",
    ),
    ("cp932", "shift_jis_2004"): (
        "shift-jis", "shiftjis", "sjis", "x-sjis", "ms-kanji", "csshiftjis", "windows-31j", "cp932", "ms932",
        "x-ms-cp932", "shift-jisx0213", "shift-jis-2004",
    ),
    ("euc_jis_2004", "euc_jp"): ("euc-jp", "x-euc-jp", "eucjp", "ujis", "cseucpkdfmtjapanese", "euc-jis-2004"),
    ("cp949",): ("ks-c-5601-1987", "ks-c-5601", "ksc5601", "ksc-5601", "euc-kr", "x-windows-949", "cp949", "uhc"),
    ("gb18030",): ("gb2312", "gbk", "x-gbk", "gb-2312-80", "csgb2312", "euc-cn", "x-euc-cn", "cp936", "gb18030"),
    ("cp950", "big5hkscs"): ("big5", "x-big5", "cn-big5", "csbig5", "big5-hkscs", "cp950"),
    ("cp1252", "latin-1"): ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252"),
}  # fmt: skip
_CHARSET_ALIASES = {name: family for family, names in _CHARSET_FAMILIES.items() for name in names}
_JAPANESE_CODECS = {"cp932", "euc_jis_2004", _ISO2022JP[0]}
# A declared "us-ascii" on 8-bit data says nothing, so it is treated as undeclared.
_UNDECLARED = {"", "us-ascii", "ascii", "ansi-x3.4-1968", "unknown-8bit", "x-unknown", "unknown", "x-user-defined"}
_NOT_TEXT = {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "charmap", "mbcs", "oem"}
_WIDE = ("utf-16", "utf-32", "utf-7")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Text from bytes in a declared, mislabelled or undeclared charset; never raises."""
    if not data:
        return ""
    declared = _codecs_for(charset)
    wide = any(codec.startswith(_WIDE) for codec in declared)
    if data.isascii() and b"\x1b" not in data and not wide:
        return data.decode("ascii")
    candidates: list[str] = []
    if not wide and not data.isascii():
        candidates.append("utf-8")  # text that is valid UTF-8 is UTF-8, whatever the label says
    if not declared and b"\x1b" in data:
        candidates.extend(_ISO2022JP)
    candidates.extend(declared)
    for codec in dict.fromkeys(candidates):
        if (text := _try_decode(data, codec)) is not None:
            return text
    if _mostly_utf8(data):
        return data.decode("utf-8", "replace")
    if not declared or declared[0] in _JAPANESE_CODECS or declared[0] == "utf-8":
        for codec in _JAPANESE_FALLBACK:
            if (text := _try_decode(data, codec)) is not None and _looks_japanese(text):
                return text
    return data.decode(declared[0] if declared else "cp1252", "replace")


def _codecs_for(charset: str | None) -> tuple[str, ...]:
    name = (charset or "").strip().strip("\"'").split("*", 1)[0].strip().lower().replace("_", "-")
    if name in _UNDECLARED:
        return ()
    if name in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[name]
    try:
        info = codecs.lookup(name)
        b"a".decode(info.name, "replace")  # refuses bytes-to-bytes codecs (base64, zlib, rot13...)
    except (LookupError, ValueError):
        return ()
    return () if info.name.replace("-", "_") in _NOT_TEXT else (info.name,)


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return _jis_as_cp932(data) if codec == _JIS_AS_CP932 else data.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken bytes, rather than a legacy charset that happens to fail UTF-8."""
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    valid = sum(1 for char in text if char > "\x7f") - broken
    return valid > 0 and valid >= 4 * broken


# What JIS X 0208 and the Windows extensions hold (kana, kanji, full-width forms, symbols such as ① and ㈱).
_JAPANESE_CHARACTERS = re.compile(
    "[\u0391-\u03c9\u0401-\u0451\u2010-\u206f\u2100-\u22ff\u2460-\u24ff\u2500-\u27bf\u3000-\u30ff"
    "\u3200-\u33ff\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\uffe0-\uffe6]"
)
_HALF_WIDTH_KATAKANA = re.compile("[\uff61-\uff9f]")


def _looks_japanese(text: str) -> bool:
    """Whether a cp932 or EUC-JP guess reads as Japanese rather than as stray kanji and half-width kana.

    Latin-1, EUC-JP and broken UTF-8 bytes are often valid cp932 too, and read as exactly that.
    """
    foreign = sum(1 for char in text if char > "\x7f")
    japanese = len(_JAPANESE_CHARACTERS.findall(text))
    half_width = len(_HALF_WIDTH_KATAKANA.findall(text))
    return foreign == 0 or (japanese >= 2 and japanese + half_width >= 0.8 * foreign)


_JIS_ESCAPES = {b"\x1b(B": "ascii", b"\x1b(J": "ascii", b"\x1b$@": "kanji", b"\x1b$B": "kanji", b"\x1b(I": "kana"}


def _jis_as_cp932(data: bytes) -> str:
    """ISO-2022-JP as Windows writes it (CP50220, with NEC and IBM extensions such as ① and ㈱).

    Python's ISO-2022-JP codecs refuse those characters; each JIS pair maps arithmetically onto a
    Shift_JIS pair, and cp932 knows them all.
    """
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        escape = data[index : index + 3]
        if escape in _JIS_ESCAPES:
            mode = _JIS_ESCAPES[escape]
            index += 3
            continue
        byte = data[index]
        if byte >= 0x80 or byte == 0x1B:
            raise UnicodeDecodeError("iso-2022-jp", data, index, index + 1, "not ISO-2022-JP")
        if mode == "kanji" and 0x21 <= byte <= 0x7E:
            second = data[index + 1] if index + 1 < len(data) else 0
            if not 0x21 <= second <= 0x7E:
                raise UnicodeDecodeError("iso-2022-jp", data, index, index + 2, "truncated JIS pair")
            lead = ((byte - 0x21) >> 1) + 0x81
            lead += 0x40 if lead > 0x9F else 0
            trail = second + (0x1F + (second >= 0x60) if byte & 1 else 0x7E)
            out += bytes((lead, trail))
            index += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        index += 1
    return out.decode("cp932")
