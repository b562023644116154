"""Password strength: refuse guessable passwords (``zxcvbn``), not just short ones.

``zxcvbn`` estimates how many guesses a password takes, knowing common passwords, words, names, keyboard
patterns, repeats and dates, and scores it 0-4. New passwords need ``BORDERLESS_PASSWORD_MIN_SCORE`` (default 3,
"safely unguessable": about 10^10 guesses). The account's username and name and the product's name count as
known words, so ``ana``/``ana2024`` or ``borderless-...`` variations score low.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

DEFAULT_MIN_SCORE = 3
MIN_CHARS = 8
#: zxcvbn's cost grows with length; longer input is cut for scoring (it is already far beyond guessing).
_SCORED_CHARS = 100
SITE_WORDS: tuple[str, ...] = ("borderless",)


def password_problem(password: str, user_inputs: tuple[str, ...] = (),
                     min_score: int = DEFAULT_MIN_SCORE) -> str | None:
    """Why ``password`` is refused, as a sentence for the person choosing it; None if it is strong enough."""
    if len(password or "") < MIN_CHARS:
        return f"The password needs at least {MIN_CHARS} characters."
    if not password.strip():
        return "The password cannot be only spaces."
    result = zxcvbn(password[:_SCORED_CHARS], user_inputs=[*SITE_WORDS, *(u for u in user_inputs if u)])
    if result["score"] >= min_score:
        return None
    feedback = result.get("feedback") or {}
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    hint = " ".join(h.strip() for h in hints if h and h.strip())
    return "The password is too easy to guess." + (f" {hint}" if hint else "")
