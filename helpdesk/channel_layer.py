"""The Redis channel layer, with a way to send to many groups at once.

`channels_redis` asks Redis who is in a group (two commands) before each group message. A batch of inbound
messages fans out to hundreds of groups, most of them with nobody listening (no agent has that ticket
open): `group_send_many` looks all the groups up in one pipelined round trip, then sends only to the groups
that have members, each through the ordinary `group_send`.
"""

import time

from channels_redis.core import RedisChannelLayer


class BatchingRedisChannelLayer(RedisChannelLayer):
    async def listened_groups(self, groups) -> set[str]:
        """The groups that have members, looked up in one pipelined round trip per Redis host."""
        by_connection: dict[int, list[str]] = {}
        for group in dict.fromkeys(groups):
            self.require_valid_group_name(group)  # raises TypeError for a bad name
            by_connection.setdefault(self.consistent_hash(group), []).append(group)
        listened: set[str] = set()
        horizon = int(time.time()) - self.group_expiry
        for index, members in by_connection.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group in members:
                key = self._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=horizon)
                pipe.zcard(key)
            counts = (await pipe.execute())[1::2]
            listened.update(group for group, count in zip(members, counts, strict=True) if count)
        return listened

    async def group_send_many(self, sends: list[tuple[str, dict]]) -> None:
        """`group_send` for each (group, message), in order, skipping the groups nobody is in."""
        listened = await self.listened_groups(group for group, _ in sends)
        for group, message in sends:
            if group in listened:
                await self.group_send(group, message)
