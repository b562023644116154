"""The editor's reactions to chat events: what the bot did not answer well becomes a missed question.

Registered at app start (``bot.app``); each listener runs after the chat's transaction committed, in its own
transaction, and a failure is logged by the bus without touching the chat.
"""

from __future__ import annotations

from bot.db.session import Database
from bot.editor.missed import record_bad_rating, record_bot_decision
from bot.events import BotDecided, EventBus, Rated


def register(bus: EventBus, db: Database) -> None:
    """Subscribe the missed-question hooks to ``bus``."""

    def on_bot_decided(event: BotDecided) -> None:
        # record_bot_decision alone says which decisions are missed questions.
        if event.action != "answer":
            with db.session() as session:
                record_bot_decision(session, event)

    def on_rated(event: Rated) -> None:
        if event.score <= 2:
            with db.session() as session:
                record_bad_rating(session, event.conversation_id, event.score)

    bus.subscribe(BotDecided, on_bot_decided, "editor.missed.on_bot_decided")
    bus.subscribe(Rated, on_rated, "editor.missed.on_rated")
