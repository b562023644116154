"""Conversations and their messages: the shopper websocket, the bot's turns, agents' replies and notes."""
