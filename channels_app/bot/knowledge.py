"""Knowledge-base suggestions for the bot, from the help center search."""

from __future__ import annotations

from dataclasses import dataclass

SUGGESTION_LIMIT = 5


@dataclass(frozen=True)
class Suggestion:
    article_id: int
    title: str
    url: str
    snippet: str
    # How well the article covers the question (knowledge_base.search.ArticleHit.score); the bot
    # offers only suggestions at or above BotContext.min_score.
    score: float = 1.0


def knowledge_search(query: str, language: str) -> list[Suggestion]:
    """The help center's best published articles for a customer's message, in their language first."""
    from knowledge_base.search import search_articles  # the ORM loads only when the bot really searches

    hits = search_articles(query=query, language=language or None, limit=SUGGESTION_LIMIT)
    return [
        Suggestion(article_id=hit.article_id, title=hit.title, url=hit.url, snippet=hit.snippet, score=hit.score)
        for hit in hits
    ]
