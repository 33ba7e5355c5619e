"""What the bot remembers of a chat between messages, stored as JSON on the chat session."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

AUTHORS = ("customer", "bot", "agent", "system")
MAX_TURNS = 20
MAX_TURN_TEXT = 1000
MAX_SUGGESTED = 10
STATE_VERSION = 1


@dataclass(frozen=True)
class Turn:
    author: str  # "customer" | "bot" | "agent" | "system"
    text: str


@dataclass(frozen=True)
class SuggestedArticle:
    """An article the bot has offered in this chat (for the hand-off summary and to notice repeats)."""

    article_id: int
    title: str


@dataclass(frozen=True)
class BotState:
    language: str = ""  # "ja" or "en", from the customer's text unless given
    failures: int = 0  # consecutive customer turns the bot could not answer
    turns: tuple[Turn, ...] = ()  # the last MAX_TURNS turns
    first_question: str = ""  # the customer's first message that was more than small talk
    suggested: tuple[SuggestedArticle, ...] = ()  # articles offered so far, oldest first
    last_intent: str = ""  # the intent of the bot's last answer (its follow-up may come next)
    handed_off: bool = False
    handoff_reason: str = ""
    customer_turns: int = 0  # every customer message, also those gone from `turns`

    def with_turns(self, *new: Turn) -> BotState:
        clipped = tuple(Turn(author=turn.author, text=turn.text[:MAX_TURN_TEXT]) for turn in new)
        return replace(self, turns=(self.turns + clipped)[-MAX_TURNS:])

    def with_suggested(self, articles: tuple[SuggestedArticle, ...]) -> BotState:
        known = {article.article_id for article in self.suggested}
        added = tuple(article for article in articles if article.article_id not in known)
        return replace(self, suggested=(self.suggested + added)[-MAX_SUGGESTED:])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "version": STATE_VERSION,
            "language": self.language,
            "failures": self.failures,
            "turns": [{"author": turn.author, "text": turn.text} for turn in self.turns],
            "first_question": self.first_question,
            "suggested": [{"article_id": item.article_id, "title": item.title} for item in self.suggested],
            "last_intent": self.last_intent,
            "handed_off": self.handed_off,
            "handoff_reason": self.handoff_reason,
            "customer_turns": self.customer_turns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BotState:
        """The state stored by `to_dict`; missing or malformed parts fall back to their defaults, so an
        old or damaged session never breaks a chat."""
        if not isinstance(data, dict):
            return cls()
        turns = tuple(
            Turn(author=item["author"], text=item["text"][:MAX_TURN_TEXT])
            for item in _list(data.get("turns"))
            if isinstance(item, dict) and item.get("author") in AUTHORS and isinstance(item.get("text"), str)
        )
        suggested = tuple(
            SuggestedArticle(article_id=item["article_id"], title=item["title"])
            for item in _list(data.get("suggested"))
            if isinstance(item, dict) and _is_int(item.get("article_id")) and isinstance(item.get("title"), str)
        )
        language = data.get("language")
        return cls(
            language=language if language in ("ja", "en") else "",
            failures=_count(data.get("failures")),
            turns=turns[-MAX_TURNS:],
            first_question=_text(data.get("first_question")),
            suggested=suggested[-MAX_SUGGESTED:],
            last_intent=_text(data.get("last_intent")),
            handed_off=data.get("handed_off") is True,
            handoff_reason=_text(data.get("handoff_reason")),
            customer_turns=_count(data.get("customer_turns")),
        )


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> int:
    return value if _is_int(value) and value >= 0 else 0


def _text(value: Any) -> str:
    return value[:MAX_TURN_TEXT] if isinstance(value, str) else ""
