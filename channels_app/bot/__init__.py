"""The chat bot: a pure component. The chat's state and the customer's new message in, a decision out
(an answer, suggested articles, a question back, or a hand-off to a person). No web, websocket or
database writes here; the live-chat server stores `BotState.to_dict()` on the session and posts the
reply through the message service. See docs/bot.md."""

from channels_app.bot.engine import BotContext, BotReply, handoff_summary, respond
from channels_app.bot.intents import DEFAULT_INTENTS, HANDOFF_PHRASES, Intent
from channels_app.bot.knowledge import Suggestion, knowledge_search
from channels_app.bot.state import BotState, SuggestedArticle, Turn
from channels_app.bot.text import detect_language

__all__ = [
    "DEFAULT_INTENTS",
    "HANDOFF_PHRASES",
    "BotContext",
    "BotReply",
    "BotState",
    "Intent",
    "SuggestedArticle",
    "Suggestion",
    "Turn",
    "detect_language",
    "handoff_summary",
    "knowledge_search",
    "respond",
]
