"""Missed questions: recording what the bot did not answer well, and grouping similar ones across languages.

Recording listens to the chat's domain events (``bot.editor.listeners``: the bot decided, the shopper rated),
after the chat's transaction committed and in a savepoint of its own, so a failure here never breaks a chat.
Grouping embeds the open questions with the answer engine's (multilingual) embedder and clusters them by
cosine similarity, so "where is my parcel", "¿dónde está mi paquete?" and "où est mon colis" form one group.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.models import Message
from bot.db.types import iso, utcnow
from bot.editor import content as C
from bot.editor.content import fold
from bot.editor.errors import Invalid, NotFound
from bot.editor.models import KbEntry, MissedQuestion
from bot.editor.service import Actor, add_questions, create_entry
from bot.events import BotDecided

log = logging.getLogger(__name__)

#: Cosine similarity at or above which two missed questions belong together (multilingual-e5-small:
#: paraphrases across languages score about 0.85-0.95, unrelated shop questions about 0.75-0.82).
GROUP_THRESHOLD = 0.86
MAX_TEXT_CHARS = 2000
MAX_OPEN_FOR_GROUPING = 2000
EXAMPLES_PER_GROUP = 8


def record_missed(
    session: Session,
    text: str,
    lang: str,
    reason: str,
    conversation_id: str | None = None,
    message_id: str | None = None,
    faq_id: str | None = None,
) -> bool:
    """Store one missed question (once per message and reason) in a savepoint; True if stored.

    Never raises: the caller is a chat transaction that must go on whatever happens here.
    """
    text = (text or "").strip()[:MAX_TEXT_CHARS]
    if not text:
        return False
    try:
        with session.begin_nested():
            if message_id is not None and session.scalar(
                select(MissedQuestion.id).where(MissedQuestion.message_id == message_id,
                                                MissedQuestion.reason == reason)
            ):
                return False
            session.add(MissedQuestion(conversation_id=conversation_id, message_id=message_id, text=text,
                                       lang=(lang or "und")[:8], reason=reason, faq_id=faq_id, status="open"))
        log.info("missed question recorded (%s, %s)", reason, lang)
        return True
    except Exception:
        log.exception("could not record a missed question (%s) for conversation %s", reason, conversation_id)
        return False


def record_bot_decision(session: Session, decision: BotDecided) -> None:
    """After the bot's reply is stored: a clarify or a low-confidence handoff is a missed question."""
    conversation_id, reply_to = decision.conversation_id, decision.reply_to
    if decision.action == "clarify":
        reason = "clarify"
        faq_id = decision.suggested_faq_ids[0] if decision.suggested_faq_ids else None
    elif (decision.action, decision.reason) in (
        ("handoff", "low_confidence"), ("decline", "uncertain_match"), ("decline", "unrelated")
    ):
        # A decline for an uncertain or no match is the bot not knowing, like a low-confidence handoff (issue 7):
        # a question no entry is near may be the next entry to write.
        reason, faq_id = "low_confidence", None
    else:
        return
    try:
        text = session.scalar(select(Message.text).where(Message.id == reply_to))
    except Exception:
        log.exception("could not read the shopper message %s", reply_to)
        return
    if text:
        record_missed(session, text, decision.lang, reason, conversation_id=conversation_id, message_id=reply_to,
                      faq_id=faq_id)


def record_bad_rating(session: Session, conversation_id: str, score: int) -> int:
    """Chat hook after a rating: at 2 or less, each shopper question the bot answered is a missed question."""
    if score > 2:
        return 0
    try:
        answers = session.execute(
            select(Message.reply_to, Message.faq_id)
            .where(Message.conversation_id == conversation_id, Message.role == "bot", Message.action == "answer",
                   Message.faq_id.is_not(None), Message.reply_to.is_not(None))
            .order_by(Message.seq)
        ).all()
        if not answers:
            return 0
        asked = {
            m.id: m
            for m in session.scalars(select(Message).where(Message.id.in_([r for r, _ in answers]))).all()
        }
    except Exception:
        log.exception("could not read the answers of conversation %s", conversation_id)
        return 0
    stored = 0
    for reply_to, faq_id in answers:
        msg = asked.get(reply_to)
        if msg is not None and record_missed(session, msg.text, msg.lang or "und", "bad_rating",
                                             conversation_id=conversation_id, message_id=msg.id, faq_id=faq_id):
            stored += 1
    return stored


