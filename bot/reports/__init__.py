"""Reports: an append-only table of the chat's domain events, a per-conversation projection, figures and CSV."""
