"""Live chat: what customers, the bot and agents do in a chat, and the chat's state machine.

    bot ──hand-off──▶ queued ──accept──▶ agent ──end──▶ ended
                        ▲                  │              │ the customer writes again: their agent if
                        └── transfer to a ─┘              │ they are free, else queued; the bot only if
                            team                          ▼ the widget says so

Every message goes through the one message service (stored with its `seq`, pushed after commit by
helpdesk.realtime); the state, offers, typing and read state are told to the sockets by chat/realtime.py.
Each function is one transaction and locks the chat (its ticket first, as every ticket service does).
"""

from __future__ import annotations

import dataclasses
import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from channels_app.acknowledge import describe_hours
from channels_app.adapters import InboundMessage, Sender
from channels_app.bot import BotContext, BotState, Intent, respond
from channels_app.bot.engine import handoff_summary
from channels_app.bot.intents import DEFAULT_INTENTS
from channels_app.bot.text import conversation_language
from channels_app.chat import queue
from channels_app.chat.realtime import queue_group, staff_group, tell, visitor_group
from channels_app.chat.serializers import state_frame, waiting_state_frames
from channels_app.models import ChatIntent, ChatSession, ChatState, ChatWidget, Mailbox
from channels_app.pipeline import receive
from customers.models import ChannelKind, Customer, Identity, IdentityKind
from helpdesk.bulk import Selected
from helpdesk.configuration import cached
from helpdesk.event_text import describe_in_english
from helpdesk.models import AuthorType, Message, Priority, Team, Ticket, TicketSla, TicketStatus
from helpdesk.realtime import user_group
from helpdesk.selectors.access import is_staff_role, role_of, ticket_access
from helpdesk.services.messages import MessageDraft, PostedMessage, post_message, post_messages, record_event
from helpdesk.services.sla import schedule
from helpdesk.services.tickets import (
    add_internal_note,
    assign_ticket,
    change_status,
    receive_customer_message,
    reply,
)
from helpdesk.workflow import REOPENED_BY_CUSTOMER_REPLY

logger = logging.getLogger(__name__)

VISITOR_ONLINE_SECONDS = 60  # a widget socket says it is there at least this often (hello, ping)
MAX_TRANSCRIPTS = 3
PEOPLE_FIRST = (Priority.HIGH, Priority.URGENT)  # chats routed at these priorities skip the bot

TRANSITIONS: dict[str, frozenset[str]] = {
    ChatState.BOT: frozenset({ChatState.QUEUED, ChatState.ENDED}),
    ChatState.QUEUED: frozenset({ChatState.QUEUED, ChatState.AGENT, ChatState.ENDED}),
    ChatState.AGENT: frozenset({ChatState.AGENT, ChatState.QUEUED, ChatState.ENDED}),
    ChatState.ENDED: frozenset({ChatState.BOT, ChatState.QUEUED, ChatState.AGENT}),
}


