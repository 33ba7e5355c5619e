"""The chat bot engine: state and a message in, a decision out. Pure logic, except the last tests, which
wire it to the real help center search."""

import json
import time

import pytest

from channels_app.bot import (
    DEFAULT_INTENTS,
    BotContext,
    BotState,
    Intent,
    SuggestedArticle,
    Suggestion,
    Turn,
    detect_language,
    respond,
)
from channels_app.bot.state import MAX_TURN_TEXT, MAX_TURNS


def no_articles(query, language):
    return []


def articles(*suggestions, calls=None):
    """A search that always finds these suggestions (and records what it was asked)."""

    def search(query, language):
        if calls is not None:
            calls.append((query, language))
        return list(suggestions)

    return search


def suggestion(article_id, title, score=0.9):
    return Suggestion(
        article_id=article_id, title=title, url=f"/help/articles/a{article_id}/", snippet=f"About {title}.", score=score
    )


def context(**overrides):
    return BotContext(**({"search": no_articles} | overrides))


def conversation(*messages, state=None, **overrides):
    """Send the messages one after the other, the state going through JSON between them as it will
    on the chat session; the replies."""
    state = state or BotState()
    replies = []
    for message in messages:
        reply = respond(state, message, context=context(**overrides))
        replies.append(reply)
        state = BotState.from_dict(json.loads(json.dumps(reply.state.to_dict())))
    return replies


# --- Hand-off when the customer asks for a person ----------------------------------------------------


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("I want to talk to a human", "en"),
        ("Can I speak to an agent please?", "en"),
        ("REAL PERSON!!!", "en"),
        ("operator", "en"),
        ("Let me talk to someone about my refund", "en"),
        ("Get me a representative.", "en"),
        ("ＨＵＭＡＮ", "en"),
        ("オペレーターと話したい", "ja"),
        ("ｵﾍﾟﾚｰﾀｰにつないでください", "ja"),
        ("担当者に代わってもらえますか", "ja"),
        ("人と話したいです", "ja"),
        ("人と 話したい", "ja"),
        ("有人対応でお願いします", "ja"),
        ("スタッフの方と話せますか？", "ja"),
    ],
)
def test_asking_for_a_person_hands_off_at_once(message, language):
    [reply] = conversation(message, search=articles(suggestion(1, "Returns")))

    assert reply.action == "handoff"
    assert reply.reason == "customer_asked"
    assert reply.suggestions == ()
    assert reply.state.handed_off
    assert reply.state.language == language
    expected = "担当者におつなぎします" if language == "ja" else "connecting you with a member of our support team"
    assert expected in reply.text


@pytest.mark.parametrize(
    "message", ["Is there a travel agency discount?", "Humanitarian shipping?", "What is a personal shopper?"]
)
def test_words_that_only_contain_a_hand_off_word_do_not_hand_off(message):
    [reply] = conversation(message)

    assert reply.action == "clarify"


def test_a_rule_of_the_caller_hands_off():
    [reply] = conversation("Where do I find my invoice?", hand_off_now=True, search=articles(suggestion(1, "Invoices")))

    assert (reply.action, reply.reason) == ("handoff", "rule")


def test_the_expected_wait_is_told_when_known():
    [english] = conversation("agent", wait_text="about 5 minutes")
    [japanese] = conversation("オペレーター", wait_text="約5分")

    assert english.text == (
        "Of course. I'm connecting you with a member of our support team. The expected wait is about 5 minutes. "
        "They will reply here."
    )
    assert (
        japanese.text == "かしこまりました。担当者におつなぎします。待ち時間の目安は約5分です。このままお待ちください。"
    )


# --- Failures ----------------------------------------------------------------------------------------


def test_the_bot_asks_for_more_once_then_hands_off_after_two_failures():
    first, second = conversation("asdf qwerty", "zzz")

    assert (first.action, first.state.failures) == ("clarify", 1)
    assert "Could you tell me a bit more?" in first.text
    assert (second.action, second.reason) == ("handoff", "bot_failed")
    assert second.state.failures == 2
    assert "I'm sorry I couldn't help." in second.text


def test_failures_must_be_in_a_row():
    replies = conversation("asdf", "Hello", "qwerty", "zxcv")

    assert [reply.action for reply in replies] == ["clarify", "answer", "clarify", "handoff"]
    assert [reply.state.failures for reply in replies] == [1, 0, 1, 2]


def test_the_number_of_failures_before_a_hand_off_can_be_set():
    replies = conversation("a1", "b2", "c3", max_failures=3)

    assert [reply.action for reply in replies] == ["clarify", "clarify", "handoff"]


def test_a_japanese_customer_is_asked_in_japanese():
    [reply] = conversation("えーと、あれです")

    assert reply.action == "clarify"
    assert reply.text.startswith("申し訳ありません。お答えできる情報が見つかりませんでした。")