# ---------------------------------------------------------------------------------------------- grouping
def cluster(vectors: np.ndarray, threshold: float = GROUP_THRESHOLD) -> list[list[int]]:
    """Leader clustering on unit vectors: the row with most neighbours leads, its unassigned neighbours join.

    Deterministic, O(n^2) in memory and time for n rows (fine for the few thousand open questions kept).
    """
    n = len(vectors)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    near = sims >= threshold
    degree = near.sum(axis=1)
    order = sorted(range(n), key=lambda i: (-int(degree[i]), i))
    assigned = np.zeros(n, dtype=bool)
    groups: list[list[int]] = []
    for leader in order:
        if assigned[leader]:
            continue
        members = [j for j in np.flatnonzero(near[leader] & ~assigned).tolist()]
        if leader not in members:
            members.insert(0, leader)
        assigned[members] = True
        groups.append(sorted(members, key=lambda j: (-float(sims[leader, j]), j)))
    return groups


@dataclass
class AgentAnswer:
    """What an agent replied in a handed-off conversation after the missed question."""

    lang: str
    text: str
    agent: str | None
    conversation_id: str

    def to_json(self) -> dict[str, Any]:
        return {"lang": self.lang, "text": self.text, "agent": self.agent, "conversation_id": self.conversation_id}


@dataclass
class MissedGroup:
    """Similar missed questions across languages."""

    id: str
    items: list[MissedQuestion]
    agent_answers: list[AgentAnswer] = field(default_factory=list)
    suggested_entry: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        langs = Counter(m.lang for m in self.items)
        reasons = Counter(m.reason for m in self.items)
        examples: list[MissedQuestion] = []
        seen: set[tuple[str, str]] = set()
        # One example per language first, then the rest, so every language shows.
        for m in sorted(self.items, key=lambda m: (m.lang in {e.lang for e in examples}, m.created_at)):
            key = (m.lang, fold(m.text))
            if key not in seen and len(examples) < EXAMPLES_PER_GROUP:
                seen.add(key)
                examples.append(m)
        return {
            "id": self.id,
            "count": len(self.items),
            "languages": dict(langs.most_common()),
            "reasons": dict(reasons.most_common()),
            "first_seen": iso(min(m.created_at for m in self.items)),
            "last_seen": iso(max(m.created_at for m in self.items)),
            "examples": [missed_json(m) for m in examples],
            "missed_ids": [m.id for m in self.items],
            "agent_answers": [a.to_json() for a in self.agent_answers],
            "suggested_entry": self.suggested_entry,
        }


def missed_json(m: MissedQuestion) -> dict[str, Any]:
    return {
        "id": m.id,
        "text": m.text,
        "lang": m.lang,
        "reason": m.reason,
        "faq_id": m.faq_id,
        "status": m.status,
        "conversation_id": m.conversation_id,
        "created_at": iso(m.created_at),
    }


# ---------------------------------------------------------------------------------------------- agents' answers
# What agents say that is no answer: greetings, introductions, thanks, "one moment" (15 shop languages). A reply
# made only of these ("Hola, soy Ana, ¿en qué puedo ayudarte?") must never become an FAQ answer.
_FILLER = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|hola|buen[oa]s( d[ií]as| tardes| noches)?|bonjour|bonsoir|"
    r"salut|hallo|guten (tag|morgen|abend)|servus|ol[aá]|oi|bom dia|boa (tarde|noite)|ciao|salve|buongiorno|"
    r"buonasera|hoi|goedemiddag|goedemorgen|你好|您好|こんにちは|こんばんは|안녕하세요|здравствуйте|привет|"
    r"добрый (день|вечер)|مرحب[اً]|أهلا|السلام عليكم|sveik[si]|labdien|cześć|dzień dobry|merhaba|selam|iyi günler|"
    r"thanks?( you)?|gracias|merci|danke|obrigad[oa]|grazie|bedankt|dank je|谢谢|ありがとう|감사합니다|спасибо|شكرا|"
    r"paldies|dziękuj[eę]|teşekkür|"
    r"(i am|i'm|my name is|this is|soy|me llamo|je suis|je m'appelle|ich bin|mein name ist|sou|meu nome é|sono|"
    r"mi chiamo|ik ben|我是|私は|저는|меня зовут|я —|اسمي|أنا|mani sauc|es esmu|jestem|mam na imię|ben|adım)\b|"
    r"(let me (check|see|look)|i('m| am| will) (check|look)|(ya )?estoy (revisando|mirando)|voy a (revisar|mirar)|"
    r"déjame (ver|revisar)|je (vérifie|regarde)|ich (prüfe|schaue)|estou verificando|sto controllando|ik kijk|"
    r"one moment|just a (moment|second)|un momento|un instant|einen moment|um momento|een moment|"
    r"稍等|少々お待ち|잠시만|одну минуту|لحظة|mirklīti|chwileczkę|bir dakika)"
    r")",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"[^.!?。！？…]+[.!?。！？…]*")