class ChatError(Exception):
    """An action the chat's state or the actor's rights do not allow; `code` goes to the client."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclasses.dataclass(frozen=True)
class CustomerTurn:
    session: ChatSession
    message: Message
    created: bool  # False: the same client_id was stored before (a resend)
    new_chat: bool


def _move(session: ChatSession, state: str) -> None:
    if state not in TRANSITIONS[session.state]:
        raise ChatError("not_allowed", f"A chat cannot go from {session.state} to {state}.")
    session.state = state


def _locked(ticket_id: int) -> ChatSession:
    session = _lock(ticket_id)
    if session is None:
        raise ChatError("not_found", "No such chat.")
    return session


def _lock(ticket_id: int) -> ChatSession | None:
    """The chat and its ticket, both locked (the ticket first, as every ticket service does)."""
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    session = ChatSession.objects.select_for_update(of=("self",)).select_related("widget__inbox")
    session = session.filter(pk=ticket_id).first()
    if session is not None:
        session.ticket = ticket
    return session


# --- The customer -------------------------------------------------------------------------------------


@transaction.atomic
def customer_message(
    *,
    widget: ChatWidget,
    customer_id: int,
    visitor: str,
    text: str,
    client_id: str,
    language: str = "",
    page: str = "",
    contact_email: str = "",
    ticket_id: int | None = None,
) -> CustomerTurn:
    """The visitor writes. The first message opens the chat through the inbound pipeline (identified,
    threaded: a customer with an open ticket continues it, routed); later ones go on the chat's ticket."""
    external_id = f"chat:{visitor}:{client_id}"
    session = _lock(ticket_id) if ticket_id is not None else None
    if session is None or session.ticket.status == TicketStatus.CLOSED:  # a new chat
        customer = current_customer(customer_id)
        received = receive(
            inbox=widget.inbox,
            inbound=InboundMessage(
                channel=ChannelKind.CHAT,
                external_id=external_id,
                sender=Sender(kind=IdentityKind.CHAT_VISITOR, address=visitor, name=customer.name),
                text=text,
                conversation_key=f"chat:{widget.pk}:{visitor}",
                metadata={"page": page},
            ),
            config=widget,
            opens_as=TicketStatus.BOT if widget.bot_enabled else TicketStatus.NEW,
        )
        session, new_chat = _session_for(received.ticket, widget, visitor, language, page, contact_email)
        return CustomerTurn(session, received.message, received.outcome == "stored", new_chat)
    resend = Message.objects.filter(inbox_id=widget.inbox_id, external_id=external_id)
    if session.state == ChatState.ENDED and not resend.exists():
        _customer_returns(session)
    last_seq = session.ticket.last_message_seq  # the ticket is locked: a new message is numbered after it
    message = receive_customer_message(
        ticket=session.ticket, body_text=text, channel=ChannelKind.CHAT, external_id=external_id, inbox=widget.inbox
    )
    return CustomerTurn(session, message, message.seq > last_seq, False)  # not created: a resend


def current_customer(customer_id: int) -> Customer:
    customer = Customer.objects.select_related("merged_into").get(pk=customer_id)
    return customer.merged_into or customer


def _session_for(ticket: Ticket, widget, visitor, language, page, contact_email) -> tuple[ChatSession, bool]:
    """The chat of a ticket the pipeline chose: a new one starts with the bot (or queued), and a ticket that
    agents already have (the customer's open request) goes on with them."""
    existing = ChatSession.objects.select_for_update().filter(pk=ticket.pk).first()
    if existing is not None:
        if existing.state == ChatState.ENDED:
            _customer_returns(existing)
        return existing, False
    if ticket.status == TicketStatus.BOT:
        state = ChatState.BOT
    else:
        state = ChatState.AGENT if ticket.assignee_id else ChatState.QUEUED
    session = ChatSession.objects.create(
        ticket=ticket, widget=widget, visitor=visitor, state=state, language=language[:8], page=page[:500],
        contact_email=contact_email, queued_at=timezone.now() if state == ChatState.QUEUED else None,
    )  # fmt: skip
    session.ticket = ticket
    if state == ChatState.QUEUED:
        _offer(session)
    _announce(session)
    return session, True


def _customer_returns(session: ChatSession) -> None:
    """A customer writes in a chat an agent ended: the bot takes it if the widget says so, else their agent
    if free, else the queue."""
    widget, ticket = session.widget, session.ticket
    if widget.bot_enabled and widget.bot_takes_returning_customers:
        _move(session, ChatState.BOT)
        session.bot_state = {}
        change_status(ticket=ticket, status=TicketStatus.BOT, reason="customer replied")
    elif ticket.assignee_id and queue.can_take(ticket.assignee) and _is_online(ticket.assignee_id):
        _move(session, ChatState.AGENT)
    else:
        _move(session, ChatState.QUEUED)
        if ticket.assignee_id:
            assign_ticket(ticket=ticket, assignee=None)
        session.queued_at, session.declined_by = timezone.now(), []
        _offer(session)
    session.ended_at = None
    session.save()
    _announce(session)


def _is_online(user_id: int) -> bool:
    return queue.chat_agents(team_id=None).filter(user_id=user_id).exists()


