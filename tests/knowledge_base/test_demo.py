"""The demo help center: a web shop's articles in English and Japanese, loaded idempotently."""

import io

import pytest
from django.core.management import call_command

from knowledge_base.models import Article, ArticleStatus, ArticleTranslation, Category
from knowledge_base.search import search_articles

pytestmark = pytest.mark.django_db


def load_demo() -> str:
    output = io.StringIO()
    call_command("knowledge_base_demo", stdout=output)
    return output.getvalue()


def test_the_demo_publishes_every_article_in_both_languages():
    load_demo()

    assert Article.objects.count() == 8
    assert Category.objects.count() == 4
    assert set(Article.objects.values_list("status", flat=True)) == {ArticleStatus.PUBLISHED}
    for article in Article.objects.all():
        assert sorted(article.translations.values_list("language", flat=True)) == ["en", "ja"]


def test_loading_the_demo_twice_changes_nothing_and_keeps_edits():
    load_demo()
    edited = ArticleTranslation.objects.get(article__slug="support-hours", language="en")
    edited.title = "Our hours"
    edited.save()

    assert "(0 new article(s))" in load_demo()

    assert Article.objects.count() == 8
    assert ArticleTranslation.objects.get(pk=edited.pk).title == "Our hours"


@pytest.mark.parametrize(
    ("query", "language", "slug"),
    [
        ("返品したい", "ja", "returns-and-refunds"),
        ("パスワードを忘れました", "ja", "password-reset"),
        ("領収書", "ja", "invoices-receipts"),
        ("コンビニで払えますか", "ja", "payment-methods"),
        ("住所を変更したい", "ja", "change-delivery-address"),
        ("送料", "ja", "shipping-times"),
        ("I forgot my password", "en", "password-reset"),
        ("how do I get a refund", "en", "returns-and-refunds"),
        ("receipt for my company", "en", "invoices-receipts"),
        ("can I pay with PayPay", "en", "payment-methods"),
        ("change my delivery address", "en", "change-delivery-address"),
        ("tracking number", "en", "order-tracking"),
    ],
)
def test_customers_questions_find_the_right_demo_article(query, language, slug):
    load_demo()

    hits = search_articles(query=query, language=language)

    assert hits[0].slug == slug
    assert hits[0].language == language
