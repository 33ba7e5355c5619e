"""What the bot recognizes without the knowledge base: intents, and requests for a person.

Phrases are matched after NFKC + casefold: Japanese ones anywhere in the message (spaces ignored),
others as whole words (an optional plural allowed), so "hi" is not found in "shipping".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from channels_app.bot.text import contains_phrase

ANSWER = "answer"
HANDOFF = "handoff"


@dataclass(frozen=True)
class Intent:
    """A recognized kind of message and the bot's answer to it. Admins will edit these later."""

    name: str
    keywords: tuple[str, ...]  # matched after NFKC + casefold, any language
    answers: dict[str, str]  # language -> answer text; may use {hours} and {wait}
    action: str = ANSWER  # "answer" or "handoff"
    # Greetings and thanks: answered only when neither another intent nor the knowledge base answers,
    # and when the message holds little else, so "Hi, where is my parcel?" is not taken for a greeting.
    small_talk: bool = False
    # A regular expression: when the customer's next message matches it (the order number the answer
    # asked for), the bot hands the chat to a person with it (reason "intent").
    follow_up_pattern: str = ""
    follow_up_answers: dict[str, str] = field(default_factory=dict)  # what the bot says then

    def matches(self, normalized: str) -> bool:
        return any(contains_phrase(normalized, keyword) for keyword in self.keywords)

    def follow_up_matches(self, text: str) -> bool:
        return bool(self.follow_up_pattern) and bool(_compiled(self.follow_up_pattern).search(text))


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


GREETING = Intent(
    name="greeting",
    keywords=(
        "hello", "hi", "hey", "good morning", "good afternoon", "good evening",
        "こんにちは", "こんばんは", "おはよう", "はじめまして", "もしもし",
    ),
    answers={
        "en": "Hello! I'm the support assistant. How can I help you today?",
        "ja": "こんにちは。サポートアシスタントです。どのようなご用件でしょうか？",
    },
    small_talk=True,
)  # fmt: skip

THANKS = Intent(
    name="thanks",
    keywords=(
        "thank you", "thanks", "thank", "thx", "cheers", "appreciate it",
        "ありがとう", "有難う", "助かりました", "感謝します",
    ),
    answers={
        "en": "You're welcome! Is there anything else I can help you with?",
        "ja": "どういたしまして。ほかにお手伝いできることはございますか？",
    },
    small_talk=True,
)  # fmt: skip

SUPPORT_HOURS = Intent(
    name="support_hours",
    keywords=(
        "opening hours", "business hours", "support hours", "office hours", "open hours", "hours of operation",
        "what time do you open", "what time do you close", "when are you open", "are you open",
        "営業時間", "受付時間", "対応時間", "サポート時間", "何時から", "何時まで", "営業日",
    ),
    answers={
        "en": "Our support team is available {hours}. You can leave a message here at any time, and we will "
        "reply as soon as we can.",
        "ja": "サポートの対応時間は{hours}です。時間外でもこちらにメッセージを残していただければ、"
        "順次ご回答いたします。",
    },
)  # fmt: skip

# An order number as shops print them: six or more digits, maybe with hyphens (100-1234567).
ORDER_NUMBER_PATTERN = r"(?<![0-9])[0-9](?:-?[0-9]){5,}(?![0-9])"

ORDER_STATUS = Intent(
    name="order_status",
    keywords=(
        "order status", "where is my order", "where's my order", "track my order", "track order", "tracking",
        "my package", "my parcel", "not arrived", "hasn't arrived", "has not arrived", "haven't received",
        "not received", "delivery status", "when will my order arrive",
        "注文状況", "注文の状況", "配送状況", "発送状況", "届かない", "届いていない", "届いてない", "届きません",
        "まだ届", "追跡", "荷物はいつ",
    ),
    answers={
        "en": "You can see the status of your order under My page > Order history, and follow your parcel "
        "with the tracking link in the shipping email. If you tell me your order number (it looks like "
        "100-1234567 and is in your order confirmation email), a member of our team will check it for you.",
        "ja": "ご注文の状況は「マイページ」→「注文履歴」から、荷物の配送状況は発送完了メールの追跡リンクから"
        "ご確認いただけます。注文番号（ご注文確認メールに記載の「100-1234567」のような番号）をお知らせ"
        "いただければ、担当者がお調べします。",
    },
    follow_up_pattern=ORDER_NUMBER_PATTERN,
    follow_up_answers={
        "en": "Thank you. I'm passing your order number to a member of our support team, who will check it "
        "and reply here.",
        "ja": "ありがとうございます。担当者がご注文を確認いたしますので、このままお待ちください。",
    },
)  # fmt: skip

DEFAULT_INTENTS: tuple[Intent, ...] = (ORDER_STATUS, SUPPORT_HOURS, GREETING, THANKS)

HANDOFF_PHRASES: tuple[str, ...] = (
    "human", "agent", "real person", "live person", "actual person", "a person", "operator", "representative",
    "customer service", "support staff", "staff member", "someone real", "talk to someone", "speak to someone",
    "talk with someone", "speak with someone", "talk to a person", "speak to a person", "not a bot",
    "not a robot", "live chat with",
    "オペレータ", "担当者", "担当の方", "担当の人", "人と話", "人間", "有人", "スタッフ", "係の人", "係の方",
    "係員", "人に代わ", "人に替わ", "人につない", "人に繋", "直接話", "ボットではなく", "ボットじゃなく",
    "ロボットではなく",
)  # fmt: skip

NOT_HELPFUL_PHRASES: tuple[str, ...] = (
    "didn't help", "did not help", "doesn't help", "does not help", "not helpful", "that's not it",
    "that is not it", "not what i", "wrong answer", "useless", "still need help", "still have a problem",
    "doesn't answer", "didn't answer", "does not answer",
    "解決しない", "解決しません", "解決していません", "解決できない", "解決できません", "役に立たない",
    "役に立ちません", "違います", "そうではなく", "そうじゃなく", "わかりません", "分かりません", "わからない",
    "分からない",
)  # fmt: skip


def asks_for_person(normalized: str, phrases: tuple[str, ...] = HANDOFF_PHRASES) -> bool:
    return any(contains_phrase(normalized, phrase) for phrase in phrases)


def says_not_helpful(normalized: str) -> bool:
    return any(contains_phrase(normalized, phrase) for phrase in NOT_HELPFUL_PHRASES)
