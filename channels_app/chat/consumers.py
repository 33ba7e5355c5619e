"""The live chat's websockets: the widget on company sites, and the agents' console. Protocol in
docs/chat-protocol.md ("Live chat").

Each socket is authorized in `connect()` before it joins any group: the widget by its key and the page's
Origin (the widget's allowed origins), the console by the Django session of a staff user. Frames only route
to the chat services (database work in `database_sync_to_async`: one thread per process, which measured
faster than a pool, see docs/performance.md); a bad frame gets an `error` and the socket stays open, never
touching other sockets.

A socket's frames are handled one at a time, in order, by a task of the socket's own: meanwhile the consumer
goes on forwarding what the channel layer brings (an agent writing in one chat still sees the others live).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import override

from channels_app.chat import batching, frames, identity, queue, services
from channels_app.chat.frames import FrameError
from channels_app.chat.realtime import CHAT_MESSAGE_TYPE, queue_group, staff_group, visitor_group
from channels_app.chat.serializers import chat_summary, state_frame, widget_message
from channels_app.chat.services import ChatError
from channels_app.models import ChatSession, ChatState, ChatWidget
from helpdesk.api.serializers import MessageSerializer
from helpdesk.consumers import DirectDispatchConsumer
from helpdesk.event_text import describe
from helpdesk.models import AgentProfile, Message, Presence, Team, Ticket, TicketStatus
from helpdesk.realtime import ticket_group, user_group
from helpdesk.selectors.access import is_staff_role, restricted_team_ids, ticket_access
from helpdesk.selectors.tickets import ticket_timeline

logger = logging.getLogger(__name__)

HELLO_SECONDS = 10
RESYNC_LIMIT = 500
RATE_WINDOW = 10.0  # seconds
RATE_LIMIT = 20  # messages per window; beyond: refused
FLOOD_LIMIT = 60  # frames per window; beyond: the socket is closed
CLOSE_BAD_HELLO = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_FLOOD = 4429
CLOSE_SERVER_ERROR = 1011
DRAIN_SECONDS = 10  # a closing socket's frames already received are still handled, this long at most


class _Frames(DirectDispatchConsumer):
    """JSON frames in, one handler per type, errors answered without closing."""

    handlers: dict[str, str] = {}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._seen: deque[float] = deque()
        self._groups: set[str] = set()
        self._frames: asyncio.Queue = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    async def receive(self, text_data=None, bytes_data=None):
        if self._flooding():
            await self.close(code=CLOSE_FLOOD)
            return
        self._frames.put_nowait((text_data, bytes_data))  # bounded by the flood limit
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while True:
            text_data, bytes_data = await self._frames.get()
            try:
                await self._handle(text_data, bytes_data)
            except Exception:
                logger.exception("chat socket: a frame failed; closing the socket")
                await self.close(code=CLOSE_SERVER_ERROR)
                return
            finally:
                self._frames.task_done()

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:  # however the socket ended (a server stopping cancels it without a disconnect)
            if self._worker is not None:
                self._worker.cancel()

    async def websocket_disconnect(self, message):
        """The frames received before the close are handled first (a message sent just before leaving is
        kept), then the consumer's own `disconnect`."""
        if self._worker is not None and not self._worker.done():
            try:
                await asyncio.wait_for(self._frames.join(), timeout=DRAIN_SECONDS)
            except TimeoutError:
                logger.warning("chat socket: %d frames not handled before the close", self._frames.qsize())
            self._worker.cancel()
        await super().websocket_disconnect(message)

    async def _handle(self, text_data, bytes_data) -> None:
        try:
            frame = frames.decode(text_data, bytes_data)
            handler = self.handlers.get(frame["type"])
            if handler is None:
                raise FrameError("unknown_type", "Unknown frame type.")
            self.check(frame)
            await getattr(self, handler)(frame)
        except FrameError as error:
            await self.send_json(error.frame())
        except ChatError as error:
            reply = {"type": "error", "code": error.code, "detail": error.detail}
            await self.send_json(reply | _echo(text_data))

    def check(self, frame: dict) -> None:
        """Refuse a frame before its handler runs (FrameError)."""

    def _flooding(self) -> bool:
        now = time.monotonic()
        self._seen.append(now)
        while self._seen and self._seen[0] < now - RATE_WINDOW:
            self._seen.popleft()
        return len(self._seen) > FLOOD_LIMIT

    async def join(self, *groups: str) -> None:
        for group in groups:
            if group not in self._groups:
                await self.channel_layer.group_add(group, self.channel_name)
                self._groups.add(group)

    async def leave(self, *groups: str) -> None:
        for group in groups:
            if group in self._groups:
                await self.channel_layer.group_discard(group, self.channel_name)
                self._groups.discard(group)

    async def leave_all(self) -> None:
        await self.leave(*list(self._groups))


