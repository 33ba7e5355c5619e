"""How text becomes index terms: Japanese as bigrams, Latin text as folded words, one normal form."""

import pytest

from knowledge_base.text import light_stem, normalize, query_weight, terms


def test_japanese_is_cut_into_overlapping_bigrams():
    assert terms("配送料金") == ["配送", "送料", "料金"]


def test_katakana_words_are_bigrams_too():
    assert terms("パスワード") == ["パス", "スワ", "ワー", "ード"]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("ﾊﾟｽﾜｰﾄﾞ", "パスワード"), ("ＰＡＳＳＷＯＲＤ", "password"), ("Password", "password"), ("１２３", "123")],
)
def test_full_width_half_width_and_case_agree(written, canonical):
    assert normalize(written) == canonical
    assert terms(written) == terms(canonical)


def test_a_particle_before_the_next_word_makes_no_term():
    # を after a word, and を followed by the next word: neither is part of a word.
    assert terms("住所を変更") == ["住所", "変更"]


def test_a_one_kanji_stem_is_indexed_on_its_own_so_conjugations_meet():
    assert "届" in terms("届かない")
    assert "届" in terms("届きません")
    assert "届" in terms("お届けします")


def test_the_ending_after_a_compound_is_not_glued_to_it():
    assert terms("返品したい") == ["返品", "した", "たい"]


def test_latin_words_are_lower_cased_and_stopwords_dropped():
    assert terms("Where is MY Parcel?") == ["parcel"]


@pytest.mark.parametrize(
    ("forms", "stem"),
    [
        (("refund", "refunds", "refunded", "refunding"), "refund"),
        (("ship", "ships", "shipped", "shipping"), "ship"),
        (("change", "changes", "changed", "changing"), "chang"),
        (("address", "addresses"), "address"),
        (("delivery", "deliveries"), "delivery"),
    ],
)
def test_english_word_forms_meet(forms, stem):
    assert {light_stem(form) for form in forms} == {stem}


def test_long_numbers_are_identifiers_not_topics():
    assert terms("order 1002345 in 30 days") == ["order", "30", "day"]


def test_mixed_text_keeps_both_scripts():
    assert terms("PayPayで支払い") == ["paypay", "支払"]


def test_hiragana_only_terms_count_little_in_a_query():
    assert query_weight("ます") < query_weight("配送") == query_weight("refund") == 1.0


def test_nul_characters_are_ignored():
    assert terms("ref\x00und") == terms("refund")