@transaction.atomic
def bot_turn(*, ticket_id: int, text: str) -> None:
    """The bot answers the customer's message (in a chat it has), or hands the chat to the agents."""
    session = _locked(ticket_id)
    if session.state != ChatState.BOT:
        return  # muted once a person has the chat
    widget = session.widget
    availability = queue.availability(widget=widget, team_id=session.ticket.team_id)
    state = BotState.from_dict(session.bot_state)
    hint = session.language if session.language in ("ja", "en") else ""
    speaks = conversation_language(text, current=state.language, hint=hint)  # the language of the answer
    context = BotContext(
        intents=configured_intents(),
        language=hint,
        hours_text=hours_text(widget, speaks),
        wait_text=_spoken_wait(session, availability, speaks),
        # A rule: routing made the chat urgent or high priority (a VIP, a keyword): a person takes it at once.
        hand_off_now=session.ticket.priority in PEOPLE_FIRST,
    )
    answer = respond(state, text, context=context)
    session.bot_state = answer.state.to_dict()
    if answer.text:
        suggestions = [dataclasses.asdict(suggestion) for suggestion in answer.suggestions]
        post_message(
            ticket=session.ticket, author_type=AuthorType.BOT, body_text=answer.text, channel=ChannelKind.CHAT,
            data={"suggestions": suggestions, "intent": answer.intent, "action": answer.action},
        )  # fmt: skip
    if answer.action == "handoff":
        _hand_off(session, reason=answer.reason, summary=answer.summary)
    session.save()


def _spoken_wait(session: ChatSession, availability: queue.Availability, language: str) -> str:
    """What the bot tells of the wait if it hands the chat over now: the queue's honest estimate for the next
    place, else "a while" when everyone is busy, else nothing (someone is free, or nobody is there at all:
    the widget's notice says so)."""
    if availability.status == "away":
        return ""
    team_id = session.ticket.team_id
    waits = queue.recent_waits(team_id, now=timezone.now())
    next_place = queue.team_queue(team_id).count() + 1
    wait = queue.wait_at(next_place, waits=waits, agents_free=availability.agents_free)
    with override(language):
        if wait is None:
            return "" if availability.agents_free else _("a while")
        minutes = max(1, round(wait.total_seconds() / 60))
        return ngettext("about %(count)d minute", "about %(count)d minutes", minutes) % {"count": minutes}


@transaction.atomic
def ask_for_person(*, ticket_id: int) -> None:
    """The customer pressed "talk to a person"."""
    session = _locked(ticket_id)
    if session.state != ChatState.BOT:
        return
    state = BotState.from_dict(session.bot_state)
    with override(session.language if session.language in ("ja", "en") else "en"):
        text = _("Of course. I am connecting you with a member of our team.")
    post_message(ticket=session.ticket, author_type=AuthorType.BOT, body_text=text, channel=ChannelKind.CHAT)
    _hand_off(session, reason="customer_asked", summary=handoff_summary(state))
    session.save()


def _hand_off(session: ChatSession, *, reason: str, summary: str) -> None:
    _move(session, ChatState.QUEUED)
    session.handoff_summary = summary[:4000]
    session.queued_at, session.declined_by = timezone.now(), []
    bot_state = BotState.from_dict(session.bot_state)
    session.bot_state = dataclasses.replace(bot_state, handed_off=True, handoff_reason=reason).to_dict()
    change_status(ticket=session.ticket, status=TicketStatus.NEW, reason="handed off")
    data = {"reason": reason, "summary": summary[:4000]}
    record_event(ticket=session.ticket, event="handed_off", text=describe_in_english("handed_off", data), data=data)
    _offer(session)
    _announce(session)


def configured_intents() -> tuple[Intent, ...]:
    """The admins' intents first (they win over the built-in ones with the same words), then the built-in."""

    def load() -> tuple[Intent, ...]:
        intents = []
        for row in ChatIntent.objects.filter(is_active=True):
            keywords = tuple(word.strip() for word in row.keywords.replace("、", ",").replace("\n", ",").split(","))
            answers = {language: text for language, text in (("en", row.answer_en), ("ja", row.answer_ja)) if text}
            action = "handoff" if row.hands_off else "answer"
            intents.append(
                Intent(name=row.name, keywords=tuple(w for w in keywords if w), answers=answers, action=action)
            )
        return tuple(intents)

    return cached("chat-intents", load) + DEFAULT_INTENTS


@transaction.atomic
def save_contact(*, ticket_id: int, email: str) -> None:
    """The pre-chat email, for the agent (kept on the chat; it joins no history)."""
    ChatSession.objects.filter(pk=ticket_id).update(contact_email=email)
    tell([(staff_group(ticket_id), {"type": "contact", "ticket": ticket_id, "email": email})])


