"""Borderless: a multilingual support chatbot for cross-border online stores."""

__version__ = "0.1.0"
