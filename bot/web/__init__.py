"""HTTP plumbing shared by every route: the error format, request guards, security headers, client addresses,
access-log hygiene.

The pages and scripts the server sends live in ``static/``.
"""