@transaction.atomic
def mark_read(*, ticket_id: int, by_customer: bool, seq: int) -> None:
    session = _locked(ticket_id)
    field = "customer_read_seq" if by_customer else "agent_read_seq"
    if seq <= getattr(session, field) or seq > session.ticket.last_message_seq:
        return
    setattr(session, field, seq)
    session.save(update_fields=[field, "updated_at"])
    group = staff_group(ticket_id) if by_customer else visitor_group(ticket_id)
    tell([(group, {"type": "read", "ticket": ticket_id, "seq": seq})])


@transaction.atomic
def send_transcript(*, ticket_id: int, email: str = "") -> str:
    """Mail the conversation (what the customer could see) to the customer; returns the address used. Only
    to an address of this visitor: the one they typed into this chat or one of their own identities."""
    session = _locked(ticket_id)
    known = customer_emails(session.ticket.customer_id)
    address = (email or session.contact_email or next(iter(known), "")).strip().lower()
    if not address:
        raise ChatError("not_allowed", "Give an email address for the transcript.")
    if address not in known and address != session.contact_email:
        raise ChatError("not_allowed", "The transcript goes only to the address you gave in this chat.")
    if session.transcripts_sent >= MAX_TRANSCRIPTS:
        raise ChatError("rate_limited", "The transcript was sent already.")
    session.transcripts_sent += 1
    session.save(update_fields=["transcripts_sent", "updated_at"])
    mailbox = Mailbox.objects.filter(inbox=session.ticket.inbox_id).first()
    sender = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    body, subject = _transcript(session)
    mail = EmailMessage(subject=subject, body=body, from_email=sender, to=[address])
    mail.extra_headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    transaction.on_commit(lambda: mail.send(fail_silently=True))
    return address


def customer_emails(customer_id: int) -> list[str]:
    return list(
        Identity.objects.filter(customer_id=customer_id, kind=IdentityKind.EMAIL, bouncing_since__isnull=True)
        .order_by("-verified", "-created_at")
        .values_list("value", flat=True)
    )


def _transcript(session: ChatSession) -> tuple[str, str]:
    messages = session.ticket.messages.filter(is_public=True).select_related(
        "author_user__agent_profile", "author_customer"
    )
    with override(session.language or "en"):
        lines = []
        for message in messages.order_by("seq"):
            when = timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")
            lines.append(f"[{when}] {_author_name(message)}:\n{message.body_text}\n")
        subject = _("Your chat with us (#%(number)s)") % {"number": session.ticket_id}
        return "\n".join(lines), subject


def _author_name(message: Message) -> str:
    if message.author_type == AuthorType.CUSTOMER:
        return str(message.author_customer or _("You"))
    if message.author_type == AuthorType.BOT:
        return _("Assistant")
    if message.author_user_id:
        profile = getattr(message.author_user, "agent_profile", None)
        return str(profile or message.author_user.get_username())
    return _("Support")


# --- Agents -------------------------------------------------------------------------------------------


def _check_agent(session: ChatSession, agent) -> None:
    try:
        ticket_access(user=agent, ticket_id=session.pk)
    except Ticket.DoesNotExist:
        raise ChatError("not_found", "No such chat.") from None


@transaction.atomic
def accept(*, ticket_id: int, agent) -> ChatSession:
    """An agent takes a waiting chat (the first to accept gets it)."""
    session = _locked(ticket_id)
    _check_agent(session, agent)
    if session.state != ChatState.QUEUED:
        raise ChatError("taken", "This chat is no longer waiting.")
    if not queue.can_take(agent):
        raise ChatError("full", "You have as many chats as you can take.")
    _move(session, ChatState.AGENT)
    assign_ticket(ticket=session.ticket, assignee=agent, actor=agent)
    session.accepted_at, session.offered_to, session.offered_at, session.declined_by = timezone.now(), None, None, []
    session.save()
    _announce(session)
    tell_waiting([session.ticket.team_id])
    return session


@transaction.atomic
def decline(*, ticket_id: int, agent) -> None:
    """An agent lets an offer pass: it goes to the next free agent."""
    session = _locked(ticket_id)
    if session.state == ChatState.QUEUED and session.offered_to_id == agent.pk:
        session.declined_by = [*session.declined_by, agent.pk]
        _offer(session)
        session.save()
        tell([(queue_group(session.ticket.team_id), {"type": "queue_changed"})])


