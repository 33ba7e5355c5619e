"""Full-text search of published articles, the same on SQLite and PostgreSQL.

The index is a table of `(translation, term, weight)` rows (`ArticleTerm`), written by the services
whenever a published translation changes. Terms come from `knowledge_base.text` (Japanese as character
bigrams, Latin text as words). Each weight is the BM25 term-frequency part, title occurrences counting
`TITLE_BOOST` times; the inverse document frequency is computed at query time. A search is three
queries, whatever the number of articles or hits:

1. the document frequency of each query term, and the number of indexed translations;
2. one GROUP BY over the matching index rows: per translation, the rank (sum of weight × idf) and
   the coverage (the same with weights capped at FULL_CREDIT_WEIGHT), best rank first, translations
   in the requested language ahead of the others;
3. the winning translations with their articles, for titles and snippets.

Query terms made only of hiragana (endings, particles) count for little (`text.query_weight`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, Count, F, FloatField, IntegerField, Sum, Value, When
from django.db.models.functions import Least
from django.urls import reverse

from knowledge_base.models import Article, ArticleStatus, ArticleTerm, ArticleTranslation
from knowledge_base.text import normalize, query_weight, terms

# BM25 parameters: term-frequency saturation and (mild) length normalization.
K1 = 1.2
B = 0.5
TITLE_BOOST = 5
# Length in terms of a typical article per language (Japanese counts bigrams, so it is longer); a
# fixed reference keeps stored weights valid as articles come and go.
REFERENCE_LENGTH = {"ja": 250, "en": 90}
DEFAULT_REFERENCE_LENGTH = 120
# A term occurring once in the body of an article of the reference length has this weight: for the
# score, a term counts fully from there on.
FULL_CREDIT_WEIGHT = 1.0
# The empty term: one row per indexed translation, counting the documents (see ArticleTerm).
DOCUMENT_TERM = ""

# A query word no article has (a place name, a typo) lowers every score alike; it counts half, so that
# one unusual word does not hide good answers.
UNKNOWN_TERM_SHARE = 0.5

MAX_QUERY_LENGTH = 200
MAX_QUERY_TERMS = 48
# Characters: Japanese says in 90 what English says in about 160.
SNIPPET_LENGTH = {"ja": 90, "en": 160}
DEFAULT_SNIPPET_LENGTH = 160
_SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class ArticleHit:
    article_id: int
    slug: str
    language: str
    title: str
    snippet: str
    # How much of the query the article covers, 0 to 1: the share of the query's terms it holds, each
    # weighted by its rarity in the help center (full credit for a term that occurs as often as in a
    # typical article). Comparable between queries, unlike the BM25 sum hits are ranked by.
    score: float
    url: str


# --- Indexing ----------------------------------------------------------------------------------------


def term_weights(*, title: str, body: str, language: str) -> dict[str, float]:
    """The BM25 term-frequency weight of every term of a translation."""
    title_counts = Counter(terms(title))
    body_counts = Counter(terms(body))
    length = sum(title_counts.values()) + sum(body_counts.values())
    reference = REFERENCE_LENGTH.get(language, DEFAULT_REFERENCE_LENGTH)
    length_norm = 1 - B + B * length / reference
    weights = {}
    for term in title_counts.keys() | body_counts.keys():
        frequency = TITLE_BOOST * title_counts[term] + body_counts[term]
        weights[term] = frequency * (K1 + 1) / (frequency + K1 * length_norm)
    return weights


def _index_rows(translation: ArticleTranslation) -> list[ArticleTerm]:
    weights = term_weights(title=translation.title, body=translation.body_text, language=translation.language)
    rows = [
        ArticleTerm(translation=translation, language=translation.language, term=term, weight=weight)
        for term, weight in weights.items()
    ]
    rows.append(ArticleTerm(translation=translation, language=translation.language, term=DOCUMENT_TERM, weight=0))
    return rows


def index_translation(translation: ArticleTranslation) -> int:
    """Replace the index rows of one translation (only a published article's translations are indexed);
    the number of terms indexed."""
    with transaction.atomic():
        ArticleTerm.objects.filter(translation=translation).delete()
        if translation.article.status != ArticleStatus.PUBLISHED:
            return 0
        rows = _index_rows(translation)
        ArticleTerm.objects.bulk_create(rows, batch_size=500)
        return len(rows) - 1


def unindex_article(article: Article) -> None:
    ArticleTerm.objects.filter(translation__article=article).delete()


def rebuild_index() -> tuple[int, int]:
    """Index every published translation from scratch: (translations, terms)."""
    with transaction.atomic():
        ArticleTerm.objects.all().delete()
        translations = ArticleTranslation.objects.select_related("article").filter(
            article__status=ArticleStatus.PUBLISHED
        )
        indexed = term_count = 0
        for translation in translations.iterator(chunk_size=200):
            rows = _index_rows(translation)
            ArticleTerm.objects.bulk_create(rows, batch_size=500)
            indexed += 1
            term_count += len(rows) - 1
    return indexed, term_count


# --- Searching ---------------------------------------------------------------------------------------


def _idf(document_frequency: int, documents: int) -> float:
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def _query_terms(query: str) -> list[str]:
    unique = dict.fromkeys(terms(query[:MAX_QUERY_LENGTH]))
    return list(unique)[:MAX_QUERY_TERMS]


def search_articles(*, query: str, language: str | None = None, limit: int = 5) -> list[ArticleHit]:
    """Published articles matching the query, best first, at most `limit`, one hit per article.

    With a `language`, only translations in that language are returned when any of them matches;
    otherwise the other language's translations are (a Japanese question on the English site still
    finds the Japanese articles). A query longer than `MAX_QUERY_LENGTH` is cut there.
    """
    query_terms = _query_terms(query)
    if not query_terms or limit <= 0:
        return []
    frequencies = dict(
        ArticleTerm.objects.filter(term__in=[*query_terms, DOCUMENT_TERM])
        .values("term")
        .annotate(frequency=Count("id"))
        .values_list("term", "frequency")
    )
    documents = frequencies.pop(DOCUMENT_TERM, 0)
    if not frequencies:
        return []
    factors = {term: _idf(frequencies.get(term, 0), documents) * query_weight(term) for term in query_terms}
    ideal = sum(factor if term in frequencies else factor * UNKNOWN_TERM_SHARE for term, factor in factors.items())
    ranked = _ranked_translations({term: factors[term] for term in frequencies}, language, limit)
    if language and ranked and ranked[0]["language"] == language:
        ranked = [row for row in ranked if row["language"] == language]
    translations = ArticleTranslation.objects.select_related("article").filter(
        pk__in=[row["translation_id"] for row in ranked], article__status=ArticleStatus.PUBLISHED
    )
    by_id = {translation.pk: translation for translation in translations}
    hits: list[ArticleHit] = []
    seen_articles: set[int] = set()
    for row in ranked:
        translation = by_id.get(row["translation_id"])
        if translation is None or translation.article_id in seen_articles:
            continue
        seen_articles.add(translation.article_id)
        hits.append(_hit(translation, score=min(1.0, row["coverage"] / ideal), factors=factors))
        if len(hits) == limit:
            break
    return hits


def _ranked_translations(factors: dict[str, float], language: str | None, limit: int) -> list[dict]:
    contribution = Case(
        *(When(term=term, then=Value(factor)) for term, factor in factors.items()),
        default=Value(0.0),
        output_field=FloatField(),
    )
    rows = (
        ArticleTerm.objects.filter(term__in=list(factors))
        .values("translation_id", "language")
        .annotate(
            rank=Sum(F("weight") * contribution, output_field=FloatField()),
            coverage=Sum(Least(F("weight"), Value(FULL_CREDIT_WEIGHT)) * contribution, output_field=FloatField()),
        )
        .filter(rank__gt=0)
    )
    ordering = ["-rank", "translation_id"]
    if language:
        preferred_first = Case(When(language=language, then=Value(0)), default=Value(1), output_field=IntegerField())
        ordering.insert(0, preferred_first.asc())
    # An article has one translation per language: twice the limit always leaves `limit` articles.
    return list(rows.order_by(*ordering)[: limit * 2])


def _hit(translation: ArticleTranslation, *, score: float, factors: dict[str, float]) -> ArticleHit:
    article = translation.article
    return ArticleHit(
        article_id=article.pk,
        slug=article.slug,
        language=translation.language,
        title=translation.title,
        snippet=snippet(
            translation.body_text,
            factors,
            length=SNIPPET_LENGTH.get(translation.language, DEFAULT_SNIPPET_LENGTH),
        ),
        score=round(score, 4),
        url=f"{reverse('kb-article', args=[article.slug])}?lang={translation.language}",
    )


# --- Snippets ----------------------------------------------------------------------------------------


def snippet(text: str, factors: dict[str, float], *, length: int = DEFAULT_SNIPPET_LENGTH) -> str:
    """About `length` characters of a body, from the sentence that best matches the query terms (weighted
    by `factors`), marked with … where the text goes on."""
    sentences = [sentence.strip() for sentence in _SENTENCE_END.split(text) if sentence and sentence.strip()]
    if not sentences:
        return ""
    scores = [sum(factors.get(term, 0.0) for term in set(terms(sentence))) for sentence in sentences]
    best = max(range(len(sentences)), key=lambda index: (scores[index], -index))
    # A match deep inside a long sentence: start a little before it.
    start = _first_match(sentences[best], factors) if len(sentences[best]) > length else 0
    start = max(0, start - length // 4)
    passage, last = sentences[best], best
    while len(passage) < start + length and last + 1 < len(sentences):
        last += 1
        separator = "" if passage[-1] in "。！？" else " "
        passage = f"{passage}{separator}{sentences[last]}"
    cut = passage[start : start + length]
    cut_short = start + length < len(passage)
    if cut_short and cut.isascii() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]  # not in the middle of a word
    prefix = "…" if start > 0 or best > 0 else ""
    suffix = "…" if cut_short or last + 1 < len(sentences) else ""
    return f"{prefix}{cut.strip()}{suffix}"


def _first_match(passage: str, factors: dict[str, float]) -> int:
    """Where in the passage the first weighty query term starts (0 if none is found as written)."""
    normalized_chars: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(passage):
        folded = normalize(char)
        normalized_chars.append(folded)
        origin.extend([position] * len(folded))
    normalized = "".join(normalized_chars)
    positions = [normalized.find(term) for term, factor in factors.items() if factor > 0]
    found = [position for position in positions if position >= 0]
    return origin[min(found)] if found else 0