#: A reply needs this many characters of substance (after the filler) to serve as a draft answer.
MIN_INFORMATIVE_CHARS = 20


def informativeness(text: str) -> int:
    """How much of an agent's reply is substance: the characters of its sentences that are not greetings,
    introductions, thanks or "one moment". 0 for a reply that is only pleasantries."""
    substance = 0
    for sentence in _SENTENCES.findall(text or ""):
        sentence = sentence.strip()
        if sentence and not _FILLER.match(sentence):
            substance += len(sentence)
    return substance if substance >= MIN_INFORMATIVE_CHARS else 0


def agent_answers_for(session: Session, items: Sequence[MissedQuestion]) -> dict[str, AgentAnswer]:
    """missed id -> the most informative agent message after that question in its conversation (handed-off
    chats): the one with most substance (:func:`informativeness`), never a greeting; none if all are filler."""
    with_msg = [m for m in items if m.message_id and m.conversation_id]
    if not with_msg:
        return {}
    seqs = dict(session.execute(
        select(Message.id, Message.seq).where(Message.id.in_([m.message_id for m in with_msg]))
    ).all())
    conv_ids = sorted({m.conversation_id for m in with_msg if m.conversation_id})
    replies: dict[str, list[tuple[int, str, str | None, str | None]]] = {}
    for conv_id, seq, text, lang, author in session.execute(
        select(Message.conversation_id, Message.seq, Message.text, Message.lang, Message.author_name)
        .where(Message.conversation_id.in_(conv_ids), Message.role == "agent")
        .order_by(Message.conversation_id, Message.seq)
    ).all():
        replies.setdefault(conv_id, []).append((seq, text, lang, author))
    out: dict[str, AgentAnswer] = {}
    for m in with_msg:
        seq = seqs.get(m.message_id)
        if seq is None or m.conversation_id is None:
            continue
        later = [r for r in replies.get(m.conversation_id, []) if r[0] > seq and informativeness(r[1])]
        # Most substance first; among equals the earliest (it answered the question, later ones follow up).
        reply = max(later, key=lambda r: (informativeness(r[1]), -r[0]), default=None)
        if reply is not None:
            out[m.id] = AgentAnswer(lang=reply[2] or m.lang, text=reply[1], agent=reply[3],
                                    conversation_id=m.conversation_id)
    return out