@transaction.atomic
def agent_message(*, ticket_id: int, agent, text: str, client_id: str) -> Message:
    """The chat's agent answers. A visitor who left the page gets the answer by email (or LINE) as well as in
    the widget when they come back."""
    session = _locked(ticket_id)
    mine = session.ticket.assignee_id == agent.pk and is_staff_role(agent)  # an assignee may see their ticket
    if not mine:
        _check_agent(session, agent)
    if not mine or session.state != ChatState.AGENT:
        raise ChatError("not_yours", "Accept the chat before you answer in it.")
    return reply(
        ticket=session.ticket, agent=agent, body_text=text, channel=_answer_channel(session),
        external_id=f"chat-agent:{agent.pk}:{client_id}",
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ChatLine:
    """A message typed in a chat, for `post_lines`: the visitor's (with their widget) or an agent's."""

    ticket_id: int
    text: str
    client_id: str
    widget: ChatWidget | None = None
    visitor: str = ""
    agent: object = None


BUSY = "busy"


@transaction.atomic
def post_lines(lines: list[ChatLine]) -> list[PostedMessage | str | None]:
    """The messages typed in ongoing chats, many chats at once, in one transaction: each line as
    `customer_message` or `agent_message` would post it. None for a line these plain cases do not cover (the
    chat is with the bot, ended, or not the agent's; the ticket must change status): the caller posts it
    alone, which does the rest or says what is wrong. BUSY for a line whose chat another transaction holds
    (the other side of the chat, written by another server): rather than wait for it, try again later."""
    ids = sorted({line.ticket_id for line in lines})
    sessions = _lock_chats(ids)
    missing = set(ids) - sessions.keys()
    busy = set(ChatSession.objects.filter(pk__in=missing).values_list("pk", flat=True)) if missing else set()
    answered = [line.ticket_id for line in lines if line.agent is not None and line.ticket_id in sessions]
    online = visitors_online(answered) if answered else {}
    drafts: list[MessageDraft | str | None] = []
    for line in lines:
        if line.ticket_id in busy:
            drafts.append(BUSY)
            continue
        session = sessions.get(line.ticket_id)
        plain = session is not None and session.state in (ChatState.QUEUED, ChatState.AGENT)
        ticket = session.ticket if plain else None
        if plain and line.agent is None:
            plain = ticket.status not in REOPENED_BY_CUSTOMER_REPLY and ticket.status != TicketStatus.CLOSED
            drafts.append(_customer_draft(line, ticket) if plain else None)
        elif plain:
            plain = session.state == ChatState.AGENT and ticket.status == TicketStatus.OPEN
            plain = plain and ticket.assignee_id == line.agent.pk and is_staff_role(line.agent)
            drafts.append(_agent_draft(line, ticket, online.get(session.pk, False)) if plain else None)
        else:
            drafts.append(None)
    posted = iter(post_messages([draft for draft in drafts if isinstance(draft, MessageDraft)], tickets_locked=True))
    results = [next(posted) if isinstance(draft, MessageDraft) else draft for draft in drafts]
    written_by_visitors = [
        line.ticket_id
        for line, result in zip(lines, results, strict=True)
        if isinstance(result, PostedMessage) and line.agent is None
    ]
    transaction.on_commit(lambda: visitors_seen(written_by_visitors))
    return results


_CHAT, _TICKET = Selected(ChatSession, "chat"), Selected(Ticket, "ticket")
_CUSTOMER, _CLOCK = Selected(Customer, "customer"), Selected(TicketSla, "clock")


def _lock_chats(ids: list[int]) -> dict[int, ChatSession]:
    """The chats of these tickets, with their tickets, customers and SLA clocks, the chats and the tickets
    locked; a chat another transaction holds is skipped (not waited for). The clocks are read, not locked: a
    clock changes only under its ticket's lock."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(len(ids)), ids)
        rows = cursor.fetchall()
    sessions = {}
    for row in rows:
        session, at = _CHAT.take(row, 0)
        ticket, at = _TICKET.take(row, at)
        customer, at = _CUSTOMER.take(row, at)
        clock, _ = _CLOCK.take(row, at)
        ticket.customer = customer
        Ticket.sla.related.set_cached_value(ticket, clock)  # None too: no clock, known without a query
        session.ticket = ticket
        sessions[session.pk] = session
    return sessions


@functools.cache
def _lock_sql(count: int) -> str:
    """Written by hand, once per number of chats: compiled by the ORM on every batch, this query was a third
    of the batch's time."""
    lock = " FOR UPDATE OF chat, ticket SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (
        f"SELECT {_CHAT.columns()}, {_TICKET.columns()}, {_CUSTOMER.columns()}, {_CLOCK.columns()} "  # noqa: S608
        f"FROM {_CHAT.table} chat JOIN {_TICKET.table} ticket ON {_TICKET.column('id')} = {_CHAT.column('ticket')} "
        f"JOIN {_CUSTOMER.table} customer ON {_CUSTOMER.column('id')} = {_TICKET.column('customer')} "
        f"LEFT JOIN {_CLOCK.table} clock ON {_CLOCK.column('ticket')} = {_TICKET.column('id')} "
        f"WHERE {_CHAT.column('ticket')} IN ({', '.join(['%s'] * count)}) ORDER BY {_CHAT.column('ticket')}{lock}"
    )


