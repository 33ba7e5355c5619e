"""The Redis channel layer, with a way to send to many groups at once.

`channels_redis` asks Redis who is in a group (two commands) before each group message. A batch of inbound
messages fans out to hundreds of groups, most of them with nobody listening (no agent has that ticket
open): `group_send_many` looks all the groups up in one pipelined round trip, then sends only to the groups
that have members, each through the ordinary `group_send`.
"""

import logging
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection
from redis.asyncio.client import PubSub

logger = logging.getLogger(__name__)

# What every consumer of a process is sent when its subscriptions came back after Redis was lost: the group
# messages published meanwhile never reached it (helpdesk.consumers.DirectDispatchConsumer handles it).
RESUBSCRIBED = {"type": "layer.resubscribed"}


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


class BatchingPubSubChannelLayer(RedisPubSubChannelLayer):
    """Redis pub/sub: a group is a Redis channel that each process with members in it subscribes to, so a
    group message is one PUBLISH and reaches a process without it asking (the list-based layer above takes
    three round trips per message a process receives, one after the other, which caps what a process can
    deliver). Messages are not kept for a process that is not listening; sockets resync from the database by
    sequence number when they reconnect, as with any lost push; when the process itself lost Redis (a
    restart, a network cut), its consumers are told (`RESUBSCRIBED`) so that their sockets resync too."""

    def _get_layer(self):
        layer = super()._get_layer()
        if not all(isinstance(shard, _NoticingShard) for shard in layer._shards):  # a new loop's layer
            layer._shards = [_NoticingShard(shard.host, layer) for shard in layer._shards]
        return layer

    async def listened_groups(self, groups) -> set[str]:
        """The groups some process listens to (PUBSUB NUMSUB), one round trip per Redis host."""
        by_shard: dict = {}  # a Redis host's connection -> {channel name: group}
        for group in groups:
            name, shard = self._redis_channel(group)
            by_shard.setdefault(shard, {})[name] = group
        listened: set[str] = set()
        for shard, names in by_shard.items():
            counts = dict(await shard._redis.pubsub_numsub(*names))
            listened.update(group for name, group in names.items() if counts.get(name.encode()))
        return listened

    def _redis_channel(self, group: str):
        """The Redis channel of a group, and the connection of the Redis host it lives on."""
        layer = self._get_layer()
        name = layer._get_group_channel_name(group)
        shard = layer._get_shard(name)
        shard._ensure_redis()
        return name, shard

    async def group_send_many(self, sends: list[tuple[str, dict]]) -> None:
        """PUBLISH each (group, message), in order, pipelined: one round trip per Redis host."""
        pipelines: dict = {}  # a Redis host's connection -> its pipeline
        for group, message in sends:
            name, shard = self._redis_channel(group)
            if shard not in pipelines:
                pipelines[shard] = shard._redis.pipeline(transaction=False)
            pipelines[shard].publish(name, self.serialize(message))
        for pipeline in pipelines.values():
            await pipeline.execute()


class _NoticingShard(RedisSingleShardConnection):
    """The connection to one Redis host, which tells every consumer of the process when its subscriptions
    are made again on a new connection."""

    def _ensure_redis(self):
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = _NoticingPubSub(self._redis.connection_pool, on_resubscribed=self._tell_consumers)

    def _tell_consumers(self) -> None:
        layer = self.channel_layer
        logger.warning("channel layer: subscribed again to %s; telling %d consumers", self.host, len(layer.channels))
        notice = layer.channel_layer.serialize(RESUBSCRIBED)
        for queue in layer.channels.values():
            queue.put_nowait(notice)


class _NoticingPubSub(PubSub):
    def __init__(self, *args, on_resubscribed, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._on_resubscribed = on_resubscribed

    async def on_connect(self, connection) -> None:
        """redis-py calls this when the connection is made again (not the first time) to subscribe again."""
        await super().on_connect(connection)
        self._on_resubscribed()
