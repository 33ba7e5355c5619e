"""Searching the help center: ranked, published only, Japanese and English, a fixed number of queries."""

import io

import pytest
from django.core.management import call_command

from knowledge_base import services
from knowledge_base.models import ArticleTerm
from knowledge_base.search import MAX_QUERY_LENGTH, SNIPPET_LENGTH, ArticleHit, search_articles

pytestmark = pytest.mark.django_db


def slugs(hits):
    return [hit.slug for hit in hits]


def test_a_japanese_word_finds_the_japanese_article(shop_articles):
    hits = search_articles(query="返品", language="ja")

    assert slugs(hits) == ["returns"]
    hit = hits[0]
    assert hit == ArticleHit(
        article_id=shop_articles["returns"].pk,
        slug="returns",
        language="ja",
        title="返品・返金について",
        snippet="未使用の商品はお届けから30日以内であれば返品いただけます。",
        score=hit.score,
        url="/help/articles/returns/?lang=ja",
    )
    assert 0 < hit.score <= 1


def test_japanese_is_found_inside_a_sentence_without_spaces(shop_articles):
    assert slugs(search_articles(query="商品を返品したいのですが", language="ja"))[0] == "returns"
    assert slugs(search_articles(query="パスワードを忘れました", language="ja"))[0] == "password-reset"


def test_half_width_katakana_finds_full_width_text(shop_articles):
    assert slugs(search_articles(query="ﾊﾟｽﾜｰﾄﾞ", language="ja")) == ["password-reset"]


def test_english_forms_of_a_word_find_each_other(shop_articles):
    assert slugs(search_articles(query="refunded", language="en")) == ["returns"]
    assert slugs(search_articles(query="PASSWORDS", language="en")) == ["password-reset"]


def test_a_title_match_ranks_above_a_mention_in_the_body(make_article):
    make_article("mentions", en=("Gift wrapping", "We can add a note about shipping to your gift."))
    make_article("about", en=("Shipping to Okinawa", "Parcels to Okinawa take three days."))

    assert slugs(search_articles(query="shipping", language="en")) == ["about", "mentions"]


def test_more_matching_words_rank_higher_and_score_higher(make_article):
    make_article("one-word", en=("Delivery", "Delivery is by courier."))
    make_article("both-words", en=("Delivery costs", "Delivery costs 550 yen."))

    hits = search_articles(query="delivery costs", language="en")

    assert slugs(hits) == ["both-words", "one-word"]
    assert hits[0].score > hits[1].score


def test_drafts_are_never_found(make_article):
    make_article("draft", en=("Secret sale", "A sale nobody may know about yet."), publish=False)

    assert search_articles(query="secret sale") == []


def test_an_unpublished_article_leaves_the_index(shop_articles):
    services.article_unpublish(article=shop_articles["returns"])

    assert search_articles(query="返品", language="ja") == []
    assert not ArticleTerm.objects.filter(translation__article=shop_articles["returns"]).exists()


def test_an_edit_is_searchable_at_once(shop_articles):
    translation = shop_articles["returns"].translations.get(language="en")
    services.translation_update(translation=translation, title="Returns", body="Exchanges for another size.")

    assert slugs(search_articles(query="exchange size", language="en")) == ["returns"]
    assert search_articles(query="unused", language="en") == []


def test_the_requested_language_comes_first_and_alone(shop_articles):
    # "30" is in both translations of the returns article; English readers get the English one only.
    hits = search_articles(query="30", language="en")

    assert [(hit.slug, hit.language) for hit in hits] == [("returns", "en")]


def test_the_other_language_answers_when_the_requested_one_has_no_hit(shop_articles):
    hits = search_articles(query="配送", language="en")

    assert [(hit.slug, hit.language, hit.title) for hit in hits] == [("shipping-times", "ja", "配送について")]
    assert hits[0].url == "/help/articles/shipping-times/?lang=ja"


def test_without_a_language_each_article_appears_once(make_article):
    make_article(
        "line", en=("LINE support", "Write to us on LINE."), ja=("LINEでのお問い合わせ", "LINEでご連絡ください。")
    )

    hits = search_articles(query="LINE")

    assert slugs(hits) == ["line"]


def test_the_limit_caps_the_hits(make_article):
    for number in range(6):
        make_article(f"invoice-{number}", en=(f"Invoice question {number}", "About invoices."))

    assert len(search_articles(query="invoice", limit=4)) == 4
    assert search_articles(query="invoice", limit=0) == []


@pytest.mark.parametrize("query", ["", "   ", "the and of", "!!!", "12345678"])
def test_a_query_without_searchable_words_finds_nothing_and_asks_the_database_nothing(
    shop_articles, query, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert search_articles(query=query) == []


def test_words_no_article_has_cost_one_query(shop_articles, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert search_articles(query="zebra giraffe") == []


@pytest.mark.parametrize("articles", [2, 12])
def test_a_search_takes_three_queries_however_many_articles_match(make_article, articles, django_assert_num_queries):
    for number in range(articles):
        make_article(
            f"delivery-{number}",
            en=(f"Delivery {number}", "Delivery questions and answers."),
            ja=(f"配送 {number}", "配送についてのご質問。"),
        )

    with django_assert_num_queries(3):
        hits = search_articles(query="delivery 配送", language="ja", limit=10)

    assert len(hits) == min(articles, 10)
    assert {hit.language for hit in hits} == {"ja"}


def test_a_long_query_is_cut_not_refused(shop_articles):
    query = "返品 " + "あ" * (MAX_QUERY_LENGTH * 5)

    assert slugs(search_articles(query=query, language="ja")) == ["returns"]


def test_the_snippet_is_the_passage_that_matches(make_article):
    body = (
        "Our warehouse is in Chiba. "
        "Orders ship the same day. " * 3 + "Refunds are paid to your card within five business days. "
        "Thank you for shopping with us."
    )
    make_article("long", en=("Everything", body))

    [hit] = search_articles(query="refund card", language="en")

    assert hit.snippet.startswith("…Refunds are paid to your card within five business days.")
    assert len(hit.snippet) <= SNIPPET_LENGTH["en"] + 2


def test_a_match_deep_in_a_long_japanese_sentence_is_shown_around_the_match(make_article):
    body = "当店では" + "さまざまな商品を取りそろえており、" * 12 + "ギフト包装も無料で承っております。"
    make_article("gift", ja=("ご案内", body))

    [hit] = search_articles(query="ギフト包装", language="ja")

    assert hit.snippet.startswith("…")
    assert "ギフト包装も無料で承っております。" in hit.snippet
    assert len(hit.snippet) <= SNIPPET_LENGTH["ja"] + 2


def test_a_score_is_about_how_much_of_the_query_the_article_covers(shop_articles):
    [full] = search_articles(query="password", language="en")
    [partial] = search_articles(query="password zebra giraffe", language="en")

    assert full.score == 1.0
    assert 0 < partial.score < full.score


def test_the_rebuilt_index_is_the_index_the_services_keep(shop_articles, make_article):
    make_article("draft", en=("Draft", "Not yet."), publish=False)
    kept = set(ArticleTerm.objects.values_list("translation_id", "term", "weight"))

    output = io.StringIO()
    call_command("rebuild_search_index", stdout=output)

    assert "Indexed 6 translation(s)" in output.getvalue()
    assert set(ArticleTerm.objects.values_list("translation_id", "term", "weight")) == kept
    assert search_articles(query="返品", language="ja")[0].slug == "returns"
