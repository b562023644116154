"""The FAQ knowledge base: its model, file format and CSV import/export."""

from bot.knowledge.models import Entry, KnowledgeBase, KnowledgeBaseError, LocaleContent

__all__ = ["Entry", "KnowledgeBase", "KnowledgeBaseError", "LocaleContent"]
