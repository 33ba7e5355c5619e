"""The live ticket stream: an agent (or the customer, in the portal) watching one ticket's timeline.

Protocol in docs/chat-protocol.md. Authorization happens in `connect()`, before joining any group, with
the same selector as the REST API; a socket the user may not use is closed with code 4404.
"""

import asyncio
import random

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from helpdesk.api.serializers import MessageSerializer
from helpdesk.models import Ticket
from helpdesk.realtime import ticket_group
from helpdesk.selectors.access import is_staff_role, ticket_access
from helpdesk.selectors.tickets import ticket_timeline

CLOSE_NOT_FOUND = 4404
CLOSE_SERVICE_RESTART = 1012  # RFC 6455 registry: "Service Restart"; the client reconnects and resyncs
RESUBSCRIBE_SPREAD_SECONDS = 3.0
MAX_FRAME_BYTES = 64 * 1024
RESYNC_LIMIT = 500


class DirectDispatchConsumer(AsyncJsonWebsocketConsumer):
    """A JSON websocket consumer whose handlers run at once.

    Channels (4.2 and later) closes stale database connections before every handler it dispatches: a
    `sync_to_async` hop into the process's one database thread, for every frame received and every group
    message pushed. When that thread is writing, the push waits for the whole write: with the live chat's
    batches, every message a socket was sent queued behind the next batch. The consumers here touch the
    database only through `database_sync_to_async`, which closes stale connections itself, in that thread,
    before and after each call, so the hop buys nothing."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def layer_resubscribed(self, message):
        """The process lost Redis for a while (helpdesk.channel_layer.RESUBSCRIBED): what was pushed meanwhile
        never came. Closing with 1012 makes the client reconnect and resync from the database by sequence
        number, as after any dropped socket; the closes are spread so that the clients do not all return at
        once."""
        await asyncio.sleep(random.uniform(0, RESUBSCRIBE_SPREAD_SECONDS))  # noqa: S311 (not for security)
        await self.close(code=CLOSE_SERVICE_RESTART)


class TicketStreamConsumer(DirectDispatchConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.ticket = await self._authorized_ticket(self.scope["url_route"]["kwargs"]["ticket_id"])
        if self.ticket is None:
            # Accept first: a close before accepting reaches browsers as a failed handshake (1006), not 4404.
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = ticket_group(self.ticket.pk, public=not self.is_staff)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None or text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_json(
                {"type": "error", "code": "bad_frame", "detail": "Send JSON text frames under 64 KiB."}
            )
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_json({"type": "error", "code": "bad_json", "detail": "Frames must be JSON objects."})
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "bad_frame", "detail": "Frames must be JSON objects."})
            return
        if content.get("type") == "resync":
            after_seq = content.get("after_seq", 0)
            if not isinstance(after_seq, int) or isinstance(after_seq, bool) or not 0 <= after_seq < 2**31:
                await self.send_json({"type": "error", "code": "bad_field", "detail": "after_seq: a whole number."})
                return
            messages = await self._messages_after(after_seq)
            for message in messages:
                await self.send_json({"type": "message", "message": message})
            # `last_seq`: where the next resync starts. Fewer than the limit means the client is up to date.
            last_seq = messages[-1]["seq"] if messages else after_seq
            await self.send_json({"type": "resynced", "complete": len(messages) < RESYNC_LIMIT, "last_seq": last_seq})
            return
        await self.send_json({"type": "error", "code": "unknown_type", "detail": "Unknown frame type."})

    async def helpdesk_event(self, event):
        payload = event["event"]
        if payload["type"] == "message_created":
            # Serialized by the publisher for this group (staff: everything; public: public items only).
            message = event.get("message") or await self._message(payload["message_id"])
            if message is not None:
                await self.send_json({"type": "message", "message": message})
        elif payload["type"] == "ticket_status_changed":
            await self.send_json({"type": "status", "status": payload["new_status"], "previous": payload["old_status"]})
        elif payload["type"] == "ticket_changed":
            await self.send_json({"type": "changed", "action": payload["action"], "changes": payload["changes"]})
        elif payload["type"] == "ticket_assigned":
            # A new team can take the ticket out of this user's sight: check again before telling them more.
            if await self._authorized_ticket(self.ticket.pk) is None:
                await self.close(code=CLOSE_NOT_FOUND)
                return
            await self.send_json(
                {"type": "assigned", "assignee_id": payload["assignee_id"], "team_id": payload["team_id"]}
            )

    @database_sync_to_async
    def _authorized_ticket(self, ticket_id) -> Ticket | None:
        self.is_staff = is_staff_role(self.user)
        try:
            return ticket_access(user=self.user, ticket_id=int(ticket_id))
        except (Ticket.DoesNotExist, ValueError, TypeError):
            return None

    @database_sync_to_async
    def _messages_after(self, after_seq: int) -> list[dict]:
        messages = ticket_timeline(user=self.user, ticket=self.ticket).filter(seq__gt=after_seq)[:RESYNC_LIMIT]
        return MessageSerializer(messages, many=True).data

    @database_sync_to_async
    def _message(self, message_id: int) -> dict | None:
        message = ticket_timeline(user=self.user, ticket=self.ticket).filter(pk=message_id).first()
        return MessageSerializer(message).data if message is not None else None
