"""Every write to the help center: categories, articles, translations (with revisions), publishing.

Each function is one transaction. Saving a translation records a revision and keeps the search index
right, so no edit is ever lost and search never shows a draft.
"""

from __future__ import annotations

import html
import re

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.sanitize import html_to_text, sanitize_html, strip_nul
from knowledge_base.models import Article, ArticleRevision, ArticleStatus, ArticleTranslation, Category
from knowledge_base.search import index_translation, unindex_article

_LOOKS_LIKE_HTML = re.compile(r"<\s*[a-zA-Z!/]")
_BLANK_LINE = re.compile(r"\n\s*\n")


def body_to_html(body: str) -> str:
    """Sanitized HTML for a body written as HTML, or as plain text with blank lines between paragraphs."""
    body = strip_nul(body).replace("\r\n", "\n").strip()
    if _LOOKS_LIKE_HTML.search(body):
        return sanitize_html(body).strip()
    paragraphs = [paragraph.strip() for paragraph in _BLANK_LINE.split(body) if paragraph.strip()]
    return "\n".join(f"<p>{html.escape(paragraph).replace(chr(10), '<br>')}</p>" for paragraph in paragraphs)


@transaction.atomic
def category_create(*, slug: str, name_en: str = "", name_ja: str = "", position: int = 0) -> Category:
    category = Category(slug=slug, name_en=name_en.strip(), name_ja=name_ja.strip(), position=position)
    category.full_clean()
    category.save()
    return category


@transaction.atomic
def article_create(*, category: Category, slug: str, position: int = 0) -> Article:
    """A new article, as a draft: it is published once it has its words."""
    article = Article(category=category, slug=slug, position=position, status=ArticleStatus.DRAFT)
    article.full_clean()
    article.save()
    return article


@transaction.atomic
def article_update(
    *, article: Article, category: Category | None = None, slug: str | None = None, position: int | None = None
) -> Article:
    """Change where an article is filed and shown; its status changes through publish/unpublish only."""
    current = Article.objects.select_for_update().get(pk=article.pk)
    if category is not None:
        current.category = category
    if slug is not None:
        current.slug = slug
    if position is not None:
        current.position = position
    current.full_clean()
    current.save()
    return current


@transaction.atomic
def article_publish(*, article: Article) -> Article:
    """Show the article in the help center and its search (again: publishing twice changes nothing)."""
    current = Article.objects.select_for_update().get(pk=article.pk)
    translations = list(current.translations.all())
    if not translations:
        raise ValidationError(_("An article needs a title and text in at least one language before it is published."))
    if current.status == ArticleStatus.PUBLISHED:
        return current
    current.status = ArticleStatus.PUBLISHED
    current.published_at = current.published_at or timezone.now()
    current.save(update_fields=["status", "published_at", "updated_at"])
    for translation in translations:
        translation.article = current
        index_translation(translation)
    return current


@transaction.atomic
def article_unpublish(*, article: Article) -> Article:
    """Back to draft: gone from the help center pages and search, its words kept."""
    current = Article.objects.select_for_update().get(pk=article.pk)
    if current.status == ArticleStatus.DRAFT:
        return current
    current.status = ArticleStatus.DRAFT
    current.save(update_fields=["status", "updated_at"])
    unindex_article(current)
    return current


def _record_revision(translation: ArticleTranslation, author: AbstractBaseUser | None) -> ArticleRevision:
    return ArticleRevision.objects.create(
        article=translation.article,
        language=translation.language,
        title=translation.title,
        body=translation.body,
        author=author if author is not None and author.is_authenticated else None,
    )


def _fill(translation: ArticleTranslation, *, title: str, body: str) -> None:
    translation.title = strip_nul(title).strip()
    translation.body = body_to_html(body)
    translation.body_text = html_to_text(translation.body)


@transaction.atomic
def translation_create(
    *, article: Article, language: str, title: str, body: str, author: AbstractBaseUser | None = None
) -> ArticleTranslation:
    translation = ArticleTranslation(article=article, language=language)
    _fill(translation, title=title, body=body)
    translation.full_clean()
    translation.save()
    _record_revision(translation, author)
    index_translation(translation)
    return translation


@transaction.atomic
def translation_update(
    *,
    translation: ArticleTranslation,
    title: str,
    body: str,
    language: str | None = None,
    author: AbstractBaseUser | None = None,
) -> ArticleTranslation:
    """Save new words for a translation. A change records a revision; saving the same words does not."""
    current = ArticleTranslation.objects.select_for_update().select_related("article").get(pk=translation.pk)
    before = (current.language, current.title, current.body)
    _fill(current, title=title, body=body)
    if language is not None:
        current.language = language
    if (current.language, current.title, current.body) == before:
        return current
    current.full_clean()
    current.save()
    _record_revision(current, author)
    index_translation(current)
    return current


@transaction.atomic
def translation_delete(*, translation: ArticleTranslation) -> None:
    """Remove a translation (and its index rows); its revisions stay with the article."""
    ArticleTranslation.objects.filter(pk=translation.pk).delete()


@transaction.atomic
def revision_restore(*, revision: ArticleRevision, author: AbstractBaseUser | None = None) -> ArticleTranslation:
    """Make an earlier revision the current text again (itself recorded as a new revision)."""
    translation = ArticleTranslation.objects.filter(article=revision.article_id, language=revision.language).first()
    if translation is None:
        return translation_create(
            article=revision.article,
            language=revision.language,
            title=revision.title,
            body=revision.body,
            author=author,
        )
    return translation_update(translation=translation, title=revision.title, body=revision.body, author=author)
