"""Agent and admin accounts: argon2-hashed passwords, login tokens, roles (agent, admin, editor)."""