def test_an_empty_message_is_not_a_failure():
    [reply] = conversation("  \x00 ")

    assert reply.action == "clarify"
    assert reply.state.failures == 0
    assert reply.text == "Please type your question, and I'll do my best to help."


def test_saying_it_did_not_help_counts_as_a_failure():
    returns = suggestion(7, "Returns and refunds")
    first, second, third = conversation(
        "How do I return an item?", "That didn't help", "still nothing", search=articles(returns)
    )

    assert first.action == "answer"
    assert (second.action, second.state.failures) == ("clarify", 1)
    assert (third.action, third.reason) == ("handoff", "bot_failed")


def test_offering_the_same_articles_again_is_a_failure_not_an_answer():
    returns = suggestion(7, "Returns and refunds")
    first, second = conversation("return item", "return item please", search=articles(returns))

    assert first.action == "answer"
    assert (second.action, second.state.failures) == ("clarify", 1)


def test_a_broken_search_does_not_break_the_chat(caplog):
    def broken(query, language):
        raise ConnectionError("database gone")

    [reply] = conversation("Where is the refund policy?", search=broken)

    assert reply.action == "clarify"
    assert "Knowledge-base search failed" in caplog.text


# --- Intents -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "intent", "expected"),
    [
        ("Hello!", "greeting", "Hello! I'm the support assistant. How can I help you today?"),
        ("こんにちは", "greeting", "こんにちは。サポートアシスタントです。どのようなご用件でしょうか？"),
        ("Thanks a lot", "thanks", "You're welcome! Is there anything else I can help you with?"),
        ("ありがとうございました！", "thanks", "どういたしまして。ほかにお手伝いできることはございますか？"),
    ],
)
def test_small_talk_is_answered_in_the_customers_language(message, intent, expected):
    [reply] = conversation(message)

    assert (reply.action, reply.intent, reply.text) == ("answer", intent, expected)
    assert reply.reason == reply.summary == ""


def test_a_greeting_does_not_hide_the_question_after_it():
    password = suggestion(3, "Resetting your password")

    [answered] = conversation("Hi, how do I reset my password?", search=articles(password))
    [asked] = conversation("Hi, how long does a parcel take to reach Osaka from your shop?")

    assert (answered.action, answered.intent, answered.suggestions) == ("answer", "", (password,))
    assert asked.action == "clarify"


def test_support_hours_are_answered_with_the_hours_given():
    [english] = conversation("What are your opening hours?", hours_text="on weekdays from 9:00 to 18:00 (JST)")
    [japanese] = conversation("営業時間を教えてください", hours_text="平日9時〜18時")

    assert english.intent == japanese.intent == "support_hours"
    assert english.text.startswith("Our support team is available on weekdays from 9:00 to 18:00 (JST).")
    assert japanese.text.startswith("サポートの対応時間は平日9時〜18時です。")


def test_support_hours_read_well_without_hours_given():
    [reply] = conversation("Are you open on Sunday?")

    assert reply.text.startswith("Our support team is available during our business hours.")
    assert "{" not in reply.text


def test_order_status_points_to_the_order_history_and_asks_for_the_order_number():
    [english] = conversation("Where is my order?")
    [japanese] = conversation("注文した商品がまだ届きません", search=articles(suggestion(1, "Returns")))

    assert (english.action, english.intent) == ("answer", "order_status")
    assert "My page > Order history" in english.text and "order number" in english.text
    assert japanese.intent == "order_status"
    assert "注文番号" in japanese.text and "注文履歴" in japanese.text


def test_the_order_number_after_order_status_goes_to_a_person():
    first, second = conversation("荷物が届かないです", "100-1234567")

    assert first.intent == "order_status"
    assert (second.action, second.reason, second.intent) == ("handoff", "intent", "order_status")
    assert second.text == "ありがとうございます。担当者がご注文を確認いたしますので、このままお待ちください。"
    assert "Latest message: “100-1234567”" in second.summary


def test_an_order_number_out_of_the_blue_is_not_a_follow_up():
    [reply] = conversation("100-1234567")

    assert reply.action == "clarify"


def test_an_intent_can_hand_off():
    complaint = Intent(
        name="complaint",
        keywords=("complaint", "苦情"),
        answers={"en": "I'm sorry to hear that. A supervisor will take over this chat.", "ja": "申し訳ございません。"},
        action="handoff",
    )

    [reply] = conversation("I want to make a complaint", intents=(complaint, *DEFAULT_INTENTS))

    assert (reply.action, reply.reason, reply.intent) == ("handoff", "intent", "complaint")
    assert reply.text == "I'm sorry to hear that. A supervisor will take over this chat."
    assert "Hand-off: the conversation needs a person (intent: complaint)" in reply.summary


