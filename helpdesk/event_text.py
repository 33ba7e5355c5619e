"""Words for system events on the timeline, in the reader's language.

An event is stored as a code and plain data (`Message.event`, `Message.data`); its `body_text` keeps
an English rendering for search and API clients. Pages render the event again in the language of
whoever reads it, so a Japanese agent never sees "Status changed from 新規 to ..." half-translated.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import override

from helpdesk.models import TicketStatus


def _status(value: str) -> str:
    return str(TicketStatus(value).label) if value in TicketStatus.values else value


def _status_changed(data: dict) -> str:
    text = _("Status changed from %(old)s to %(new)s") % {
        "old": _status(data.get("from", "")),
        "new": _status(data.get("to", "")),
    }
    reason = REASONS.get(data.get("reason") or "")
    return f"{text} ({reason()})" if reason else text


def _assigned(data: dict) -> str:
    who, team = data.get("assignee_name"), data.get("team_name")
    if who:
        return (
            _("Assigned to %(who)s (%(team)s)") % {"who": who, "team": team}
            if team
            else _("Assigned to %(who)s") % {"who": who}
        )
    return _("Unassigned (%(team)s)") % {"team": team} if team else _("Unassigned")


def _routed(data: dict) -> str:
    rules = ", ".join(f"“{name}”" for name in data.get("rule_names") or [])
    team = data.get("team_name")
    text = ""
    if rules:
        text = (
            _("Routed by %(rules)s to %(team)s") % {"rules": rules, "team": team}
            if team
            else _("Routed by %(rules)s") % {"rules": rules}
        )
    who = data.get("assignee_name")
    if who:
        how = ASSIGNED_BY.get(data.get("assigned_by") or "", lambda: "")()
        assigned = (_("assigned to %(who)s (%(how)s)") if text else _("Assigned to %(who)s (%(how)s)")) % {
            "who": who,
            "how": how,
        }
        text = f"{text}, {assigned}" if text else assigned
    return text


ASSIGNED_BY: dict[str, Callable[[], str]] = {
    "rule": lambda: _("by a rule"),
    "round_robin": lambda: _("round robin"),
    "least_load": lambda: _("least load"),
}

HANDOFF_REASONS: dict[str, Callable[[], str]] = {
    "customer_asked": lambda: _("the customer asked for a person"),
    "bot_failed": lambda: _("the bot could not answer"),
    "intent": lambda: _("a question for a person"),
    "rule": lambda: _("a rule"),
}

REASONS: dict[str, Callable[[], str]] = {
    "customer replied": lambda: _("customer replied"),
    "solved for a while": lambda: _("solved for a while"),
}

DESCRIBERS: dict[str, Callable[[dict], str]] = {
    "status_changed": _status_changed,
    "assigned": _assigned,
    "routed": _routed,
    "handed_off": lambda data: (
        _("The bot handed the chat to the agents (%(reason)s).")
        % {"reason": HANDOFF_REASONS.get(data.get("reason") or "", lambda: data.get("reason") or "")()}
    ),
    "follow_up": lambda data: _("Follow-up of closed ticket #%(number)s") % {"number": data.get("follow_up_of")},
    "unverified_reference": lambda data: (
        _("This message refers to ticket #%(number)s, but its sender is not that ticket's customer; it was kept apart.")
        % {"number": data.get("referenced_ticket")}
    ),
    "delivery_failed": lambda data: (
        _("Message %(seq)s could not be delivered by %(channel)s: %(error)s")
        % {"seq": data.get("seq"), "channel": data.get("channel"), "error": data.get("error", "")}
    ),
    "email_bounce": lambda data: (
        _("Mail to %(recipients)s bounced (%(action)s).")
        % {
            "recipients": ", ".join(data.get("recipients") or []) or _("the customer"),
            "action": data.get("action") or "failed",
        }
    ),
}


def describe(event: str, data: dict, fallback: str = "") -> str:
    """The event in the active language; `fallback` (the stored text) for events without words here."""
    describer = DESCRIBERS.get(event)
    if describer is None:
        return fallback
    try:
        return describer(data or {})
    except (KeyError, TypeError, ValueError):
        return fallback


def describe_in_english(event: str, data: dict, fallback: str = "") -> str:
    with override("en"):
        return describe(event, data, fallback)
