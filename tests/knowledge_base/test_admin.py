"""The help center admin: every save goes through the services (revisions, index); history is read-only."""

import pytest
from django.contrib import admin as django_admin
from django.urls import reverse

from knowledge_base import services
from knowledge_base.models import Article, ArticleRevision, ArticleStatus, ArticleTerm, ArticleTranslation
from knowledge_base.search import search_articles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def form_data(response) -> dict:
    """What the browser would post back from an admin form page, untouched."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for inline_form in formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[inline_form.add_prefix(name)] = value
    return data


def add_translation(data: dict, language: str, title: str, body: str) -> None:
    index = data["translations-TOTAL_FORMS"]
    data |= {
        "translations-TOTAL_FORMS": index + 1,
        f"translations-{index}-language": language,
        f"translations-{index}-title": title,
        f"translations-{index}-body": body,
    }


def test_every_knowledge_base_admin_page_opens(admin_client, shop_articles):
    for model in django_admin.site._registry:
        if model._meta.app_label != "knowledge_base":
            continue
        info = model._meta.app_label, model._meta.model_name
        assert admin_client.get(reverse("admin:{}_{}_changelist".format(*info)), {"q": "a"}).status_code == 200
        first = model._default_manager.first()
        assert admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[first.pk])).status_code == 200


def test_an_article_written_in_the_admin_is_sanitized_revised_and_searchable(admin_client, category):
    url = reverse("admin:knowledge_base_article_add")
    data = form_data(admin_client.get(url))
    data |= {"category": category.pk, "slug": "gift-wrapping", "status": ArticleStatus.PUBLISHED, "position": 1}
    add_translation(data, "en", "Gift wrapping", "<p>We wrap gifts.</p><script>alert(1)</script>")
    add_translation(data, "ja", "ギフト包装", "ギフト包装を承ります。")

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    article = Article.objects.get(slug="gift-wrapping")
    assert article.status == ArticleStatus.PUBLISHED
    assert article.translations.get(language="en").body == "<p>We wrap gifts.</p>"
    assert article.translations.get(language="ja").body == "<p>ギフト包装を承ります。</p>"
    assert set(ArticleRevision.objects.values_list("language", "author")) == {
        ("en", admin_client.user.pk),
        ("ja", admin_client.user.pk),
    }
    assert search_articles(query="ギフト", language="ja")[0].slug == "gift-wrapping"


def test_editing_a_translation_in_the_admin_records_a_revision_and_reindexes(admin_client, shop_articles):
    article = shop_articles["returns"]
    url = reverse("admin:knowledge_base_article_change", args=[article.pk])
    data = form_data(admin_client.get(url))
    index = next(i for i in range(2) if data[f"translations-{i}-language"] == "en")
    data[f"translations-{index}-body"] = "Exchanges are free."

    response = admin_client.post(url, data)

    assert response.status_code == 302
    latest = ArticleRevision.objects.filter(article=article, language="en").order_by("-id").first()
    assert (latest.body, latest.author) == ("<p>Exchanges are free.</p>", admin_client.user)
    assert ArticleRevision.objects.filter(article=article).count() == 3  # two first versions and this edit
    assert [hit.slug for hit in search_articles(query="exchanges", language="en")] == ["returns"]


def test_saving_an_article_unchanged_records_no_revision(admin_client, shop_articles):
    article = shop_articles["returns"]
    url = reverse("admin:knowledge_base_article_change", args=[article.pk])

    assert admin_client.post(url, form_data(admin_client.get(url))).status_code == 302

    assert ArticleRevision.objects.filter(article=article).count() == 2


def test_setting_an_article_to_draft_in_the_admin_takes_it_out_of_search(admin_client, shop_articles):
    article = shop_articles["returns"]
    url = reverse("admin:knowledge_base_article_change", args=[article.pk])
    data = form_data(admin_client.get(url)) | {"status": ArticleStatus.DRAFT}

    assert admin_client.post(url, data).status_code == 302

    assert Article.objects.get(pk=article.pk).status == ArticleStatus.DRAFT
    assert not ArticleTerm.objects.filter(translation__article=article).exists()


def test_an_article_without_words_is_saved_as_a_draft_with_a_warning(admin_client, category):
    url = reverse("admin:knowledge_base_article_add")
    data = form_data(admin_client.get(url))
    data |= {"category": category.pk, "slug": "empty", "status": ArticleStatus.PUBLISHED, "position": 0}

    response = admin_client.post(url, data, follow=True)

    assert Article.objects.get(slug="empty").status == ArticleStatus.DRAFT
    assert any("Saved as a draft" in str(message) for message in response.context["messages"])


def test_publish_and_unpublish_actions_go_through_the_services(admin_client, shop_articles):
    url = reverse("admin:knowledge_base_article_changelist")
    article = shop_articles["password"]

    admin_client.post(url, {"action": "unpublish_articles", "_selected_action": [article.pk]})
    assert search_articles(query="password") == []

    admin_client.post(url, {"action": "publish_articles", "_selected_action": [article.pk]})
    assert [hit.slug for hit in search_articles(query="password")] == ["password-reset"]


def test_a_translation_saved_on_its_own_admin_page_is_revised(admin_client, shop_articles):
    translation = shop_articles["shipping"].translations.get(language="ja")
    url = reverse("admin:knowledge_base_articletranslation_change", args=[translation.pk])
    data = form_data(admin_client.get(url)) | {"title": "配送・送料について"}

    assert admin_client.post(url, data).status_code == 302

    assert ArticleTranslation.objects.get(pk=translation.pk).title == "配送・送料について"
    assert ArticleRevision.objects.filter(title="配送・送料について", author=admin_client.user).exists()
    assert search_articles(query="送料", language="ja")[0].title == "配送・送料について"


def test_revisions_can_be_restored_but_not_edited(admin_client, shop_articles):
    article = shop_articles["returns"]
    original = ArticleRevision.objects.get(article=article, language="en")
    english = article.translations.get(language="en")
    services.translation_update(translation=english, title="Broken", body="Oops.")
    change_url = reverse("admin:knowledge_base_articlerevision_change", args=[original.pk])
    assert admin_client.post(change_url, {"title": "Rewritten history"}).status_code == 403

    admin_client.post(
        reverse("admin:knowledge_base_articlerevision_changelist"),
        {"action": "restore", "_selected_action": [original.pk]},
    )

    assert article.translations.get(language="en").title == "Returns and refunds"
    assert ArticleRevision.objects.get(pk=original.pk).title == "Returns and refunds"


def test_the_search_index_is_read_only_in_the_admin(admin_client, shop_articles):
    term = ArticleTerm.objects.first()

    assert admin_client.get(reverse("admin:knowledge_base_articleterm_add")).status_code == 403
    url = reverse("admin:knowledge_base_articleterm_change", args=[term.pk])
    assert admin_client.post(url, {"weight": 99}).status_code == 403