def _echo(text_data: str | None) -> dict:
    """The frame's ticket and client_id, for the client to match an error to what it sent."""
    try:
        frame = frames.decode(text_data, None)
    except FrameError:
        return {}
    return {key: frame[key] for key in ("ticket", "client_id") if isinstance(frame.get(key), int | str)}


# --- The widget ---------------------------------------------------------------------------------------


class WidgetConsumer(_Frames):
    handlers = {
        "hello": "on_hello", "message": "on_message", "profile": "on_profile", "typing": "on_typing",
        "read": "on_read", "human": "on_human", "transcript": "on_transcript", "resync": "on_resync",
        "ping": "on_ping",
    }  # fmt: skip

    async def connect(self):
        self.widget = await _widget(self.scope["url_route"]["kwargs"]["key"])
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode("latin-1").rstrip("/")
        if self.widget is None or origin not in self.widget.origins:
            await self.close()  # before accepting: the handshake is refused (HTTP 403)
            return
        self.visitor = self.customer_id = self.ticket_id = None
        self.language, self.page, self.contact_email = "", "", ""
        self.sent: deque[float] = deque()
        await self.accept()
        self.hello_timer = asyncio.get_running_loop().create_task(self._expect_hello())

    async def _expect_hello(self):
        await asyncio.sleep(HELLO_SECONDS)
        if self.visitor is None:
            await self.close(code=CLOSE_BAD_HELLO)

    async def disconnect(self, code):
        timer = getattr(self, "hello_timer", None)
        if timer is not None:
            timer.cancel()
        await self.leave_all()
        if getattr(self, "ticket_id", None):
            await database_sync_to_async(services.visitor_left)(self.ticket_id)

    def check(self, frame: dict) -> None:
        if self.visitor is None and frame["type"] != "hello":
            raise FrameError("hello_first", "Say hello first.")

    async def on_hello(self, frame):
        if self.visitor is not None:
            raise FrameError("not_allowed", "Hello once per socket.")
        token = frame.get("visitor")
        self.language = frames.language(frame)
        self.page = frames.optional_text(frame, "page", limit=500)
        after_seq = frames.whole_number(frame, "after_seq", default=0)
        welcome = await self._welcome(token if isinstance(token, str) else "", frame.get("user"))
        await self.send_json(welcome)
        if self.ticket_id:
            await self._follow(self.ticket_id)
            await self._resync(after_seq)

    @database_sync_to_async
    def _welcome(self, token: str, user) -> dict:
        """Who the visitor is: the customer their token names, or (a token we never issued, or none) a new
        token whose customer is created only when they write. A vouched user is known at once."""
        customer = identity.known_visitor(token) if identity.VISITOR_TOKEN.match(token) else None
        visitor = token if customer is not None else identity.new_visitor_token()
        if customer is not None or identity.vouched_user_id(self.widget, user) is not None:
            customer = identity.visitor_customer(self.widget, visitor, user=user)
        self.visitor, self.customer_id = visitor, customer.pk if customer else None
        session = None
        if customer is not None:
            session = (
                ChatSession.objects.filter(widget=self.widget, ticket__customer=customer)
                .exclude(ticket__status=TicketStatus.CLOSED)
                .select_related("ticket__assignee__agent_profile", "ticket__team", "widget__inbox__team")
                .order_by("-created_at")
                .first()
            )
        conversation = None
        if session is not None:
            self.ticket_id, self.contact_email = session.pk, session.contact_email
            self.language = self.language or session.language
            conversation = state_frame(session)
            services.visitor_seen(session.pk)
        available = queue.availability(widget=self.widget, team_id=self.widget.inbox.team_id)
        ja = self.language == "ja"
        emails = services.customer_emails(customer.pk) if customer else []
        name = customer.name if customer else ""
        return {
            "type": "welcome",
            "visitor": visitor,
            "conversation": conversation,
            "widget": {
                "title": self.widget.title_ja if ja else self.widget.title,
                "greeting": self.widget.greeting_ja if ja else self.widget.greeting,
                "ask_name": self.widget.ask_name and not name,
                "ask_email": self.widget.ask_email and not emails and not self.contact_email,
                "require_email": self.widget.require_email,
                "open_now": available.open_now,
                "hours": services.hours_text(self.widget, self.language or "en"),
                "availability": available.status,
            },
            "customer": {"name": name, "email": self.contact_email or next(iter(emails), "")},
        }

    def _customer_id(self) -> int:
        """The visitor's customer, created with their token the first time they write or give their name."""
        if self.customer_id is None:
            self.customer_id = identity.visitor_customer(self.widget, self.visitor).pk
        return self.customer_id

    async def on_message(self, frame):
        client_id = frames.client_id(frame)
        text = frames.text(frame)
        if self._too_many():
            raise FrameError("rate_limited", "You are sending messages too fast; wait a moment.", client_id=client_id)
        if self.ticket_id:  # an ongoing chat: written with the other sockets' messages
            line = services.ChatLine(
                ticket_id=self.ticket_id, text=text, client_id=client_id, widget=self.widget, visitor=self.visitor
            )
            if await batching.writer().post(line) is not None:
                return
        turn = await self._post(text, client_id)
        if turn.session.pk != self.ticket_id:
            self.ticket_id = turn.session.pk
            await self._follow(self.ticket_id)
            # The message and the chat's state were pushed before this socket followed the chat.
            await self._resync(0)
            await self.send_json(await database_sync_to_async(state_frame)(turn.session))
        if turn.created and turn.session.state == ChatState.BOT:
            await database_sync_to_async(services.bot_turn)(ticket_id=self.ticket_id, text=text)

    def _too_many(self) -> bool:
        now = time.monotonic()
        self.sent.append(now)
        while self.sent and self.sent[0] < now - RATE_WINDOW:
            self.sent.popleft()
        return len(self.sent) > RATE_LIMIT

    @database_sync_to_async
    def _post(self, text: str, client_id: str) -> services.CustomerTurn:
        turn = services.customer_message(
            widget=self.widget, customer_id=self._customer_id(), visitor=self.visitor, text=text,
            client_id=client_id, language=self.language, page=self.page, contact_email=self.contact_email,
            ticket_id=self.ticket_id,
        )  # fmt: skip
        services.visitor_seen(turn.session.pk)
        return turn

    async def _follow(self, ticket_id: int) -> None:
        await self.join(ticket_group(ticket_id, public=True), visitor_group(ticket_id))

    async def on_profile(self, frame):
        name = frames.optional_text(frame, "name", limit=200)
        email = frames.email(frame)
        if self.widget.require_email and not email:
            raise FrameError("bad_field", "email: an email address.")
        kept = await self._remember(name, email)
        await self.send_json({"type": "profile", "name": kept[0], "email": kept[1]})

    @database_sync_to_async
    def _remember(self, name: str, email: str) -> tuple[str, str]:
        kept = identity.remember_contact(services.current_customer(self._customer_id()), name=name, email=email)
        if email:
            self.contact_email = kept[1]
            if self.ticket_id:
                services.save_contact(ticket_id=self.ticket_id, email=kept[1])
        return kept

    async def on_typing(self, frame):
        typing = frames.boolean(frame, "typing")
        if self.ticket_id:
            event = {"type": "typing", "ticket": self.ticket_id, "typing": typing}
            await self.channel_layer.group_send(
                staff_group(self.ticket_id), {"type": CHAT_MESSAGE_TYPE, "frame": event}
            )

    async def on_read(self, frame):
        seq = frames.whole_number(frame, "seq")
        if self.ticket_id:
            await database_sync_to_async(services.mark_read)(ticket_id=self.ticket_id, by_customer=True, seq=seq)

    async def on_human(self, frame):
        if not self.ticket_id:
            raise FrameError("not_allowed", "Write your question first; a person will take it.")
        await database_sync_to_async(services.ask_for_person)(ticket_id=self.ticket_id)

    async def on_transcript(self, frame):
        if not self.ticket_id:
            raise FrameError("not_allowed", "There is nothing to send yet.")
        email = frames.email(frame)
        sent_to = await database_sync_to_async(services.send_transcript)(ticket_id=self.ticket_id, email=email)
        await self.send_json({"type": "transcript_sent", "email": sent_to})

    async def on_resync(self, frame):
        await self._resync(frames.whole_number(frame, "after_seq", default=0))

    async def on_ping(self, frame):
        if self.ticket_id:
            await database_sync_to_async(services.visitor_seen)(self.ticket_id)
        await self.send_json({"type": "pong"})

    async def _resync(self, after_seq: int) -> None:
        messages = await self._messages_after(after_seq)
        for message in messages:
            await self.send_json({"type": "message", "message": message})
        last_seq = messages[-1]["seq"] if messages else after_seq
        await self.send_json({"type": "resynced", "complete": len(messages) < RESYNC_LIMIT, "last_seq": last_seq})

    @database_sync_to_async
    def _messages_after(self, after_seq: int) -> list[dict]:
        if not self.ticket_id:
            return []
        rows = public_timeline(self.ticket_id).filter(seq__gt=after_seq)[:RESYNC_LIMIT]
        return [
            widget_message(message, visitor=self.visitor, language=self.language)
            for message in MessageSerializer(rows, many=True).data
        ]

    async def helpdesk_event(self, event):
        payload = event["event"]
        if payload["type"] != "message_created" or payload["ticket_id"] != self.ticket_id:
            return
        message = event.get("message") or await self._message(payload["message_id"])
        frame = widget_message(message, visitor=self.visitor, language=self.language) if message else None
        if frame is not None:
            await self.send_json({"type": "message", "message": frame})

    @database_sync_to_async
    def _message(self, message_id: int) -> dict | None:
        found = public_timeline(self.ticket_id).filter(pk=message_id).first()
        return MessageSerializer(found).data if found is not None else None

    async def chat_event(self, event):
        frame = dict(event["frame"])
        if frame.get("type") in ("state", "typing", "read"):
            frame.pop("ticket", None)
            await self.send_json(frame)


