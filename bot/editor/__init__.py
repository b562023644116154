"""Content editing: the FAQ editor (entries, versions, publish), the live knowledge base, missed questions.

- ``models``: tables ``kb_entries``, ``kb_entry_versions``, ``kb_state``, ``missed_questions`` (migration 0002).
- ``content``: pure helpers: normalising entry content, diffs, CSV/JSON import with line numbers, export.
- ``service``: the editor's operations (one transaction each, optimistic locking on ``version``).
- ``live``: keeping the running answer engine in step with published entries (and the DB-backed engine factory).
- ``missed``: recording and grouping questions the bot could not answer well.
- ``routes``: ``/editor`` and ``/api/editor/...`` (roles editor and admin).
"""
