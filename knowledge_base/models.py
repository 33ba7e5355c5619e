"""Help center articles: categories, articles, their translations, revisions and the search index."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import Language


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class Category(models.Model):
    """A section of the help center, named in each language (at least one name is required)."""

    slug = models.SlugField(max_length=80, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=120, blank=True)
    position = models.PositiveIntegerField(default=0, help_text=_("Lower numbers come first."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name_en or self.name_ja or self.slug

    def clean(self) -> None:
        if not (self.name_en.strip() or self.name_ja.strip()):
            raise ValidationError(_("Give the category a name in at least one language."))

    def name_in(self, language: str) -> str:
        """The name in this language, else in the other one."""
        if language == Language.JAPANESE:
            return self.name_ja or self.name_en
        return self.name_en or self.name_ja


class Article(models.Model):
    """One help center article; its words live in one translation per language."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    slug = models.SlugField(max_length=120, unique=True)
    status = models.CharField(max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    position = models.PositiveIntegerField(default=0, help_text=_("Order inside the category; lower first."))
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["status", "category", "position"], name="kb_article_listing")]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED


class ArticleTranslation(models.Model):
    """The title and body of an article in one language.

    `body` is sanitized HTML (services clean it with nh3 before storing); `body_text` is its plain-text
    rendering, used for search snippets and the index.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=8, choices=Language.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(
        help_text=_("HTML (cleaned before it is stored) or plain text with blank lines between paragraphs.")
    )
    body_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["article_id", "language"]
        constraints = [models.UniqueConstraint(fields=["article", "language"], name="kb_one_translation_per_language")]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"


class ArticleRevision(models.Model):
    """A snapshot of a translation as it was saved: edits are never lost, and any can be restored."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    language = models.CharField(max_length=8, choices=Language.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["article", "language", "-created_at"], name="kb_revision_history")]

    def __str__(self) -> str:
        return f"{self.article} ({self.language}) {self.created_at:%Y-%m-%d %H:%M}"


class ArticleTerm(models.Model):
    """The search index: one row per term of a published translation, with its BM25 term weight.

    Besides its terms, every indexed translation has one row with the empty term, so the number of
    indexed documents comes out of the same query as the document frequencies (knowledge_base/search.py).
    """

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="terms")
    language = models.CharField(max_length=8, choices=Language.choices)
    term = models.CharField(max_length=40, blank=True)
    weight = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["translation", "term"], name="kb_term_once_per_translation")]
        indexes = [models.Index(fields=["term", "translation"], name="kb_term_lookup")]

    def __str__(self) -> str:
        return f"{self.term} → {self.translation_id} ({self.weight:.3f})"
