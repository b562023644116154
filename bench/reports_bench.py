"""Reports over 100k synthetic conversations: overview and CSV streaming on SQLite and PostgreSQL.

Fills ``report_conversations`` (the projection the reports read) with N synthetic conversations spread over 90
days, 15 languages and every outcome (bot-resolved, handed off with agent reply and resolution, rated, reopened),
plus missed questions for ``top_missed``; then prints, per backend:

- ``overview`` over the whole 90 days (every figure, by language, 7x24 grid in Europe/Madrid): median and max of
  ``--repeat`` runs, in seconds (the issue's target: <= 1 s), and the median CPU time of this process (on SQLite
  that includes the SQL; on PostgreSQL the server's work is not in it);
- the CSV of all N rows streamed through ``stream_csv`` (what ``GET /api/reports/conversations.csv`` sends):
  seconds, MiB written, and the Python heap peak (tracemalloc) at N/10 rows and at N rows: flat memory means
  the two peaks are about equal.

PostgreSQL runs in a throwaway cluster from Debian's binaries (skipped without them).

    python bench/reports_bench.py [--n 100000] [--repeat 5] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import REPO, markdown_table

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bot.db import migrate  # noqa: E402
from bot.db.session import Database  # noqa: E402
from bot.editor.models import MissedQuestion  # noqa: E402
from bot.reports import service  # noqa: E402
from bot.reports.csv_export import stream_csv  # noqa: E402
from bot.reports.models import ReportConversation  # noqa: E402

LANGS = ["en", "es", "fr", "de", "pt", "it", "nl", "zh", "ja", "ko", "ru", "ar", "lv", "pl", "tr"]
REASONS = ["human_request", "low_confidence", "complaint_urgent", "repeated_unresolved", "engine_error"]
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90


def synthetic(n: int, seed: int = 7) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rng = random.Random(seed)
    rows, missed = [], []
    t0 = START.timestamp()
    for i in range(n):
        started = t0 + rng.random() * DAYS * 86400
        handed = rng.random() < 0.3
        decisions = 0 if rng.random() < 0.05 else rng.randint(1, 4)
        row: dict[str, object] = {
            "conversation_id": f"c{i:08d}", "store_key": "demo", "lang": rng.choice(LANGS), "started_at": started,
            "bot_decisions": decisions, "first_intent": "faq_question", "first_topic": rng.choice(["orders", "returns",
                                                                                                 "shipping", None]),
            "handoffs": 1 if handed else 0, "handoff_reason": rng.choice(REASONS) if handed else None,
            "handoff_at": started + 30 if handed else None, "agent_id": 1 if handed else None,
            "first_reply_at": started + 30 + rng.expovariate(1 / 120) if handed else None,
            "resolved_at": started + rng.expovariate(1 / 900) if handed else None,
            "reopened_at": started + 86400 if rng.random() < 0.02 else None,
            "rating": rng.randint(1, 5) if rng.random() < 0.25 else None,
        }
        rows.append(row)
        if rng.random() < 0.05:
            missed.append({"conversation_id": row["conversation_id"], "text": f"question {rng.randint(1, 300)}",
                           "lang": row["lang"], "reason": "clarify", "status": "open"})
    return rows, missed


def fill(db: Database, n: int) -> None:
    rows, missed = synthetic(n)
    with db.session() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(ReportConversation.__table__.insert(), rows[start:start + 10_000])
        now = datetime.now(UTC)
        for m in missed:
            m.update(id=m["conversation_id"], created_at=now)
        session.execute(MissedQuestion.__table__.insert(), missed)


def measure(db: Database, n: int, repeat: int) -> list[object]:
    period = service.Period.parse(START.date().isoformat(), (START + timedelta(days=DAYS)).date().isoformat(),
                                  "Europe/Madrid")
    times, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        with db.read() as session:
            out = service.overview(session, period)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    assert out["conversations"] == n, out["conversations"]

    def stream(limit: int, traced: bool) -> tuple[float, float, int]:
        if traced:  # tracemalloc slows Python several times: timings come from an untraced run
            tracemalloc.start()
        began = time.perf_counter()
        size = 0
        with db.read() as session:
            for chunk in stream_csv(service.conversation_rows(session, period, limit=limit)):
                size += len(chunk)
        elapsed = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
        tracemalloc.stop()
        return elapsed, peak, size

    _, small_peak, _ = stream(n // 10, traced=True)
    _, big_peak, _ = stream(n, traced=True)
    csv_s, _, size = stream(n, traced=False)
    return [round(statistics.median(times), 3), round(max(times), 3), round(statistics.median(cpu), 3),
            round(csv_s, 2), round(size / 2**20, 1),
            round(small_peak, 1), round(big_peak, 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    table = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            tmp = Path(tempfile.mkdtemp(prefix="reports-bench-"))
            db = Database(f"sqlite:///{tmp / 'bench.db'}")
            cluster = None
        else:
            from chat_support import PostgresCluster, pg_bin_dir

            bin_dir = pg_bin_dir()
            if bin_dir is None:
                print("postgresql: no binaries, skipped", file=sys.stderr)
                continue
            cluster = PostgresCluster(bin_dir)
            cluster.start()
            db = Database(cluster.create_database("reports_bench"))
        try:
            migrate.upgrade(db.engine)
            began = time.perf_counter()
            fill(db, args.n)
            print(f"{backend}: {args.n} conversations written in {time.perf_counter() - began:.1f}s",
                  file=sys.stderr)
            table.append([backend, args.n, *measure(db, args.n, args.repeat)])
        finally:
            db.dispose()
            if cluster is not None:
                cluster.stop()
    print(markdown_table(["backend", "conversations", "overview p50 s", "overview max s",
                          "overview CPU s (this process)", "CSV s", "CSV MiB",
                          f"CSV heap peak MiB ({args.n // 10} rows)", f"CSV heap peak MiB ({args.n} rows)"], table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
