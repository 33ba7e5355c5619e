"""The chat bot's decision: the chat's state and the customer's new message in, one reply out.

In this order, the first rule that applies decides:

1. the customer asks for a person → hand off ("customer_asked");
2. a rule of the caller says so (`BotContext.hand_off_now`) → hand off ("rule");
3. the message is the follow-up an intent asked for (an order number) → hand off ("intent");
4. an intent matches → its answer, or a hand-off if the intent says so ("intent");
5. the knowledge base has good enough articles (score ≥ `min_score`, not all offered before) → them;
6. a small-talk intent (greeting, thanks) matches a message with little else in it → its answer;
7. otherwise the bot failed: it asks for more detail, and hands off ("bot_failed") on the
   `max_failures`-th failure in a row. "That didn't help" also counts as a failure.

No network, no randomness: the same state and message always give the same reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from channels_app.bot.intents import (
    DEFAULT_INTENTS,
    HANDOFF,
    HANDOFF_PHRASES,
    Intent,
    asks_for_person,
    says_not_helpful,
)
from channels_app.bot.knowledge import Suggestion, knowledge_search
from channels_app.bot.state import BotState, SuggestedArticle, Turn
from channels_app.bot.text import ENGLISH, JAPANESE, conversation_language, is_brief, normalize, without_phrases

logger = logging.getLogger(__name__)

ANSWER = "answer"
CLARIFY = "clarify"
CUSTOMER = "customer"
BOT = "bot"

CUSTOMER_ASKED = "customer_asked"
BOT_FAILED = "bot_failed"
INTENT = "intent"
RULE = "rule"

MAX_MESSAGE_LENGTH = 2000
# Scores are knowledge_base.search coverage: ~1 when an article holds every term of the message.
DEFAULT_MIN_SCORE = 0.4

TEXTS: dict[str, dict[str, str]] = {
    "articles": {
        ENGLISH: "These articles may help:",
        JAPANESE: "こちらの記事がお役に立つかもしれません。",
    },
    "articles_after": {
        ENGLISH: "If they don't answer your question, tell me a bit more, or ask to talk to a person.",
        JAPANESE: "解決しない場合は、もう少し詳しく教えていただくか、「担当者と話したい」とお送りください。",
    },
    "bullet": {ENGLISH: "• ", JAPANESE: "・"},
    "clarify": {
        ENGLISH: "Sorry, I couldn't find an answer to that. Could you tell me a bit more? For example, what "
        "you were trying to do, or your order number.",
        JAPANESE: "申し訳ありません。お答えできる情報が見つかりませんでした。もう少し詳しく教えていただけますか？"
        "（例：どのような操作をされたか、注文番号など）",
    },
    "empty": {
        ENGLISH: "Please type your question, and I'll do my best to help.",
        JAPANESE: "ご質問をご入力ください。できる限りお答えします。",
    },
    CUSTOMER_ASKED: {
        ENGLISH: "Of course. I'm connecting you with a member of our support team.",
        JAPANESE: "かしこまりました。担当者におつなぎします。",
    },
    BOT_FAILED: {
        ENGLISH: "I'm sorry I couldn't help. I'm passing this chat to a member of our support team.",
        JAPANESE: "お役に立てず申し訳ありません。担当者におつなぎします。",
    },
    RULE: {
        ENGLISH: "I'm connecting you with a member of our support team.",
        JAPANESE: "担当者におつなぎします。",
    },
    INTENT: {
        ENGLISH: "I'm passing this chat to a member of our support team.",
        JAPANESE: "担当者に引き継ぎます。",
    },
    "wait": {
        ENGLISH: "The expected wait is {wait}. They will reply here.",
        JAPANESE: "待ち時間の目安は{wait}です。このままお待ちください。",
    },
    "no_wait": {
        ENGLISH: "They will reply here, so please stay in this chat.",
        JAPANESE: "このままお待ちください。",
    },
}
# What an intent's {hours} or {wait} says when the caller knows no better.
PLACEHOLDER_DEFAULTS: dict[str, dict[str, str]] = {
    "hours": {ENGLISH: "during our business hours", JAPANESE: "ヘルプセンターに記載の営業時間内"},
    "wait": {ENGLISH: "a short while", JAPANESE: "しばらく"},
}
_PLACEHOLDER = re.compile(r"\{(hours|wait)\}")

REASONS = {
    CUSTOMER_ASKED: "the customer asked for a person",
    BOT_FAILED: "the bot could not answer {failures} message(s) in a row",
    INTENT: "the conversation needs a person (intent: {intent})",
    RULE: "a rule sends this chat to a person",
}


@dataclass(frozen=True)
class BotContext:
    intents: tuple[Intent, ...] = DEFAULT_INTENTS
    search: Callable[[str, str], list[Suggestion]] | None = knowledge_search  # (query, language) -> suggestions
    hours_text: str = ""  # for {hours}, e.g. "weekdays 9:00–18:00 (JST)"
    wait_text: str = ""  # for {wait}, e.g. "about 5 minutes"
    language: str = ""  # a hint from the page or browser
    hand_off_now: bool = False  # a rule says: go to a person
    min_score: float = DEFAULT_MIN_SCORE
    max_suggestions: int = 3
    max_failures: int = 2
    handoff_phrases: tuple[str, ...] = HANDOFF_PHRASES


@dataclass(frozen=True)
class BotReply:
    action: str  # "answer" | "clarify" | "handoff"
    text: str  # what the bot says to the customer ("" when it has nothing to add)
    suggestions: tuple[Suggestion, ...]
    intent: str  # the intent that matched ("" for a knowledge-base answer)
    reason: str  # for a hand-off: "customer_asked" | "bot_failed" | "intent" | "rule"
    summary: str  # for a hand-off: the conversation so far, for the agent
    state: BotState


def respond(state: BotState, message: str, *, context: BotContext) -> BotReply:
    """The bot's reply to the customer's new message (see the module docstring for the rules)."""
    text = message.replace("\x00", "").strip()[:MAX_MESSAGE_LENGTH]
    language = conversation_language(text, current=state.language, hint=context.language)
    state = replace(state, language=language, customer_turns=state.customer_turns + 1).with_turns(
        Turn(author=CUSTOMER, text=text)
    )
    if state.handed_off:
        # A person has the chat: the bot stays quiet.
        return _reply(state, action=HANDOFF, text="", reason=state.handoff_reason, summary=handoff_summary(state))
    normalized = normalize(text)
    if not normalized:
        return _reply(state, action=CLARIFY, text=TEXTS["empty"][language])

    asked = replace(state, first_question=state.first_question or text)
    if asks_for_person(normalized, context.handoff_phrases):
        return _hand_off(asked, context, reason=CUSTOMER_ASKED)
    if context.hand_off_now:
        return _hand_off(asked, context, reason=RULE)
    previous = next((intent for intent in context.intents if intent.name == state.last_intent), None)
    if previous is not None and previous.follow_up_matches(text):
        said = _in_language(previous.follow_up_answers, language)
        return _hand_off(asked, context, reason=INTENT, intent=previous.name, text=_fill(said, context, language))
    for intent in context.intents:
        if not intent.small_talk and intent.matches(normalized):
            return _intent_reply(asked, context, intent)

    suggestions = _suggestions(asked, text, context, fresh_only=says_not_helpful(normalized))
    if suggestions:
        return _articles_reply(asked, suggestions)
    for intent in context.intents:
        if intent.small_talk and intent.matches(normalized) and is_brief(without_phrases(normalized, intent.keywords)):
            return _intent_reply(state, context, intent)
    return _failed(asked, context)


def _reply(state: BotState, *, action: str, text: str, **fields) -> BotReply:
    if text:
        state = state.with_turns(Turn(author=BOT, text=text))
    values = {"suggestions": (), "intent": "", "reason": "", "summary": ""} | fields
    return BotReply(action=action, text=text, state=state, **values)


def _in_language(texts: dict[str, str], language: str) -> str:
    """The text in this language; an intent an admin wrote in one language only still answers."""
    return texts.get(language) or texts.get(ENGLISH) or next(iter(texts.values()), "")


def _fill(template: str, context: BotContext, language: str) -> str:
    values = {"hours": context.hours_text, "wait": context.wait_text}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name].strip() or PLACEHOLDER_DEFAULTS[name][language]

    return _PLACEHOLDER.sub(value, template).strip()


def _intent_reply(state: BotState, context: BotContext, intent: Intent) -> BotReply:
    language = state.language
    said = _fill(_in_language(intent.answers, language), context, language)
    if intent.action == HANDOFF:
        return _hand_off(state, context, reason=INTENT, intent=intent.name, text=said)
    state = replace(state, failures=0, last_intent=intent.name)
    return _reply(state, action=ANSWER, text=said, intent=intent.name)


def _suggestions(state: BotState, text: str, context: BotContext, *, fresh_only: bool) -> tuple[Suggestion, ...]:
    """Good enough articles for the message; none when every one of them was offered already (the
    customer is going round in circles) or, after "that didn't help", only those not offered yet."""
    if context.search is None:
        return ()
    try:
        found = context.search(text, state.language)
    except Exception:
        # A broken search must not break the chat: the bot carries on without articles.
        logger.exception("Knowledge-base search failed; answering without articles")
        return ()
    good = [suggestion for suggestion in found if suggestion.score >= context.min_score]
    offered = {article.article_id for article in state.suggested}
    fresh = [suggestion for suggestion in good if suggestion.article_id not in offered]
    if not fresh:
        return ()
    return tuple((fresh if fresh_only else good)[: context.max_suggestions])


def _articles_reply(state: BotState, suggestions: tuple[Suggestion, ...]) -> BotReply:
    language = state.language
    bullet = TEXTS["bullet"][language]
    lines = [TEXTS["articles"][language], *(f"{bullet}{suggestion.title}" for suggestion in suggestions)]
    lines.append(TEXTS["articles_after"][language])
    offered = tuple(SuggestedArticle(article_id=item.article_id, title=item.title) for item in suggestions)
    state = replace(state.with_suggested(offered), failures=0, last_intent="")
    return _reply(state, action=ANSWER, text="\n".join(lines), suggestions=suggestions)


def _failed(state: BotState, context: BotContext) -> BotReply:
    state = replace(state, failures=state.failures + 1)
    if state.failures >= context.max_failures:
        return _hand_off(state, context, reason=BOT_FAILED)
    return _reply(state, action=CLARIFY, text=TEXTS["clarify"][state.language])


def _hand_off(state: BotState, context: BotContext, *, reason: str, intent: str = "", text: str = "") -> BotReply:
    language = state.language
    if not text:
        waiting = TEXTS["wait"] if context.wait_text.strip() else TEXTS["no_wait"]
        separator = " " if language == ENGLISH else ""
        text = f"{TEXTS[reason][language]}{separator}{_fill(waiting[language], context, language)}"
    state = replace(state, handed_off=True, handoff_reason=reason, last_intent=intent or state.last_intent)
    return _reply(
        state,
        action=HANDOFF,
        text=text,
        intent=intent,
        reason=reason,
        summary=handoff_summary(state, intent=intent),
    )


def _quote(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return f"“{flat[:limit]}…”" if len(flat) > limit else f"“{flat}”"


def handoff_summary(state: BotState, *, intent: str = "") -> str:
    """For the agent who takes over, in English: what the customer asked first, their latest message,
    what the bot offered and why it hands off. Extractive and deterministic."""
    customer_texts = [turn.text for turn in state.turns if turn.author == CUSTOMER]
    latest = customer_texts[-1] if customer_texts else ""
    lines = [f"First question: {_quote(state.first_question)}" if state.first_question else "First question: —"]
    if latest and latest != state.first_question:
        lines.append(f"Latest message: {_quote(latest)}")
    offered = "; ".join(f"{article.title} (#{article.article_id})" for article in state.suggested)
    lines.append(f"Bot suggested: {offered or 'no articles'}")
    reason = REASONS.get(state.handoff_reason, state.handoff_reason or "—")
    lines.append(f"Hand-off: {reason.format(failures=state.failures, intent=intent or state.last_intent)}")
    language = {JAPANESE: "Japanese", ENGLISH: "English"}.get(state.language, "unknown")
    lines.append(f"Language: {language}; customer messages: {state.customer_turns}")
    return "\n".join(lines)
