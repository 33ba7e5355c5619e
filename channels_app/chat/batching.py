"""The messages typed in a process's chat sockets, written to the database together.

A message waits while the write before it is in progress; then all the messages that arrived meanwhile go
in one transaction (`services.post_lines`), a batch costing little more than one message. Unloaded, each
message is written alone, at once; under load the batches grow, and the process keeps up with several times
the messages it could write one by one. Each socket still sends one message at a time and gets its own
result; a line the batch does not take (or a batch that fails) is posted alone by the caller. A chat whose
ticket the other server is writing (its other side) is not waited for: its line goes in the next batch, so
the servers' batches do not queue behind each other.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async

from channels_app.chat import services
from helpdesk.services.messages import PostedMessage

logger = logging.getLogger(__name__)

MAX_LINES = 200  # per transaction
MAX_TRIES = 20  # a chat still held by another server after this many batches: posted alone, waiting for it
BUSY_PAUSE = 0.002  # seconds, when a whole batch found its chats held


class LineWriter:
    def __init__(self) -> None:
        self._waiting: list[tuple[services.ChatLine, asyncio.Future, int]] = []
        self._task: asyncio.Task | None = None

    async def post(self, line: services.ChatLine) -> PostedMessage | None:
        """The line's message, or None when it must be posted alone."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((line, future, 1))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_LINES], self._waiting[MAX_LINES:]
            try:
                results = await database_sync_to_async(services.post_lines)([line for line, _, _ in batch])
            except Exception as error:  # one bad line fails its batch: each line goes alone, and fails alone
                logger.warning("chat: a batch of %d messages failed (%r); posting them one by one", len(batch), error)
                results = [None] * len(batch)
            again = []
            for (line, future, tries), result in zip(batch, results, strict=True):
                if result == services.BUSY and tries < MAX_TRIES:
                    again.append((line, future, tries + 1))
                elif not future.done():  # its socket may have gone meanwhile
                    future.set_result(None if result == services.BUSY else result)
            self._waiting[:0] = again  # first in the next batch
            if again and len(again) == len(batch):
                await asyncio.sleep(BUSY_PAUSE)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LineWriter] = weakref.WeakKeyDictionary()


def writer() -> LineWriter:
    """The writer of this event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    if loop not in _writers:
        _writers[loop] = LineWriter()
    return _writers[loop]
