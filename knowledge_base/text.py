"""Turning article text and search queries into index terms, the same way for both.

Japanese is written without spaces between words, so Japanese (and Chinese) text is indexed as
overlapping two-character pieces (bigrams): 配送料金 → 配送, 送料, 料金. A query is cut the same way, so
any word of two or more characters is found wherever it occurs. Latin text is indexed as lower-cased
words with a light English plural/suffix folding (refunds, refunded → refund). Everything first goes
through NFKC and casefold, so full-width ＡＢＣ and half-width ｶﾀｶﾅ match abc and カタカナ.
"""

import re
import unicodedata
from collections.abc import Iterator
from itertools import pairwise

MAX_TERM_LENGTH = 40

# Kana, kanji and the iteration marks; not the katakana middle dot (・), which separates words.
_JAPANESE = "\u3005\u3006\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"([{_JAPANESE}]+)|([^\W_{_JAPANESE}]+)")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_KANJI = re.compile(r"[\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Particles that end a word when they follow kanji or katakana: 方法を, 商品が, 私の.
_PARTICLES = frozenset("をがはにでとのもへや")
# Hiragana-only bigrams are mostly endings and particles (ます, して, です): they count for little.
HIRAGANA_QUERY_WEIGHT = 0.2
# Long numbers are order numbers, phone numbers, postal codes: identifiers, not topics.
_MAX_NUMBER_LENGTH = 4

_STOPWORD_LIST = """
    a about above after again all also am an and any are aren as at be because been before being below
    between both but by can cannot could couldn did didn do does doesn doing don down during each few for
    from further had hadn has hasn have haven having he her here hers herself him himself his how i if in
    into is isn it its itself just let ll me more most mustn my myself no nor not now of off on once only
    or other our ours ourselves out over own re same shan she should shouldn so some such than that the
    their theirs them themselves then there these they this those through to too under until up ve very
    was wasn we were weren what when where which while who whom why will with won would wouldn you your
    yours yourself yourselves hello hi hey please thank thanks thx like want need get got know tell
    """
STOPWORDS = frozenset(_STOPWORD_LIST.split())


def normalize(text: str) -> str:
    """NFKC + casefold: the one form text is compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


def is_hiragana(text: str) -> bool:
    return bool(text) and all(_HIRAGANA.match(char) for char in text)


def light_stem(word: str) -> str:
    """Fold common English endings so that forms of one word meet: plurals, -ed, -ing, a final e.

    Deliberately small (no dictionary): it only has to treat the index and the query alike.
    """
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word.removesuffix(suffix)
        if stem != word and len(stem) >= 3 and any(vowel in stem for vowel in "aeiouy"):
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]  # shipped, shipping -> ship
            word = stem
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # change, changed, changing -> chang
    return word


def _japanese_terms(run: str) -> Iterator[str]:
    if len(run) == 1:
        if not is_hiragana(run):
            yield run
        return
    previous = ""
    for first, second in pairwise(run):
        before, previous = previous, first
        if is_hiragana(first) and not is_hiragana(second):
            continue  # an ending or particle, then the next word: not a word of its own
        if second in _PARTICLES and not is_hiragana(first):
            continue
        if _KANJI.match(first) and is_hiragana(second):
            if _KANJI.match(before):
                continue  # the end of a compound, then its ending: 返品|したい, 変更|する
            yield first  # a one-kanji stem that conjugates: 届 of 届く, 届かない, 届きません, お届け
        yield first + second


def _word_term(word: str) -> str | None:
    if len(word) < 2 or word in STOPWORDS:
        return None
    if word.isdigit() and len(word) > _MAX_NUMBER_LENGTH:
        return None
    return light_stem(word)[:MAX_TERM_LENGTH]


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, repeats kept (they are the term frequencies)."""
    found: list[str] = []
    for match in _TOKEN.finditer(normalize(text.replace("\x00", ""))):
        japanese, word = match.groups()
        if japanese:
            found.extend(_japanese_terms(japanese))
        else:
            term = _word_term(word)
            if term:
                found.append(term)
    return found


def query_weight(term: str) -> float:
    """How much a query term counts: hiragana-only bigrams (endings, particles) count little."""
    return HIRAGANA_QUERY_WEIGHT if is_hiragana(term) else 1.0
