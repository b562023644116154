"""Register listeners per event type and dispatch events after commit; a failing listener is logged, never raised.

Services call :func:`emit` inside their transaction: the event waits in ``session.info`` and is dispatched by
``Database.session()`` only once the commit succeeded (a rolled-back transaction emits nothing). Dispatch is
synchronous, in the thread that committed, after the write lock is released, so when a service call returns
its listeners have run (Chatwoot's listeners, minus the job queue). Listeners open their own transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from bot.events.types import Event

log = logging.getLogger(__name__)

PENDING_KEY = "borderless.domain_events"
E = TypeVar("E", bound=Event)
Listener = Callable[[Any], None]


def emit(session: Any, event: Event) -> None:
    """Queue ``event`` on the session; it is dispatched after this transaction commits."""
    session.info.setdefault(PENDING_KEY, []).append(event)


def take_pending(session: Any) -> list[Event]:
    """The events queued on ``session`` (removed from it)."""
    return session.info.pop(PENDING_KEY, None) or []


class EventBus:
    """Listeners by event type; a listener of a base class (``DomainEvent``) hears every subclass."""

    def __init__(self) -> None:
        self._listeners: dict[type[Event], list[tuple[str, Listener]]] = {}
        self._batch_listeners: list[tuple[str, Callable[[list[Event]], None]]] = []

    def subscribe(self, event_type: type[E], listener: Callable[[E], None], name: str | None = None) -> None:
        label = name or getattr(listener, "__qualname__", repr(listener))
        self._listeners.setdefault(event_type, []).append((label, listener))

    def subscribe_batch(self, listener: Callable[[list[Event]], None], name: str | None = None) -> None:
        """Hear every dispatch at once (the events of one commit, in order): one transaction for all of them."""
        self._batch_listeners.append((name or getattr(listener, "__qualname__", repr(listener)), listener))

    def listeners_for(self, event_type: type[Event]) -> list[tuple[str, Listener]]:
        found: list[tuple[str, Listener]] = []
        for klass in event_type.__mro__:
            found.extend(self._listeners.get(klass, ()))  # type: ignore[arg-type]
        return found

    def dispatch(self, events: Iterable[Event]) -> None:
        """Call each event's listeners in registration order; failures are logged and do not stop the others."""
        events = list(events)
        for label, batch_listener in self._batch_listeners:
            try:
                batch_listener(events)
            except Exception:
                log.exception("listener %s failed on %d events", label, len(events))
        for event in events:
            for label, listener in self.listeners_for(type(event)):
                try:
                    listener(event)
                except Exception:
                    log.exception("listener %s failed on %s of conversation %s", label, event.name,
                                  getattr(event, "conversation_id", "-"))