# ---------------------------------------------------------------------------------------------- editor actions
def missed_groups(session: Session, embed: Any | None, search: Any | None = None,
                  threshold: float = GROUP_THRESHOLD, status: str = "open") -> list[dict[str, Any]]:
    """Open missed questions grouped by meaning across languages, biggest groups first.

    ``embed(texts) -> unit vectors`` (the engine's embedder); without one, identical texts group together.
    ``search(vector) -> (faq_id, score) | None`` suggests the existing entry closest to each group.
    """
    rows = session.scalars(
        select(MissedQuestion).where(MissedQuestion.status == status)
        .order_by(MissedQuestion.created_at.desc()).limit(MAX_OPEN_FOR_GROUPING)
    ).all()
    if not rows:
        return []
    if embed is not None:
        vectors = np.asarray(embed([m.text for m in rows]), dtype=np.float32)
        groups = cluster(vectors, threshold)
    else:
        vectors: np.ndarray | None = None
        by_text: dict[str, list[int]] = {}
        for i, m in enumerate(rows):
            by_text.setdefault(C.fold(m.text), []).append(i)
        groups = list(by_text.values())
    answers = agent_answers_for(session, rows)
    out: list[MissedGroup] = []
    for members in groups:
        items = [rows[i] for i in members]
        group = MissedGroup(id=items[0].id, items=items)
        seen: set[str] = set()
        for m in items:
            a = answers.get(m.id)
            if a is not None and a.text not in seen:
                seen.add(a.text)
                group.agent_answers.append(a)
        group.agent_answers.sort(key=lambda a: -informativeness(a.text))  # the draft-worthy one first
        if search is not None and vectors is not None:
            centroid = vectors[members].mean(axis=0)
            centroid /= max(float((centroid**2).sum()) ** 0.5, 1e-12)
            found = search(centroid)
            if found is not None:
                group.suggested_entry = {"id": found[0], "score": round(float(found[1]), 4)}
        out.append(group)
    out.sort(key=lambda g: (-len(g.items), -max(m.created_at.timestamp() for m in g.items)))
    return [g.to_json() for g in out]


def _open_missed(session: Session, missed_ids: Iterable[str]) -> list[MissedQuestion]:
    ids = list(dict.fromkeys(missed_ids))
    if not ids:
        raise Invalid("no missed questions given")
    rows = session.scalars(select(MissedQuestion).where(MissedQuestion.id.in_(ids))).all()
    if len(rows) != len(ids):
        raise NotFound("some of these missed questions do not exist")
    return sorted(rows, key=lambda m: m.created_at)


def _resolve(rows: Sequence[MissedQuestion], actor: Actor, status: str, entry_id: str | None) -> None:
    now = utcnow()
    for m in rows:
        m.status, m.resolved_entry_id, m.resolved_by, m.resolved_at = status, entry_id, actor.username, now


def _questions_by_lang(rows: Sequence[MissedQuestion]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in rows:
        lang = m.lang if m.lang and m.lang != "und" else "en"
        out.setdefault(lang, []).append(m.text)
    return {lang: C.clean_questions(qs) for lang, qs in out.items()}


def missed_to_entry(session: Session, actor: Actor, missed_ids: Sequence[str], entry_id: object, topic: object,
                    answers: Mapping[str, str] | None = None) -> KbEntry:
    """A new draft entry whose questions are the missed ones (per language); answers: given ones, else what an
    agent replied in that language in one of the handed-off conversations, else empty (to write)."""
    rows = _open_missed(session, missed_ids)
    questions = _questions_by_lang(rows)
    agent = agent_answers_for(session, rows)
    drafts: dict[str, str] = {}
    # Per language the most informative agent reply of the group (never a greeting: agent_answers_for).
    for a in sorted(agent.values(), key=lambda a: -informativeness(a.text)):
        drafts.setdefault(a.lang, a.text)
    given = {k: v.strip() for k, v in (answers or {}).items() if isinstance(v, str) and v.strip()}
    locales = {
        lang: {"answer": given.get(lang) or drafts.get(lang) or "", "questions": qs}
        for lang, qs in questions.items()
    }
    for lang, text in given.items():
        locales.setdefault(lang, {"answer": text, "questions": []})
    row = create_entry(session, actor, entry_id, topic, locales, action="created_from_missed")
    _resolve(rows, actor, "resolved", row.id)
    return row


def missed_to_variants(session: Session, actor: Actor, missed_ids: Sequence[str], entry_id: str,
                       expected_version: int | None) -> KbEntry:
    """Add the missed questions as question variants of an existing entry (its working copy)."""
    rows = _open_missed(session, missed_ids)
    row = add_questions(session, actor, entry_id, expected_version, _questions_by_lang(rows))
    _resolve(rows, actor, "resolved", row.id)
    return row


def dismiss_missed(session: Session, actor: Actor, missed_ids: Sequence[str]) -> int:
    rows = _open_missed(session, missed_ids)
    _resolve(rows, actor, "dismissed", None)
    return len(rows)
