"""Admin for the help center. Every save of an article or translation goes through the services, so
revisions are recorded and the search index follows; revisions and the index itself are read-only."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.text import Truncator

from customers.models import Language
from helpdesk.sanitize import html_to_text
from knowledge_base import services
from knowledge_base.models import Article, ArticleRevision, ArticleStatus, ArticleTerm, ArticleTranslation, Category


def _adopt(target, saved) -> None:
    """Make the admin's own instance (which its inline formsets hold) the row a service saved."""
    for field in type(saved)._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records kept by the services (revisions, index rows): look, never touch."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name_en", "name_ja", "slug", "position", "published_articles", "all_articles"]
    list_editable = ["position"]
    list_display_links = ["name_en", "name_ja"]
    search_fields = ["name_en", "name_ja", "slug"]
    prepopulated_fields = {"slug": ["name_en"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                article_count=Count("articles"),
                published_count=Count("articles", filter=Q(articles__status=ArticleStatus.PUBLISHED)),
            )
        )

    @admin.display(description="Published", ordering="published_count")
    def published_articles(self, category):
        return category.published_count

    @admin.display(description="Articles", ordering="article_count")
    def all_articles(self, category):
        return category.article_count


class TranslationInline(admin.StackedInline):
    model = ArticleTranslation
    fields = ["language", "title", "body"]
    extra = 0
    max_num = len(Language.choices)


class RevisionInline(admin.TabularInline):
    """The article's history, newest first; a revision is restored from the revisions list (action)."""

    model = ArticleRevision
    fields = ["created_at", "language", "title", "author", "body_start"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Body")
    def body_start(self, revision):
        return Truncator(html_to_text(revision.body)).chars(80)


@admin.action(description="Publish the selected articles")
def publish_articles(modeladmin, request, queryset):
    done = 0
    for article in queryset:
        try:
            services.article_publish(article=article)
            done += 1
        except ValidationError as error:
            modeladmin.message_user(request, f"{article}: {'; '.join(error.messages)}", messages.WARNING)
    modeladmin.message_user(request, f"{done} article(s) published.")


@admin.action(description="Unpublish the selected articles (back to draft)")
def unpublish_articles(modeladmin, request, queryset):
    for article in queryset:
        services.article_unpublish(article=article)
    modeladmin.message_user(request, f"{len(queryset)} article(s) back to draft.")


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["slug", "title_en", "title_ja", "category", "status", "position", "published_at", "updated_at"]
    list_filter = ["status", "category", "translations__language"]
    search_fields = ["slug", "translations__title", "translations__body_text"]
    list_select_related = ["category"]
    readonly_fields = ["published_at", "created_at", "updated_at"]
    fields = ["category", "slug", "status", "position", *readonly_fields]
    date_hierarchy = "updated_at"
    inlines = [TranslationInline, RevisionInline]
    actions = [publish_articles, unpublish_articles]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("translations")

    def _title(self, article, language):
        return next((t.title for t in article.translations.all() if t.language == language), "—")

    @admin.display(description="Title (English)")
    def title_en(self, article):
        return self._title(article, "en")

    @admin.display(description="Title (Japanese)")
    def title_ja(self, article):
        return self._title(article, "ja")

    def save_model(self, request, obj, form, change):
        # The status is applied in save_related, once the translations it depends on are saved.
        data = form.cleaned_data
        if change:
            saved = services.article_update(
                article=obj, category=data["category"], slug=data["slug"], position=data["position"]
            )
        else:
            saved = services.article_create(category=data["category"], slug=data["slug"], position=data["position"])
        _adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ArticleTranslation:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for translation in formset.deleted_objects:
            services.translation_delete(translation=translation)
        for translation in formset.new_objects:
            saved = services.translation_create(
                article=form.instance,
                language=translation.language,
                title=translation.title,
                body=translation.body,
                author=request.user,
            )
            _adopt(translation, saved)
        for translation, _changed in formset.changed_objects:
            saved = services.translation_update(
                translation=translation,
                language=translation.language,
                title=translation.title,
                body=translation.body,
                author=request.user,
            )
            _adopt(translation, saved)
        return None

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        article = form.instance
        if form.cleaned_data["status"] == ArticleStatus.PUBLISHED:
            try:
                _adopt(article, services.article_publish(article=article))
            except ValidationError as error:
                self.message_user(request, f"Saved as a draft: {'; '.join(error.messages)}", messages.WARNING)
        else:
            _adopt(article, services.article_unpublish(article=article))


@admin.register(ArticleTranslation)
class ArticleTranslationAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "article", "article_status", "updated_at"]
    list_filter = ["language", "article__status", "article__category"]
    search_fields = ["title", "body_text", "article__slug"]
    list_select_related = ["article"]
    fields = ["article", "language", "title", "body", "body_text", "created_at", "updated_at"]
    readonly_fields = ["body_text", "created_at", "updated_at"]
    autocomplete_fields = ["article"]

    @admin.display(description="Status", ordering="article__status")
    def article_status(self, translation):
        return translation.article.get_status_display()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.translation_update(
                translation=obj, language=data["language"], title=data["title"], body=data["body"], author=request.user
            )
        else:
            saved = services.translation_create(
                article=data["article"], language=data["language"], title=data["title"], body=data["body"],
                author=request.user,
            )  # fmt: skip
        _adopt(obj, saved)

    def delete_model(self, request, obj):
        services.translation_delete(translation=obj)

    def delete_queryset(self, request, queryset):
        for translation in queryset:
            services.translation_delete(translation=translation)


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(ReadOnlyAdmin):
    list_display = ["article", "language", "title", "author", "created_at"]
    list_filter = ["language", "article__category"]
    search_fields = ["title", "body", "article__slug", "author__username"]
    list_select_related = ["article", "author"]
    date_hierarchy = "created_at"
    actions = ["restore"]

    def get_actions(self, request):
        # The restore action edits articles, not revisions: offer it to whoever may change articles.
        actions = super().get_actions(request)
        if not request.user.has_perm("knowledge_base.change_articletranslation"):
            actions.pop("restore", None)
        return actions

    @admin.action(description="Restore the selected revisions (as new revisions)")
    def restore(self, request, queryset):
        for revision in queryset.select_related("article").order_by("created_at", "id"):
            services.revision_restore(revision=revision, author=request.user)
        self.message_user(request, f"{len(queryset)} revision(s) restored.")


@admin.register(ArticleTerm)
class ArticleTermAdmin(ReadOnlyAdmin):
    """The search index, to see why an article is (or is not) found. Rebuilt by `rebuild_search_index`."""

    list_display = ["term", "weight", "language", "translation"]
    list_filter = ["language"]
    search_fields = ["=term", "translation__title"]
    list_select_related = ["translation"]
