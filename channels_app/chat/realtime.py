"""What the chat sockets are told besides new messages (which come from helpdesk.realtime): the state of a
conversation, typing and read state, the waiting queue, offers. Sent after the commit of the change.

Groups:
- `chat.<ticket>.visitor`: the widget sockets of a conversation;
- `chat.<ticket>.staff`: agent consoles watching that chat;
- `chatqueue.<team id or "none">`: consoles of the agents who see that team's queue;
- `user.<id>`: one agent's consoles (offers, their chats).
"""

from __future__ import annotations

from django.db import transaction

from helpdesk import realtime

CHAT_MESSAGE_TYPE = "chat.event"  # consumers handle it in `chat_event`


def visitor_group(ticket_id: int) -> str:
    return f"chat.{ticket_id}.visitor"


def staff_group(ticket_id: int) -> str:
    return f"chat.{ticket_id}.staff"


def queue_group(team_id: int | None) -> str:
    return f"chatqueue.{team_id if team_id is not None else 'none'}"


def tell(sends: list[tuple[str, dict]]) -> None:
    """After the current transaction commits, send `{"type": "chat.event", "frame": frame}` to each group."""
    if sends:
        messages = [(group, {"type": CHAT_MESSAGE_TYPE, "frame": frame}) for group, frame in sends]
        transaction.on_commit(lambda: realtime.send(messages), robust=True)
