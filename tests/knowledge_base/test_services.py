"""Writing the help center: translations are sanitized, every change is a revision, publishing indexes."""

import pytest
from django.core.exceptions import ValidationError

from knowledge_base import services
from knowledge_base.models import Article, ArticleRevision, ArticleStatus, ArticleTerm, ArticleTranslation
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(category):
    return services.article_create(category=category, slug="returns")


@pytest.fixture
def editor(db):
    return UserFactory(username="editor")


def test_a_new_article_is_a_draft(draft):
    assert draft.status == ArticleStatus.DRAFT
    assert draft.published_at is None


def test_html_bodies_are_sanitized_before_they_are_stored(draft):
    translation = services.translation_create(
        article=draft,
        language="en",
        title="Returns",
        body='<p onclick="steal()">Send it back.</p><script>alert(1)</script><a href="javascript:x()">here</a>',
    )

    assert "script" not in translation.body
    assert "onclick" not in translation.body
    assert "javascript" not in translation.body
    assert translation.body.startswith("<p>Send it back.</p>")
    assert translation.body_text == "Send it back.\nhere"


def test_a_plain_text_body_becomes_paragraphs(draft):
    translation = services.translation_create(
        article=draft, language="ja", title="返品", body="一段落目です。\n続きです。\n\n二段落目 <です> & 以上。"
    )

    assert translation.body == "<p>一段落目です。<br>続きです。</p>\n<p>二段落目 &lt;です&gt; &amp; 以上。</p>"


def test_nul_characters_never_reach_the_database(draft):
    translation = services.translation_create(article=draft, language="en", title="Re\x00turns", body="Bo\x00dy")

    assert translation.title == "Returns"
    assert "\x00" not in translation.body


def test_creating_a_translation_records_its_first_revision(draft, editor):
    services.translation_create(article=draft, language="en", title="Returns", body="Send it back.", author=editor)

    revision = ArticleRevision.objects.get()
    assert (revision.article, revision.language, revision.title, revision.author) == (draft, "en", "Returns", editor)
    assert revision.body == "<p>Send it back.</p>"


def test_every_change_is_a_revision_and_none_is_lost(draft, editor):
    translation = services.translation_create(article=draft, language="en", title="Returns", body="Version one.")
    services.translation_update(translation=translation, title="Returns", body="Version two.", author=editor)
    services.translation_update(translation=translation, title="Returns & refunds", body="Version two.")

    history = list(ArticleRevision.objects.order_by("id").values_list("title", "body"))
    assert history == [
        ("Returns", "<p>Version one.</p>"),
        ("Returns", "<p>Version two.</p>"),
        ("Returns & refunds", "<p>Version two.</p>"),
    ]


def test_saving_the_same_words_again_records_nothing(draft):
    translation = services.translation_create(article=draft, language="en", title="Returns", body="<p>Same.</p>")

    services.translation_update(translation=translation, title="Returns", body=translation.body)

    assert ArticleRevision.objects.count() == 1


def test_one_translation_per_language(draft):
    services.translation_create(article=draft, language="en", title="Returns", body="One.")

    with pytest.raises(ValidationError):
        services.translation_create(article=draft, language="en", title="Returns again", body="Two.")


@pytest.mark.parametrize(("title", "body"), [("", "Body."), ("Title", ""), ("Title", "<script>x()</script>")])
def test_a_translation_needs_a_title_and_a_body(draft, title, body):
    with pytest.raises(ValidationError):
        services.translation_create(article=draft, language="en", title=title, body=body)
    assert not ArticleTranslation.objects.exists()
    assert not ArticleRevision.objects.exists()


def test_an_article_without_words_cannot_be_published(draft):
    with pytest.raises(ValidationError):
        services.article_publish(article=draft)
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.DRAFT


def test_drafts_are_not_indexed_until_published(draft):
    services.translation_create(article=draft, language="ja", title="返品", body="返品について。")
    assert not ArticleTerm.objects.exists()

    published = services.article_publish(article=draft)

    assert published.status == ArticleStatus.PUBLISHED
    assert published.published_at is not None
    assert ArticleTerm.objects.filter(term="返品").exists()


def test_publishing_twice_keeps_the_first_publication_date(draft):
    services.translation_create(article=draft, language="en", title="Returns", body="Text.")
    first = services.article_publish(article=draft).published_at

    services.article_unpublish(article=draft)
    again = services.article_publish(article=draft)

    assert again.published_at == first
    assert services.article_publish(article=draft).published_at == first


def test_updating_an_article_never_changes_its_status(draft, category):
    services.translation_create(article=draft, language="en", title="Returns", body="Text.")
    services.article_publish(article=draft)
    draft.status = ArticleStatus.DRAFT  # a stale in-memory value must not leak into the save

    updated = services.article_update(article=draft, slug="returns-policy", position=3)

    assert (updated.slug, updated.position, updated.status) == ("returns-policy", 3, ArticleStatus.PUBLISHED)


def test_slugs_are_unique(draft, category):
    with pytest.raises(ValidationError):
        services.article_create(category=category, slug="returns")


def test_deleting_a_translation_keeps_its_revisions_and_drops_its_index_rows(draft):
    translation = services.translation_create(article=draft, language="en", title="Returns", body="Text.")
    services.article_publish(article=draft)

    services.translation_delete(translation=translation)

    assert ArticleRevision.objects.filter(article=draft, language="en").count() == 1
    assert not ArticleTerm.objects.exists()


def test_restoring_a_revision_brings_its_words_back_as_a_new_revision(draft, editor):
    translation = services.translation_create(article=draft, language="en", title="Returns", body="The good text.")
    services.translation_update(translation=translation, title="Oops", body="A mistake.")
    good = ArticleRevision.objects.get(title="Returns")

    restored = services.revision_restore(revision=good, author=editor)

    assert (restored.title, restored.body) == ("Returns", "<p>The good text.</p>")
    assert ArticleRevision.objects.count() == 3
    assert ArticleRevision.objects.order_by("-id").first().author == editor


def test_restoring_a_deleted_translation_recreates_it(draft):
    translation = services.translation_create(article=draft, language="ja", title="返品", body="本文です。")
    services.translation_delete(translation=translation)

    restored = services.revision_restore(revision=ArticleRevision.objects.get())

    assert restored.language == "ja"
    assert Article.objects.get().translations.get().title == "返品"


def test_a_category_needs_a_name_in_some_language():
    with pytest.raises(ValidationError):
        services.category_create(slug="nameless")
    assert services.category_create(slug="japanese-only", name_ja="お支払い").name_in("en") == "お支払い"
