"""Reads for the help center pages: a constant number of queries per page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from customers.models import Language
from knowledge_base.models import Article, ArticleStatus, ArticleTranslation, Category


@dataclass(frozen=True)
class ArticleLink:
    slug: str
    title: str
    language: str


@dataclass(frozen=True)
class HelpCategory:
    slug: str
    name: str
    articles: tuple[ArticleLink, ...]


@dataclass(frozen=True)
class ArticlePage:
    article: Article
    translation: ArticleTranslation
    category_name: str
    # True when the article is shown in another language than the one asked for (none exists yet).
    is_fallback: bool
    other_translations: tuple[ArticleTranslation, ...]


def pick_translation(translations: list[ArticleTranslation], language: str) -> ArticleTranslation | None:
    """The translation in this language, else in the other language (English before anything else)."""
    by_language = {translation.language: translation for translation in translations}
    for candidate in (language, Language.ENGLISH, Language.JAPANESE):
        if candidate in by_language:
            return by_language[candidate]
    return next(iter(by_language.values()), None)


def published_articles():
    return Article.objects.filter(status=ArticleStatus.PUBLISHED)


def help_center_categories(*, language: str) -> list[HelpCategory]:
    """Categories with their published articles, titles in this language where there is one. 3 queries."""
    categories = Category.objects.prefetch_related(
        Prefetch(
            "articles",
            queryset=published_articles().order_by("position", "id").prefetch_related("translations"),
            to_attr="published",
        )
    )
    listing = []
    for category in categories:
        links = []
        for article in category.published:
            translation = pick_translation(list(article.translations.all()), language)
            if translation is not None:
                links.append(ArticleLink(slug=article.slug, title=translation.title, language=translation.language))
        if links:
            listing.append(HelpCategory(slug=category.slug, name=category.name_in(language), articles=tuple(links)))
    return listing


def article_page(*, slug: str, language: str, requested: str = "") -> ArticlePage:
    """A published article in the requested language, else the reader's, else the other one.

    Raises Article.DoesNotExist for unknown slugs, drafts and articles without any translation. 2 queries.
    """
    article = published_articles().select_related("category").prefetch_related("translations").get(slug=slug)
    translations = list(article.translations.all())
    translation = pick_translation(translations, requested or language)
    if translation is None:
        raise Article.DoesNotExist(f"Article {slug!r} has no translation.")
    return ArticlePage(
        article=article,
        translation=translation,
        category_name=article.category.name_in(language),
        is_fallback=translation.language != (requested or language),
        other_translations=tuple(other for other in translations if other.pk != translation.pk),
    )
