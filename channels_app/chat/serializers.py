"""The shapes the chat sockets send (docs/chat-protocol.md, "Live chat"): a message as the visitor sees it,
a conversation's state, a chat as the agents' console lists it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from channels_app.chat import queue
from channels_app.models import ChatSession, ChatState

ATTACHMENT_SALT = "channels_app.chat.attachment"
ATTACHMENT_MAX_AGE = 24 * 3600


def widget_message(message: dict, *, visitor: str, language: str) -> dict | None:
    """A message (as the REST timeline serializes it) for a visitor's widget; None for what the visitor may
    not see. Attachment links are signed for this visitor."""
    if not message.get("is_public"):
        return None
    author_type = message["author_type"]
    with override(language if language in ("ja", "en") else "en"):
        if author_type == "bot":
            author_name = _("Assistant")
        elif author_type == "system":
            author_name = _("Support")
        else:
            author_name = (message.get("author") or {}).get("name") or ""
    external_id = message.get("external_id") or ""
    own = f"chat:{visitor}:"
    data = message.get("data") or {}
    return {
        "id": message["id"],
        "seq": message["seq"],
        "author_type": author_type,
        "author_name": author_name,
        "text": message.get("body_text", ""),
        "html": message.get("body_html", ""),
        "attachments": [
            {
                "name": attachment["filename"],
                "size": attachment["size"],
                "content_type": attachment["content_type"],
                "url": attachment_url(attachment["id"], visitor),
            }
            for attachment in message.get("attachments") or []
        ],
        "suggestions": [
            {"title": s.get("title", ""), "url": s.get("url", ""), "snippet": s.get("snippet", "")}
            for s in data.get("suggestions") or []
            if isinstance(s, dict)
        ],
        "created_at": message.get("created_at"),
        "client_id": external_id[len(own) :] if external_id.startswith(own) else None,
    }


def attachment_url(attachment_id: int, visitor: str) -> str:
    token = signing.dumps({"attachment": attachment_id, "visitor": visitor}, salt=ATTACHMENT_SALT, compress=True)
    return reverse("chat-attachment", kwargs={"token": token})


def read_attachment_token(token: str) -> dict | None:
    try:
        return signing.loads(token, salt=ATTACHMENT_SALT, max_age=ATTACHMENT_MAX_AGE)
    except signing.BadSignature:
        return None


def state_frame(session: ChatSession, *, now: datetime | None = None) -> dict:
    """Who is with the visitor now, their place in the queue and an honest expected wait."""
    if session.state != ChatState.QUEUED:
        return _state(session)
    now = now or timezone.now()
    team_id = session.ticket.team_id
    return _state(
        session,
        place=queue.position(session),
        waits=queue.recent_waits(team_id, now=now),
        available=queue.availability(widget=session.widget, team_id=team_id, now=now),
    )


def waiting_state_frames(
    team_id: int | None, *, now: datetime | None = None, limit: int = 200
) -> list[tuple[int, dict]]:
    """(chat, state frame) for every chat waiting in a team's queue, to tell them all when the queue moves:
    the same as `state_frame` for each, in a few queries for the whole queue."""
    now = now or timezone.now()
    waiting = queue.team_queue(team_id).select_related("ticket", "widget__inbox__team")[:limit]
    waits = queue.recent_waits(team_id, now=now)
    availability: dict[int, queue.Availability] = {}  # per widget: its inbox's business hours
    frames = []
    for place, session in enumerate(waiting, start=1):
        if session.widget_id not in availability:
            availability[session.widget_id] = queue.availability(widget=session.widget, team_id=team_id, now=now)
        frames.append(
            (session.pk, _state(session, place=place, waits=waits, available=availability[session.widget_id]))
        )
    return frames


def _state(
    session: ChatSession,
    *,
    place: int | None = None,
    waits: list[timedelta] = (),
    available: queue.Availability | None = None,
) -> dict:
    ticket = session.ticket
    agent = None
    if session.state == ChatState.AGENT and ticket.assignee_id:
        profile = getattr(ticket.assignee, "agent_profile", None)
        agent = {"name": str(profile or ticket.assignee.get_username())}
    wait = None
    if place is not None and available.status != "away":  # no promise when nobody is there to keep it
        wait = queue.wait_at(place, waits=waits, agents_free=available.agents_free)
    return {
        "type": "state",
        "id": session.pk,
        "state": session.state,
        "agent": agent,
        "position": place,
        "expected_wait_seconds": int(wait.total_seconds()) if wait is not None else None,
        "notice": _notice(available, session.language) if available is not None else None,
        "customer_read_seq": session.customer_read_seq,
        "agent_read_seq": session.agent_read_seq,
    }


def _notice(availability: queue.Availability, language: str) -> str | None:
    """What a waiting customer should know when nobody can answer soon."""
    with override(language if language in ("ja", "en") else "en"):
        leave_message = _("Leave your message: we will answer here, and by email if we have your address.")
        if not availability.open_now:
            return f"{_('We are outside our support hours.')} {leave_message}"
        if not availability.agents_online:
            return f"{_('No one is available right now.')} {leave_message}"
        if not availability.agents_free:
            return _("All our agents are busy; you are in the queue.")
    return None


def chat_summary(session: ChatSession, *, now: datetime | None = None) -> dict:
    """A chat as the agents' console lists it."""
    now = now or timezone.now()
    ticket = session.ticket
    last = (
        ticket.messages.filter(is_public=True).order_by("-seq").values("author_type", "body_text", "created_at").first()
    )
    assignee = ticket.assignee
    return {
        "ticket": ticket.pk,
        "subject": ticket.subject,
        "state": session.state,
        "customer": {"id": ticket.customer_id, "name": str(ticket.customer), "email": session.contact_email},
        "team": {"id": ticket.team_id, "name": ticket.team.name} if ticket.team_id else None,
        "assignee": {"id": assignee.pk, "name": str(getattr(assignee, "agent_profile", None) or assignee)}
        if assignee
        else None,
        "language": session.language,
        "queued_at": session.queued_at.isoformat() if session.queued_at else None,
        "waiting_seconds": int((now - session.queued_at).total_seconds())
        if session.state == ChatState.QUEUED and session.queued_at
        else None,
        "offered_to": session.offered_to_id,
        "last_message": {
            "author_type": last["author_type"],
            "text": last["body_text"][:300],
            "created_at": last["created_at"].isoformat(),
        }
        if last
        else None,
        "summary": session.handoff_summary,
        "page": session.page,
        "customer_read_seq": session.customer_read_seq,
        "agent_read_seq": session.agent_read_seq,
    }
