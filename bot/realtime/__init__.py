"""Relaying events between sockets: one small publish/subscribe interface, in-process by default.

See :mod:`bot.realtime.pubsub` and docs/realtime.md (how a Redis implementation plugs in).
"""

from bot.realtime.pubsub import InMemoryPubSub, PubSub, SubscriberOverflow, Subscription, create_pubsub

__all__ = ["InMemoryPubSub", "PubSub", "SubscriberOverflow", "Subscription", "create_pubsub"]