def public_timeline(ticket_id: int):
    """What the visitor may see of their chat: its public messages, in order."""
    return (
        Message.objects.filter(ticket_id=ticket_id, is_public=True)
        .select_related("author_user__agent_profile", "author_customer")
        .prefetch_related("attachments")
        .order_by("seq")
    )


@database_sync_to_async
def _widget(key: str) -> ChatWidget | None:
    return ChatWidget.objects.select_related("inbox__team").filter(public_key=key, is_active=True).first()


# --- The agents' console ----------------------------------------------------------------------------------


class AgentConsumer(_Frames):
    handlers = {
        "presence": "on_presence", "heartbeat": "on_heartbeat", "accept": "on_accept", "decline": "on_decline",
        "open": "on_open", "close_view": "on_close_view", "message": "on_message", "note": "on_note",
        "typing": "on_typing", "read": "on_read", "transfer": "on_transfer", "end": "on_end",
    }  # fmt: skip

    async def connect(self):
        self.user = self.scope.get("user")
        self.watching: set[int] = set()
        hello = await self._start()
        await self.accept()
        if hello is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.join(user_group(self.user.pk), *(queue_group(team) for team in self.queues))
        await self.send_json(hello)

    @database_sync_to_async
    def _start(self) -> dict | None:
        if self.user is None or not self.user.is_authenticated or not is_staff_role(self.user):
            return None
        teams = restricted_team_ids(self.user)
        self.teams = teams  # None: every team
        all_teams = list(Team.objects.values_list("pk", flat=True))
        self.queues = [*(teams if teams is not None else all_teams), None]
        _sockets(self.user.pk, +1)
        profile = _set_presence(self.user, Presence.ONLINE)
        self.language = profile.language or "en"
        return {
            "type": "hello",
            "agent": {
                "id": self.user.pk,
                "name": str(profile),
                "presence": profile.presence,
                "chat_capacity": profile.chat_capacity,
            },
            "queue": self._queue(),
            "chats": self._chats(),
        }

    def _queue(self) -> list[dict]:
        teams = None if self.teams is None else list(self.teams)
        return [chat_summary(session) for session in queue.waiting(team_ids=teams)]

    def _chats(self) -> list[dict]:
        mine = ChatSession.objects.filter(ticket__assignee=self.user).exclude(state=ChatState.ENDED)
        mine = mine.select_related("ticket__customer", "ticket__team", "ticket__assignee__agent_profile", "widget")
        return [chat_summary(session) for session in mine.order_by("-updated_at")[:50]]

    async def disconnect(self, code):
        await self.leave_all()
        user = getattr(self, "user", None)
        if user is not None and user.is_authenticated and hasattr(self, "queues"):
            await database_sync_to_async(_left)(user)

    async def on_presence(self, frame):
        presence = frame.get("presence")
        if presence not in (Presence.ONLINE, Presence.AWAY):
            raise FrameError("bad_field", "presence: online or away.")
        await database_sync_to_async(_set_presence)(self.user, presence)

    async def on_heartbeat(self, frame):
        await database_sync_to_async(_set_presence)(self.user, None)

    async def on_accept(self, frame):
        ticket_id = frames.whole_number(frame, "ticket")
        await database_sync_to_async(services.accept)(ticket_id=ticket_id, agent=self.user)
        await self._watch(ticket_id, 0)

    async def on_decline(self, frame):
        await database_sync_to_async(services.decline)(ticket_id=frames.whole_number(frame, "ticket"), agent=self.user)

    async def on_open(self, frame):
        ticket_id = frames.whole_number(frame, "ticket")
        await self._watch(ticket_id, frames.whole_number(frame, "after_seq", default=0))

    async def _watch(self, ticket_id: int, after_seq: int) -> None:
        messages = await self._timeline(ticket_id, after_seq)
        if messages is None:
            raise FrameError("not_found", "No such chat.")
        await self.join(ticket_group(ticket_id, public=False), staff_group(ticket_id))
        self.watching.add(ticket_id)
        for message in messages:
            await self.send_json({"type": "message", "ticket": ticket_id, "message": message})
        last_seq = messages[-1]["seq"] if messages else after_seq
        await self.send_json(
            {"type": "resynced", "ticket": ticket_id, "last_seq": last_seq, "complete": len(messages) < RESYNC_LIMIT}
        )

    @database_sync_to_async
    def _timeline(self, ticket_id: int, after_seq: int) -> list[dict] | None:
        try:
            ticket = ticket_access(user=self.user, ticket_id=ticket_id)
        except Ticket.DoesNotExist:
            return None
        rows = ticket_timeline(user=self.user, ticket=ticket).filter(seq__gt=after_seq)[:RESYNC_LIMIT]
        return [self._worded(message) for message in MessageSerializer(rows, many=True).data]

    def _worded(self, message: dict) -> dict:
        """A system event's words in the agent's language (`event_text`), beside the stored English."""
        if message.get("event"):
            with override(self.language):
                message = {**message, "event_text": describe(message["event"], message["data"], message["body_text"])}
        return message

    async def on_close_view(self, frame):
        ticket_id = frames.whole_number(frame, "ticket")
        self.watching.discard(ticket_id)
        await self.leave(ticket_group(ticket_id, public=False), staff_group(ticket_id))

    async def on_message(self, frame):
        ticket_id, client_id, text = frames.whole_number(frame, "ticket"), frames.client_id(frame), frames.text(frame)
        line = services.ChatLine(ticket_id=ticket_id, text=text, client_id=client_id, agent=self.user)
        if await batching.writer().post(line) is None:  # not plainly theirs to answer now: the checks say why
            await database_sync_to_async(services.agent_message)(
                ticket_id=ticket_id, agent=self.user, text=text, client_id=client_id
            )

    async def on_note(self, frame):
        ticket_id, client_id, text = frames.whole_number(frame, "ticket"), frames.client_id(frame), frames.text(frame)
        await database_sync_to_async(services.agent_note)(
            ticket_id=ticket_id, agent=self.user, text=text, client_id=client_id
        )

    async def on_typing(self, frame):
        ticket_id, typing = frames.whole_number(frame, "ticket"), frames.boolean(frame, "typing")
        if ticket_id in self.watching:
            name = await database_sync_to_async(_name)(self.user)
            event = {"type": "typing", "name": name, "typing": typing}
            await self.channel_layer.group_send(visitor_group(ticket_id), {"type": CHAT_MESSAGE_TYPE, "frame": event})

    async def on_read(self, frame):
        ticket_id, seq = frames.whole_number(frame, "ticket"), frames.whole_number(frame, "seq")
        if ticket_id in self.watching:
            await database_sync_to_async(services.mark_read)(ticket_id=ticket_id, by_customer=False, seq=seq)

    async def on_transfer(self, frame):
        ticket_id = frames.whole_number(frame, "ticket")
        await database_sync_to_async(self._transfer)(ticket_id, frame.get("agent"), frame.get("team"))

    def _transfer(self, ticket_id: int, agent_id, team_id) -> None:
        if agent_id is not None:
            agents = get_user_model().objects.filter(is_active=True)
            agent = agents.filter(pk=agent_id).first() if isinstance(agent_id, int) else None
            if agent is None:
                raise FrameError("bad_field", "agent: an agent's id.")
            services.transfer(ticket_id=ticket_id, actor=self.user, to_agent=agent)
            return
        team = Team.objects.filter(pk=team_id).first() if isinstance(team_id, int) else None
        if team is None:
            raise FrameError("bad_field", "Give an agent or a team to transfer to.")
        services.transfer(ticket_id=ticket_id, actor=self.user, to_team=team)

    async def on_end(self, frame):
        await database_sync_to_async(services.end)(ticket_id=frames.whole_number(frame, "ticket"), actor=self.user)

    async def chat_event(self, event):
        frame = event["frame"]
        kind = frame.get("type")
        if kind == "queue_changed":
            await self.send_json({"type": "queue", "queue": await database_sync_to_async(self._queue)()})
        elif kind == "offer":
            chat = await self._summary(frame["ticket"])
            if chat is not None:
                await self.send_json({"type": "offer", "chat": chat})
        elif kind == "chat":
            chat = await self._summary(frame["ticket"])
            if chat is not None:
                await self.send_json({"type": "chat", "chat": chat})
            else:  # transferred out of this agent's sight
                await self._gone(frame["ticket"])
        elif kind in ("typing", "read", "contact") and frame.get("ticket") in self.watching:
            await self.send_json(frame)

    @database_sync_to_async
    def _summary(self, ticket_id: int) -> dict | None:
        if not self._may_see(ticket_id):
            return None
        session = ChatSession.objects.select_related(
            "ticket__customer", "ticket__team", "ticket__assignee__agent_profile", "widget"
        ).filter(pk=ticket_id)
        found = session.first()
        return chat_summary(found) if found is not None else None

    def _may_see(self, ticket_id: int) -> bool:
        try:
            ticket_access(user=self.user, ticket_id=ticket_id)
        except Ticket.DoesNotExist:
            return False
        return True

    async def _gone(self, ticket_id: int) -> None:
        """The agent may no longer see this chat: nothing more of it reaches them, and the console drops it."""
        self.watching.discard(ticket_id)
        await self.leave(ticket_group(ticket_id, public=False), staff_group(ticket_id))
        await self.send_json({"type": "gone", "ticket": ticket_id})

    async def helpdesk_event(self, event):
        payload = event["event"]
        ticket_id = payload.get("ticket_id")
        if ticket_id not in self.watching:
            return
        if payload["type"] == "ticket_assigned":
            # A new team or assignee can take the chat out of this agent's sight: check again before any more.
            if not await database_sync_to_async(self._may_see)(ticket_id):
                await self._gone(ticket_id)
            return
        if payload["type"] != "message_created":
            return
        message = event.get("message")
        if message is None:
            messages = await self._timeline(ticket_id, payload["seq"] - 1)
            message = messages[0] if messages else None
        if message is not None:
            await self.send_json({"type": "message", "ticket": ticket_id, "message": self._worded(message)})