def _customer_draft(line: ChatLine, ticket: Ticket) -> MessageDraft:
    return MessageDraft(
        ticket=ticket, author_type=AuthorType.CUSTOMER, author_customer=ticket.customer, body_text=line.text,
        channel=ChannelKind.CHAT, external_id=f"chat:{line.visitor}:{line.client_id}", inbox=line.widget.inbox,
    )  # fmt: skip


def _agent_draft(line: ChatLine, ticket: Ticket, visitor_online: bool) -> MessageDraft:
    channel = ChannelKind.CHAT if visitor_online else _offline_channel(ticket.customer_id)
    return MessageDraft(
        ticket=ticket, author_type=AuthorType.AGENT, author_user=line.agent, body_text=line.text, channel=channel,
        external_id=f"chat-agent:{line.agent.pk}:{line.client_id}",
    )  # fmt: skip


def _answer_channel(session: ChatSession) -> str:
    if visitor_online(session.pk):
        return ChannelKind.CHAT
    return _offline_channel(session.ticket.customer_id)


def _offline_channel(customer_id: int) -> str:
    """How an answer reaches a visitor who left the page."""
    if customer_emails(customer_id):
        return ChannelKind.EMAIL
    if Identity.objects.filter(customer_id=customer_id, kind=IdentityKind.LINE).exists():
        return ChannelKind.LINE
    return ChannelKind.CHAT  # waits in the widget


@transaction.atomic
def agent_note(*, ticket_id: int, agent, text: str, client_id: str) -> Message:
    session = _locked(ticket_id)
    _check_agent(session, agent)
    return add_internal_note(
        ticket=session.ticket, agent=agent, body_text=text, external_id=f"chat-note:{agent.pk}:{client_id}"
    )


@transaction.atomic
def transfer(*, ticket_id: int, actor, to_agent=None, to_team: Team | None = None) -> ChatSession:
    """Give the chat to another agent (theirs at once) or to a team (queued there, offered)."""
    session = _locked(ticket_id)
    _check_agent(session, actor)
    if session.ticket.assignee_id != actor.pk and role_of(actor) not in ("admin", "supervisor"):
        raise ChatError("not_yours", "Only the chat's agent or a supervisor can transfer it.")
    if session.state == ChatState.ENDED:
        raise ChatError("not_allowed", "This chat has ended.")
    previous, previous_team = session.ticket.assignee_id, session.ticket.team_id
    try:
        if to_agent is not None:
            if not is_staff_role(to_agent):
                raise ChatError("bad_field", "agent: not an agent.")
            _move(session, ChatState.AGENT)
            assign_ticket(ticket=session.ticket, assignee=to_agent, actor=actor)
            session.accepted_at = timezone.now()
        else:
            _move(session, ChatState.QUEUED)
            assign_ticket(ticket=session.ticket, team=to_team, assignee=None, actor=actor)
            session.queued_at, session.declined_by = timezone.now(), []
            _offer(session)
    except ValidationError as error:
        raise ChatError("bad_field", "; ".join(error.messages)) from None
    session.save()
    _announce(session, also=[previous])
    tell_waiting([previous_team, session.ticket.team_id], but=session.pk)
    return session


