"""Text helpers of the bot: one normal form for matching, and which language a message is in."""

import re
import unicodedata
from functools import lru_cache

JAPANESE = "ja"
ENGLISH = "en"
LANGUAGES = (JAPANESE, ENGLISH)

_JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_LATIN_WORD = re.compile(r"[a-zA-Z]{2,}")
_NOT_WORD = re.compile(r"[\W_]+")
# English written this long, with no Japanese in it, says the customer switched to English.
_ENGLISH_WORDS_TO_SWITCH = 3


def normalize(text: str) -> str:
    """NFKC + casefold, punctuation to single spaces: ＨＥＬＰ！ and help, ｵﾍﾟﾚｰﾀｰ and オペレーター agree."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def compact(normalized: str) -> str:
    return normalized.replace(" ", "")


@lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    normalized = normalize(phrase)
    if _JAPANESE_CHAR.search(normalized):
        # Anywhere, spaces ignored: customers put them anywhere (人と 話したい).
        return re.compile(r"\s*".join(map(re.escape, compact(normalized))))
    # Whole words (an optional plural), so "hi" is not found in "shipping" nor "agent" in "agency".
    words = r"\s+".join(map(re.escape, normalized.split()))
    return re.compile(rf"(?<![a-z0-9]){words}(?:s|es)?(?![a-z0-9])")


def contains_phrase(normalized: str, phrase: str) -> bool:
    """Whether a normalized message holds a phrase: Japanese phrases anywhere, others as whole words."""
    return bool(normalize(phrase)) and bool(_phrase_pattern(phrase).search(normalized))


def without_phrases(normalized: str, phrases: tuple[str, ...]) -> str:
    """The normalized message with every occurrence of the phrases taken out."""
    for phrase in phrases:
        if normalize(phrase):
            normalized = _phrase_pattern(phrase).sub(" ", normalized)
    return " ".join(normalized.split())


def is_brief(normalized: str, *, max_words: int = 5, max_japanese: int = 10) -> bool:
    """Short enough to be only what it seems (a greeting, thanks) and not a question besides."""
    return len(_LATIN_WORD.findall(normalized)) <= max_words and len(_JAPANESE_CHAR.findall(normalized)) <= max_japanese


def detect_language(text: str) -> str:
    """The language of a text: ja with kana or kanji in it, en with Latin words, else the empty string."""
    if _JAPANESE_CHAR.search(text):
        return JAPANESE
    if _LATIN_WORD.search(text):
        return ENGLISH
    return ""


def conversation_language(text: str, *, current: str, hint: str) -> str:
    """The language to answer in. Japanese in the message decides; a sentence of English decides; a
    short message ("OK", an order number) keeps the language already spoken, else the page's hint."""
    detected = detect_language(text)
    if detected == JAPANESE:
        return JAPANESE
    if detected == ENGLISH and len(_LATIN_WORD.findall(text)) >= _ENGLISH_WORDS_TO_SWITCH:
        return ENGLISH
    hint = hint.split("-")[0].lower()
    for candidate in (current, hint, detected):
        if candidate in LANGUAGES:
            return candidate
    return ENGLISH