def _set_presence(user, presence: str | None) -> AgentProfile:
    """Presence (None: unchanged) and "seen now"; an agent coming online may get waiting chats offered, and
    the customers waiting for their teams hear who can answer now."""
    profile = AgentProfile.objects.get(user=user)
    fields = {"last_seen_at": timezone.now()}
    if presence is not None:
        fields["presence"] = presence
    with transaction.atomic():
        AgentProfile.objects.filter(pk=profile.pk).update(**fields)
        if presence is not None:
            services.tell_waiting(_queues_of(profile))
    for field, value in fields.items():
        setattr(profile, field, value)
    if presence == Presence.ONLINE:
        services.reoffer_waiting()
    return profile


def _left(user) -> None:
    if _sockets(user.pk, -1) <= 0:
        with transaction.atomic():
            AgentProfile.objects.filter(user=user).update(presence=Presence.OFFLINE)
            services.tell_waiting(_queues_of(AgentProfile.objects.get(user=user)))


def _queues_of(profile: AgentProfile) -> list[int | None]:
    """The queues whose chats this agent can take: their teams', and the chats of no team."""
    return [*profile.teams.values_list("pk", flat=True), None]


def _sockets(user_id: int, change: int) -> int:
    """Open console sockets of an agent, across processes (the last one closing makes them offline)."""
    key = f"chat:agent-sockets:{user_id}"
    cache.add(key, 0, timeout=24 * 3600)
    try:
        return cache.incr(key, change)
    except ValueError:  # expired meanwhile
        cache.set(key, max(change, 0), timeout=24 * 3600)
        return max(change, 0)


def _name(user) -> str:
    profile = AgentProfile.objects.filter(user=user).first()
    return str(profile or user.get_username())
