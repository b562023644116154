"""The login throttle: after ``max_failures`` failed logins for one (username, address) pair within ``window``
seconds, that pair gets 429 until the oldest failure leaves the window; a successful login clears the pair.

Counts live in a ``limits`` storage (a moving window per pair): ``memory://`` for one process, or
``BORDERLESS_REDIS_URL`` so every server process shares them. Each pair's counter expires with its window, so a
flood of failures from many pairs costs memory for the window only and never resets the others' counts (the
former in-process table was cleared wholesale past 10,000 pairs, which un-blocked every attacker).
"""

from __future__ import annotations

import hashlib
import logging
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

NAMESPACE = "borderless-login"


class LoginThrottle:
    """Failed-login counting per (username, address)."""

    def __init__(self, max_failures: int = 10, window_seconds: float = 300.0,
                 storage_url: str | None = None) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.storage_url = storage_url or "memory://"
        self._item = RateLimitItemPerSecond(max_failures, max(1, int(window_seconds)), namespace=NAMESPACE)
        self._limiter = MovingWindowRateLimiter(storage_from_string(self.storage_url))

    @classmethod
    def from_settings(cls, settings: object) -> LoginThrottle:
        """The throttle the app uses: thresholds from settings, Redis when ``redis_url`` is set."""
        return cls(getattr(settings, "login_max_failures", 10), getattr(settings, "login_window_seconds", 300),
                   getattr(settings, "redis_url", None) or None)

    @staticmethod
    def _key(username: str) -> str:
        # Usernames are user input: hash them so no character can split or collide storage keys.
        return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def blocked(self, username: str, address: str) -> bool:
        """Whether this pair has used up its failures."""
        return not self._limiter.test(self._item, self._key(username), address)

    def failed(self, username: str, address: str) -> None:
        """Count one failed login."""
        self._limiter.hit(self._item, self._key(username), address)

    def succeeded(self, username: str, address: str) -> None:
        """A successful login forgives the pair's earlier failures."""
        self._limiter.clear(self._item, self._key(username), address)

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until the pair may try again (0 if it may now)."""
        reset_at, remaining = self._limiter.get_window_stats(self._item, self._key(username), address)
        if remaining > 0:
            return 0
        return max(1, int(reset_at - time.time()) + 1)