@transaction.atomic
def end(*, ticket_id: int, actor) -> ChatSession:
    """The agent ends the chat: the ticket is solved (the customer can still write: it comes back)."""
    session = _locked(ticket_id)
    _check_agent(session, actor)
    _move(session, ChatState.ENDED)
    session.ended_at, session.offered_to, session.offered_at = timezone.now(), None, None
    if session.ticket.status != TicketStatus.SOLVED:
        change_status(ticket=session.ticket, status=TicketStatus.SOLVED, actor=actor)
    session.save()
    _announce(session)
    tell_waiting([session.ticket.team_id])  # its agent may be free now, or it left the queue
    return session


@transaction.atomic
def reoffer_waiting() -> int:
    """Offers that ran out go to the next free agent; chats nobody was free for are offered again."""
    offered = 0
    for waiting in queue.expired_offers():
        session = _locked(waiting.pk)
        if session.state != ChatState.QUEUED:
            continue
        if session.offered_to_id:
            session.declined_by = [*session.declined_by, session.offered_to_id]
        before = session.offered_to_id
        _offer(session)
        session.save()
        offered += session.offered_to_id is not None and session.offered_to_id != before
    return offered


def _offer(session: ChatSession) -> None:
    """Offer a waiting chat to the next free agent of its team (a notification in their console)."""
    agent = queue.next_agent(session)
    session.offered_to, session.offered_at = agent, timezone.now() if agent else None
    sends = [(queue_group(session.ticket.team_id), {"type": "queue_changed"})]
    if agent is not None:
        sends.append((user_group(agent.pk), {"type": "offer", "ticket": session.pk}))
    tell(sends)


def _announce(session: ChatSession, *, also: list[int | None] = ()) -> None:
    """Tell the visitor the chat's state, the agents what became of it."""
    frame = state_frame(session)
    changed = {"type": "chat", "ticket": session.pk}
    sends = [(visitor_group(session.pk), frame), (queue_group(session.ticket.team_id), {"type": "queue_changed"})]
    sends += [(user_group(user_id), changed) for user_id in {session.ticket.assignee_id, *also} - {None}]
    sends.append((staff_group(session.pk), changed))
    tell(sends)


def tell_waiting(team_ids: list[int | None], *, but: int | None = None) -> None:
    """Tell the customers waiting in these teams' queues their place, wait and notice again: the queue moved
    (a chat was taken, transferred or ended) or the agents who can answer changed."""
    sends = [
        (visitor_group(ticket_id), frame)
        for team_id in dict.fromkeys(team_ids)
        for ticket_id, frame in waiting_state_frames(team_id)
        if ticket_id != but
    ]
    tell(sends)


# --- Presence of the visitor ----------------------------------------------------------------------------


def visitor_seen(ticket_id: int) -> None:
    visitors_seen([ticket_id])


def visitors_seen(ticket_ids: list[int]) -> None:
    if ticket_ids:
        cache.set_many({f"chat:visitor-online:{pk}": 1 for pk in ticket_ids}, timeout=VISITOR_ONLINE_SECONDS)


def visitor_left(ticket_id: int) -> None:
    cache.delete(f"chat:visitor-online:{ticket_id}")


def visitor_online(ticket_id: int) -> bool:
    return bool(cache.get(f"chat:visitor-online:{ticket_id}"))


def visitors_online(ticket_ids: list[int]) -> dict[int, bool]:
    found = cache.get_many([f"chat:visitor-online:{pk}" for pk in ticket_ids])
    return {pk: bool(found.get(f"chat:visitor-online:{pk}")) for pk in ticket_ids}


# --- Words --------------------------------------------------------------------------------------------


def hours_text(widget: ChatWidget, language: str) -> str:
    """The support hours in words (the acknowledgement's), for the bot's {hours}."""
    inbox = widget.inbox
    hours_id = inbox.business_hours_id or (inbox.team.business_hours_id if inbox.team_id else None)
    found = schedule(hours_id)
    if found is None or found.never_open:
        return ""
    with override(language):
        return f"{describe_hours(found)} ({found.time_zone.key})"
