"""The handoff queue: conversations waiting for a human, claiming, resolving, handing back; support hours."""