def test_intents_can_be_replaced_by_the_callers():
    coupons = Intent(
        name="coupons",
        keywords=("coupon", "クーポン"),
        answers={"en": "Coupons: see My page.", "ja": "クーポンはマイページへ。"},
    )

    [reply] = conversation("ｸｰﾎﾟﾝ使えますか", intents=(coupons,))

    assert (reply.intent, reply.text) == ("coupons", "クーポンはマイページへ。")


def test_an_intent_written_in_one_language_still_answers():
    returns = Intent(name="returns", keywords=("返品",), answers={"en": "Returns are free within 30 days."})

    [reply] = conversation("返品できますか", intents=(returns,))

    assert (reply.action, reply.text) == ("answer", "Returns are free within 30 days.")


def test_an_answer_resets_the_failures_and_remembers_the_intent():
    first, second = conversation("??? blah", "hello")

    assert first.state.failures == 1
    assert (second.state.failures, second.state.last_intent) == (0, "greeting")


# --- Knowledge-base answers --------------------------------------------------------------------------


def test_good_articles_are_offered_in_the_customers_language():
    calls = []
    search = articles(suggestion(1, "返品・返金について"), suggestion(2, "配送について"), calls=calls)

    [reply] = conversation("返品の送料はかかりますか", search=search)

    assert calls == [("返品の送料はかかりますか", "ja")]
    assert reply.action == "answer"
    assert reply.intent == ""
    assert [item.article_id for item in reply.suggestions] == [1, 2]
    assert reply.text == (
        "こちらの記事がお役に立つかもしれません。\n・返品・返金について\n・配送について\n"
        "解決しない場合は、もう少し詳しく教えていただくか、「担当者と話したい」とお送りください。"
    )
    assert reply.state.suggested == (SuggestedArticle(1, "返品・返金について"), SuggestedArticle(2, "配送について"))


def test_english_articles_are_introduced_in_english():
    [reply] = conversation("How do refunds work?", search=articles(suggestion(1, "Returns and refunds")))

    assert reply.text.splitlines() == [
        "These articles may help:",
        "• Returns and refunds",
        "If they don't answer your question, tell me a bit more, or ask to talk to a person.",
    ]


def test_weak_articles_are_not_offered():
    [reply] = conversation("Do you sell gift cards?", search=articles(suggestion(1, "Payment methods", score=0.2)))

    assert reply.action == "clarify"
    assert reply.suggestions == ()


def test_the_score_threshold_and_the_number_of_suggestions_can_be_set():
    found = [suggestion(number, f"Article {number}", score=0.3) for number in range(1, 6)]

    [reply] = conversation("question about things", search=articles(*found), min_score=0.25, max_suggestions=2)

    assert [item.article_id for item in reply.suggestions] == [1, 2]


def test_without_a_search_the_bot_uses_intents_only():
    [reply] = conversation("How do refunds work?", search=None)

    assert reply.action == "clarify"


# --- Language ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [("配送について", "ja"), ("ひらがな", "ja"), ("ｶﾀｶﾅ", "ja"), ("Hello there", "en"), ("12345 !!", "")],
)
def test_the_language_of_a_text(text, language):
    assert detect_language(text) == language


def test_a_short_latin_message_keeps_the_language_already_spoken():
    first, second = conversation("注文について質問です", "OK")

    assert first.state.language == second.state.language == "ja"


def test_the_page_language_decides_until_the_customer_writes_a_sentence():
    [short] = conversation("hi", language="ja-JP")
    [sentence] = conversation("Hello, I have a question", language="ja")

    assert short.state.language == "ja"
    assert short.text.startswith("こんにちは。")
    assert sentence.state.language == "en"


def test_a_customer_who_switches_to_english_is_answered_in_english():
    first, second = conversation("こんにちは", "Sorry, can you reply in English please")

    assert first.state.language == "ja"
    assert second.state.language == "en"
    assert second.text.startswith("Sorry, I couldn't find an answer to that.")


# --- State -------------------------------------------------------------------------------------------


def test_the_state_survives_json_unchanged():
    state = BotState(
        language="ja",
        failures=1,
        turns=(Turn("customer", "返品したい"), Turn("bot", "こちらの記事…"), Turn("agent", "担当の佐藤です")),
        first_question="返品したい",
        suggested=(SuggestedArticle(4, "返品・返金について"),),
        last_intent="order_status",
        handed_off=True,
        handoff_reason="customer_asked",
        customer_turns=3,
    )

    assert BotState.from_dict(json.loads(json.dumps(state.to_dict(), ensure_ascii=False))) == state


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "garbage",
        {"language": "fr", "failures": -3, "turns": "nope", "suggested": [{"article_id": "x"}]},
        {"turns": [{"author": "hacker", "text": "hi"}, {"author": "customer"}, 42], "handed_off": "yes"},
        {"failures": True, "customer_turns": 2.5, "first_question": ["a"]},
    ],
)
def test_a_damaged_state_falls_back_to_defaults(stored):
    assert BotState.from_dict(stored) == BotState()


