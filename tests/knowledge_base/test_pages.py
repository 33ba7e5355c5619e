"""The public help center pages: the article list, search and the article, in English and Japanese."""

import pytest
from django.urls import reverse
from django.utils import translation

from knowledge_base import services
from knowledge_base.search import MAX_QUERY_LENGTH

pytestmark = pytest.mark.django_db

JA = {"HTTP_ACCEPT_LANGUAGE": "ja-JP,ja;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def _no_japanese_afterwards():
    """LocaleMiddleware leaves the request's language active in this thread."""
    yield
    translation.deactivate()


def page(response) -> str:
    return response.content.decode()


# --- The help center home ----------------------------------------------------------------------------


def test_the_help_center_lists_published_articles_under_their_category(client, shop_articles, make_article):
    make_article("unfinished", en=("Unfinished article", "Not ready."), publish=False)

    response = client.get(reverse("kb-home"))

    assert response.status_code == 200
    html = page(response)
    assert "Orders &amp; delivery" in html
    for title in ("Shipping times", "Returns and refunds", "Resetting your password"):
        assert title in html
    assert "Unfinished article" not in html
    assert f'action="{reverse("kb-search")}"' in html
    assert f'href="{reverse("kb-article", args=["returns"])}"' in html


def test_a_japanese_reader_gets_japanese_names_and_titles(client, shop_articles):
    html = page(client.get(reverse("kb-home"), **JA))

    assert '<html lang="ja">' in html
    assert "ご注文・配送" in html
    assert "配送について" in html and "返品・返金について" in html
    assert "Shipping times" not in html


def test_an_article_only_in_the_other_language_is_listed_in_it(client, make_article):
    make_article("ja-only", ja=("日本語だけの記事", "本文です。"))

    html = page(client.get(reverse("kb-home")))

    assert 'lang="ja">日本語だけの記事</a>' in html


def test_categories_without_published_articles_are_left_out(client, shop_articles):
    services.category_create(slug="empty", name_en="Empty corner")

    assert "Empty corner" not in page(client.get(reverse("kb-home")))


@pytest.mark.parametrize("articles", [1, 6])
def test_the_home_page_takes_three_queries_however_many_articles(
    client, make_article, articles, django_assert_num_queries
):
    for number in range(articles):
        make_article(f"article-{number}", en=(f"Article {number}", "Text."), ja=(f"記事 {number}", "本文。"))

    with django_assert_num_queries(3):
        response = client.get(reverse("kb-home"))

    assert response.status_code == 200


# --- Search ------------------------------------------------------------------------------------------


def test_search_shows_matching_articles_with_snippets(client, shop_articles):
    html = page(client.get(reverse("kb-search"), {"q": "password"}))

    assert "Resetting your password" in html
    assert "Choose Forgot your password on the sign-in page." in html
    assert 'href="/help/articles/password-reset/?lang=en"' in html
    assert "1 article matches “password”." in html


def test_a_japanese_search_on_the_english_site_finds_japanese_articles(client, shop_articles):
    html = page(client.get(reverse("kb-search"), {"q": "返品したい"}))

    assert 'lang="ja">返品・返金について</a>' in html
    assert '<span class="tag">Japanese</span>' in html


def test_a_japanese_reader_searches_in_japanese(client, shop_articles):
    html = page(client.get(reverse("kb-search"), {"q": "ﾊﾟｽﾜｰﾄﾞ"}, **JA))

    assert "パスワードの再設定" in html
    assert "Resetting your password" not in html


def test_an_empty_search_asks_for_words(client, shop_articles):
    response = client.get(reverse("kb-search"), {"q": "   "})

    assert response.status_code == 200
    assert "Type a few words about your question" in page(response)


def test_a_too_long_search_is_refused_with_a_clear_message(client, shop_articles, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("kb-search"), {"q": "a" * (MAX_QUERY_LENGTH + 1)})

    assert response.status_code == 400
    assert f"Your search is too long. Please use at most {MAX_QUERY_LENGTH} characters." in page(response)


def test_a_search_without_results_says_so_and_escapes_the_query(client, shop_articles):
    html = page(client.get(reverse("kb-search"), {"q": "<script>zebra()</script>"}))

    assert "No articles match" in html
    assert "&lt;script&gt;zebra()&lt;/script&gt;" in html
    assert "<script>zebra()" not in html


def test_the_search_page_takes_three_queries(client, shop_articles, django_assert_num_queries):
    with django_assert_num_queries(3):
        client.get(reverse("kb-search"), {"q": "返品 password delivery"})


# --- Articles ----------------------------------------------------------------------------------------


def test_an_article_is_shown_in_the_readers_language(client, shop_articles):
    url = reverse("kb-article", args=["returns"])

    english = page(client.get(url))
    japanese = page(client.get(url, **JA))

    assert "<h1>Returns and refunds</h1>" in english
    assert "<p>You can return unused items within 30 days. Refunds take 5 days.</p>" in english
    assert "Orders &amp; delivery" in english
    assert 'href="?lang=ja"' in english  # the other language is a click away
    assert "<h1>返品・返金について</h1>" in japanese
    assert "ご注文・配送" in japanese


def test_an_article_can_be_asked_for_in_a_language(client, shop_articles):
    html = page(client.get(reverse("kb-article", args=["returns"]), {"lang": "ja"}))

    assert '<article class="card" lang="ja"' in html
    assert "<h1>返品・返金について</h1>" in html
    assert "not available in your language" not in html


def test_an_article_missing_in_the_readers_language_falls_back_with_a_note(client, make_article):
    make_article("ja-only", ja=("日本語だけの記事", "本文です。"))

    response = client.get(reverse("kb-article", args=["ja-only"]))

    assert response.status_code == 200
    html = page(response)
    assert "This article is not available in your language yet, so it is shown in Japanese." in html
    assert '<article class="card" lang="ja"' in html
    assert "<h1>日本語だけの記事</h1>" in html


def test_an_unknown_language_asked_for_is_ignored(client, shop_articles):
    html = page(client.get(reverse("kb-article", args=["returns"]), {"lang": "xx"}))

    assert "<h1>Returns and refunds</h1>" in html


def test_drafts_and_unknown_articles_are_not_found(client, make_article):
    make_article("draft", en=("Draft", "Not yet."), publish=False)

    assert client.get(reverse("kb-article", args=["draft"])).status_code == 404
    assert client.get(reverse("kb-article", args=["nothing-here"])).status_code == 404


def test_the_article_page_takes_two_queries(client, shop_articles, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert client.get(reverse("kb-article", args=["returns"])).status_code == 200


def test_help_center_pages_only_answer_get(client, shop_articles):
    assert client.post(reverse("kb-home")).status_code == 405
    assert client.post(reverse("kb-search"), {"q": "x"}).status_code == 405
