"""Generate (once) and cache the data the scale benchmark loads.

    .venv/bin/python bench/scale_data.py --leads 100000 [--cache /tmp/booking-report-scale]

Writes, under CACHE/<leads>/: ``history.jsonl`` (every delivery sent before the last
24 hours), ``day.jsonl`` (the last 24 hours), ``crm.csv`` (the CRM export) and
``meta.json`` (as_of and counts). The project's own scenario generator makes them, with
14 weeks of history (``--weeks N``: N weeks, cached under CACHE/w<N>/<leads>/); a second
run with the same size reuses the files.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from booking_report.demo.landing import crm_csv_text
from booking_report.demo.scenario import generate

AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)
WEEKS = 14
DEFAULT_CACHE = Path("/tmp/booking-report-scale")


def sent_at(body: bytes) -> datetime:
    stamp = json.loads(body).get("createdAt")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else AS_OF


def ensure(leads: int, cache: Path = DEFAULT_CACHE, weeks: int = WEEKS) -> Path:
    out = cache / str(leads) if weeks == WEEKS else cache / f"w{weeks}" / str(leads)
    if (out / "meta.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sc = generate(42, as_of=AS_OF, leads=leads, weeks=weeks)
    day_start = AS_OF - timedelta(days=1)
    n_history = n_day = 0
    with open(out / "history.jsonl", "wb") as history, open(out / "day.jsonl", "wb") as day:
        for body in sc.bodies:
            if sent_at(body) >= day_start:
                day.write(body + b"\n")
                n_day += 1
            else:
                history.write(body + b"\n")
                n_history += 1
    (out / "crm.csv").write_text(crm_csv_text(sc), encoding="utf-8")
    meta = {"leads": leads, "crm_rows": len(sc.leads), "as_of": AS_OF.isoformat(),
            "history_as_of": day_start.isoformat(), "history_events": n_history,
            "day_events": n_day, "weeks": weeks,
            "generated_in_s": round(time.perf_counter() - started, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, nargs="+", default=[10_000])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--weeks", type=int, default=WEEKS, help="weeks of history")
    args = parser.parse_args()
    for n in args.leads:
        path = ensure(n, args.cache, args.weeks)
        print(path, (path / "meta.json").read_text())


if __name__ == "__main__":
    main()