def test_the_transcript_is_bounded():
    state = BotState()
    for number in range(30):
        state = respond(state, f"hello {number} " + "x" * 5000, context=context()).state

    assert len(state.turns) == MAX_TURNS
    assert all(len(turn.text) <= MAX_TURN_TEXT for turn in state.turns)
    assert state.customer_turns == 30
    assert BotState.from_dict(state.to_dict()) == state


def test_the_transcript_records_both_sides():
    [reply] = conversation("Hello")

    assert reply.state.turns == (
        Turn("customer", "Hello"),
        Turn("bot", "Hello! I'm the support assistant. How can I help you today?"),
    )


def test_once_handed_off_the_bot_stays_quiet():
    first, second = conversation("agent please", "Hello? Anyone there?")

    assert first.action == "handoff"
    assert (second.action, second.text, second.reason) == ("handoff", "", "customer_asked")
    assert second.state.turns[-1] == Turn("customer", "Hello? Anyone there?")


# --- The summary for the agent -----------------------------------------------------------------------


def test_the_summary_tells_the_agent_what_happened():
    def search(query, language):
        return [suggestion(4, "返品・返金について")] if "返品" in query else []

    *_, reply = conversation("こんにちは", "返品したいのですが", "解決しません", "うーん", search=search)

    assert (reply.action, reply.reason) == ("handoff", "bot_failed")
    assert reply.summary == (
        "First question: “返品したいのですが”\n"
        "Latest message: “うーん”\n"
        "Bot suggested: 返品・返金について (#4)\n"
        "Hand-off: the bot could not answer 2 message(s) in a row\n"
        "Language: Japanese; customer messages: 4"
    )


def test_the_summary_of_an_immediate_request_for_a_person():
    [reply] = conversation("I need a human to fix my order")

    assert reply.summary == (
        "First question: “I need a human to fix my order”\n"
        "Bot suggested: no articles\n"
        "Hand-off: the customer asked for a person\n"
        "Language: English; customer messages: 1"
    )


def test_the_first_question_survives_a_long_chat_and_long_text_is_shortened():
    long_question = "My question is " + "very " * 100 + "long"
    replies = conversation(long_question, *["hello"] * 25, "operator")

    summary = replies[-1].summary
    assert summary.startswith("First question: “My question is very very")
    assert "…”" in summary
    assert len(summary.splitlines()[0]) < 230


def test_the_same_conversation_always_gets_the_same_replies():
    messages = ("こんにちは", "返品したい", "わかりません", "まだです")
    search = articles(suggestion(4, "返品・返金について"))

    first = [(reply.action, reply.text, reply.summary) for reply in conversation(*messages, search=search)]
    second = [(reply.action, reply.text, reply.summary) for reply in conversation(*messages, search=search)]

    assert first == second


def test_the_bot_is_fast():
    started = time.perf_counter()
    state = BotState()
    for number in range(300):
        state = respond(BotState(), f"Where is my parcel number {number}? ありがとう", context=context()).state

    assert time.perf_counter() - started < 3
    assert state.customer_turns == 1


# --- Wired to the help center ------------------------------------------------------------------------


@pytest.fixture
def help_center(db):
    from knowledge_base import services

    category = services.category_create(slug="account", name_en="Account", name_ja="アカウント")
    article = services.article_create(category=category, slug="password-reset")
    services.translation_create(
        article=article, language="en", title="Resetting your password", body="Choose Forgot your password."
    )
    services.translation_create(
        article=article, language="ja", title="パスワードの再設定", body="「パスワードをお忘れの方」を押してください。"
    )
    return services.article_publish(article=article)


@pytest.mark.parametrize(
    ("message", "title", "url"),
    [
        ("I forgot my password", "Resetting your password", "/help/articles/password-reset/?lang=en"),
        ("パスワードを忘れました", "パスワードの再設定", "/help/articles/password-reset/?lang=ja"),
    ],
)
def test_by_default_the_bot_answers_from_the_help_center(help_center, message, title, url):
    reply = respond(BotState(), message, context=BotContext())

    assert reply.action == "answer"
    [offered] = reply.suggestions
    assert (offered.article_id, offered.title, offered.url) == (help_center.pk, title, url)
    assert offered.score >= BotContext().min_score


def test_a_question_the_help_center_cannot_answer_gets_no_articles(help_center):
    reply = respond(BotState(), "Do you sell gift cards for birthdays?", context=BotContext())

    assert reply.action == "clarify"
