"""Incremental refresh is exact: after every append, the incremental marts equal a full
refresh of the same data (docs/decisions/incremental.md).

Two databases receive the same random sequence of appends (webhook bodies in shuffled
chunks, CRM snapshots, Cal.com API snapshots, owner confirmations) with an as_of that
moves forward, and sometimes back. After each append, database A refreshes
incrementally and database B rebuilds everything; every staged, intermediate and mart
table must hold the same rows. The sequences are random but seeded, so a failure
replays.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from helpers import SCHEMAS, create_database, drop_database, fetchall
from oracle import mismatches

from booking_report.demo.landing import crm_csv_text, load_manual_outcomes, store_bodies
from booking_report.demo.scenario import generate
from booking_report.demo.standin import StandinServer, create_standin
from booking_report.refresh import refresh
from booking_report.selection import TRACKED_SOURCES, unchanged_sources
from booking_report.transform import run_dbt
from ingest.calcom_api import CalcomApi
from ingest.calcom_sync import sync
from ingest.crm import prepare_rows, write_snapshot, zone
from ingest.db import init_db
from ingest.store import parse_body, store_event

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)
KEY = "cal_live_test_incremental_0123"
# bookkeeping of the batches themselves, not data: the log and every scope table
# (int_changed_*: what one batch touched; int_replaced_*: the old values of the rows it
# replaced; both empty in a full build)
NOT_COMPARED_PREFIXES = ("int_refresh_log", "int_changed_", "int_replaced_")



def table_rows(dsn: str) -> dict[str, list[str]]:
    """Every table and view of the project's schemas, rows as sorted JSON (batch
    numbers, staging stamps and build times left out: they say when a row was written,
    not what it holds)."""
    out: dict[str, list[str]] = {}
    with psycopg.connect(dsn) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) order by 1, 2", (list(SCHEMAS),)).fetchall()
        for schema, name in relations:
            if name.startswith(NOT_COMPARED_PREFIXES):
                continue
            rows = conn.execute(
                f"select (to_jsonb(t) - 'batch_no' - 'staged_xmin' - 'built_at')::text"
                f' from "{schema}"."{name}" as t').fetchall()
            out[f"{schema}.{name}"] = sorted(r[0] for r in rows)
    return out


def differences(a: dict[str, list[str]], b: dict[str, list[str]]) -> list[str]:
    problems = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{name}: only in {'incremental' if name in a else 'full'}")
            continue
        only_a = sorted(set(a[name]) - set(b[name]))
        only_b = sorted(set(b[name]) - set(a[name]))
        if only_a or only_b or len(a[name]) != len(b[name]):
            problems.append(f"{name}: {len(a[name])} rows incremental, {len(b[name])} full; "
                            f"incremental only: {only_a[:2]}; full only: {only_b[:2]}")
    return problems


def assert_equals_full_build(incremental: str, full: str, *, as_of: str, variables: dict,
                             target_dir: Path, label: str) -> None:
    """Rebuild `full` from scratch as of `as_of` and require every compared table of
    `incremental` to hold the same rows."""
    b = refresh(full, as_of=as_of, variables=variables, full_refresh=True,
                target_dir=target_dir)
    assert b.build.success, b.build.failures
    problems = differences(table_rows(incremental), table_rows(full))
    assert problems == [], f"{label}:\n" + "\n".join(problems)


def crm_snapshot(dsn: str, text: str, snapshot_at: datetime, name: str) -> None:
    reader = csv.DictReader(io.StringIO(text))
    rows = prepare_rows(list(reader.fieldnames or []), list(reader), mapping={},
                        tz=zone("UTC"), where=name)
    with psycopg.connect(dsn) as conn:
        write_snapshot(conn, rows, name, snapshot_at=snapshot_at)


def churned_crm(sc, rng: random.Random) -> str:
    """An earlier view of the CRM: some statuses not caught up yet, some emails
    different, some leads missing."""
    rows = [dict(r) for r in sc.crm_rows() if rng.random() < 0.85]
    for row in rows:
        roll = rng.random()
        if roll < 0.3:
            row["booking_status"] = rng.choice(["Link sent", "Meeting Booked", "", "Showed"])
            row["updated_at"] = ""
        elif roll < 0.4:
            row["email"] = f"old.{row['lead_id'].lower()}@example.com"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(sc.crm_rows()[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def sync_from_standin(dsn: str, sc) -> None:
    """The real sync against the stand-in Cal.com API serving the scenario's bookings."""
    with StandinServer(create_standin(sc.api_bookings, api_key=KEY)) as standin:
        sync(dsn, CalcomApi(standin.url, KEY, "2026-05-01", sleep=lambda s: None),
             now=lambda: AS_OF)


def plan(seed: int, sc, *, crm_churn: bool) -> list[dict]:
    """A random sequence of 4 appends; each step: what lands, then the as_of."""
    rng = random.Random(seed)
    bodies = list(sc.bodies)
    rng.shuffle(bodies)
    cuts = sorted(rng.sample(range(1, len(bodies)), 3))
    chunks = [bodies[a:b] for a, b in zip([0, *cuts], [*cuts, len(bodies)], strict=True)]
    steps = [{"bodies": chunk, "crm": [], "api": False, "manual": False} for chunk in chunks]
    # the as_of of each step: forward in time, and one step back now and then
    as_ofs = sorted(AS_OF - timedelta(hours=rng.uniform(0, 96)) for _ in range(3)) + [AS_OF]
    if rng.random() < 0.6:
        back = rng.randrange(1, 3)
        as_ofs[back] = as_ofs[back - 1] - timedelta(hours=rng.uniform(1, 30))
    for step, as_of in zip(steps, as_ofs, strict=True):
        step["as_of"] = as_of
    final_crm = rng.randrange(4)
    steps[final_crm]["crm"].append(("final", sc.snapshot_at))
    if crm_churn:
        early = rng.randrange(final_crm + 1)
        steps[early]["crm"].insert(0, ("churn", sc.snapshot_at - timedelta(days=3)))
        # a snapshot older than one already applied: those leads are rebuilt from history
        late = rng.randrange(final_crm, 4)
        steps[late]["crm"].append(("churn", sc.snapshot_at - timedelta(days=5)))
    steps[rng.randrange(4)]["api"] = True
    steps[rng.randrange(4)]["manual"] = True
    return steps


def store_received(dsn: str, bodies) -> None:
    """Store ``bodies`` as the receiver would, all received at the same time in every
    database a test compares (after every send time: shuffled chunks hold bodies of any
    age)."""
    store_bodies(dsn, bodies)
    with psycopg.connect(dsn) as conn:
        conn.execute("update raw.calcom_webhook_events set received_at = %s"
                     " where received_at > now() - interval '10 minutes'",
                     (AS_OF - timedelta(minutes=5),))


def apply(dsn: str, sc, step: dict, rng: random.Random, churn_texts: dict) -> None:
    store_received(dsn, step["bodies"])
    for kind, snapshot_at in step["crm"]:
        text = crm_csv_text(sc) if kind == "final" else churn_texts.setdefault(
            snapshot_at, churned_crm(sc, rng))
        crm_snapshot(dsn, text, snapshot_at, f"{kind}.csv")
    if step["api"]:
        sync_from_standin(dsn, sc)
    if step["manual"]:
        load_manual_outcomes(dsn, sc)


@pytest.mark.parametrize("seed,crm_churn", [(101, False), (202, True)])
def test_incremental_refreshes_equal_a_full_refresh(seed, crm_churn, target_dir):
    sc = generate(seed, as_of=AS_OF, leads=160, weeks=6, lossy=0.3)
    steps = plan(seed, sc, crm_churn=crm_churn)
    variables = {"api_sync_configured": True}
    incremental, full = create_database("brincr"), create_database("brfull")
    churn_texts: dict = {}
    try:
        for dsn in (incremental, full):
            init_db(dsn)
        for number, step in enumerate(steps, start=1):
            for dsn in (incremental, full):
                apply(dsn, sc, step, random.Random(seed * 31 + number), churn_texts)
            as_of = step["as_of"].isoformat()
            # "Refresh now"'s way, only what changed, in every batch of one sequence and
            # every other batch of the other (booking_report/selection.py)
            only_changed = crm_churn or number % 2 == 0
            a = refresh(incremental, as_of=as_of, variables=variables,
                        target_dir=target_dir / "incremental", only_changed=only_changed)
            assert a.build.success, a.build.failures
            assert (a.full_reason is None) == (number > 1), a.full_reason
            assert (a.only_changed is not None) == (only_changed and number > 1)
            assert_equals_full_build(incremental, full, as_of=as_of, variables=variables,
                                     target_dir=target_dir / "full",
                                     label=f"step {number} (as_of {as_of})")
        # the batches were incremental, and they did change something each time
        log = fetchall(incremental, "select batch_no, was_full_refresh"
                                    " from booking_intermediate.int_refresh_log order by 1")
        assert log == [(1, True), (2, False), (3, False), (4, False)]
        # the partial indexes `feed_problems` reads by (macros/incremental.sql,
        # partial_index): exactly one per table after a first build and incremental
        # batches, and after full rebuilds that each replaced a table holding one
        for dsn in (incremental, full):
            partial = fetchall(dsn, "select class.relname, pg_get_expr(ix.indpred, ix.indrelid)"
                                    " from pg_index as ix"
                                    " join pg_class as class on class.oid = ix.indrelid"
                                    " join pg_namespace as ns on ns.oid = class.relnamespace"
                                    " where ix.indpred is not null and ns.nspname = any(%s)"
                                    " order by 1", (list(SCHEMAS),))
            assert partial == [("fct_bookings", "(slot_problem IS NOT NULL)"),
                               ("int_webhook_events_checked", "(feed_problem IS NOT NULL)")]
        if not crm_churn:
            # the CRM's last word is the export the truth knows: the oracle holds too
            problems = mismatches(incremental, sc.expected(synced=True))
            assert problems == [], "\n".join(problems[:30])
    finally:
        drop_database(incremental)
        drop_database(full)


def test_a_disagreement_crossing_the_grace_period_alone(target_dir):
    """No new data between refreshes, only as_of moving across one disagreement's grace
    period (in flight, then a gap, then in flight again): the incremental review queue
    and gaps must follow, though nothing of the lead changed (macros/incremental.sql,
    crossed_grace). A lead with no chain at all is picked, so no clock crossing
    touches it."""
    sc = generate(303, as_of=AS_OF, leads=160, weeks=6, lossy=0.3)
    variables = {"api_sync_configured": True}
    incremental, full = create_database("brgrace"), create_database("brgracefull")
    try:
        for dsn in (incremental, full):
            init_db(dsn)
            store_received(dsn, sc.bodies)
            crm_snapshot(dsn, crm_csv_text(sc), sc.snapshot_at, "final.csv")
        first = refresh(incremental, as_of=AS_OF.isoformat(), variables=variables,
                        target_dir=target_dir / "grace")
        assert first.build.success, first.build.failures
        candidates = fetchall(
            incremental, "select lead_id, detected_at"
                         " from booking_intermediate.int_reconciliation_candidates"
                         " where gap_type = 'calcom_missing_booking'"
                         " and detected_at is not null order by detected_at desc, lead_id")
        assert candidates, "the scenario has no lead the CRM calls booked without a chain"
        lead_id, detected_at = candidates[0]
        grace = timedelta(minutes=60)  # crm_sync_grace_minutes in dbt_project.yml
        item = f"calcom_missing_booking:{lead_id}"
        for as_of, is_gap, only_changed in [(detected_at + grace / 2, False, True),
                                            (detected_at + 2 * grace, True, False),
                                            (detected_at + grace / 4, False, True)]:
            a = refresh(incremental, as_of=as_of.isoformat(), variables=variables,
                        target_dir=target_dir / "grace", only_changed=only_changed)
            assert a.build.success and a.full_reason is None, (a.full_reason,
                                                               a.build.failures)
            assert_equals_full_build(incremental, full, as_of=as_of.isoformat(),
                                     variables=variables, target_dir=target_dir / "gracefull",
                                     label=f"as_of {as_of}")
            listed = fetchall(incremental, "select count(*) from reporting_private.review_queue"
                                           " where review_item_id = %s", (item,))
            assert listed == [(int(is_gap),)], (as_of, listed)
    finally:
        drop_database(incremental)
        drop_database(full)


def staged_and_raw_ids(dsn: str) -> tuple[list[int], list[int]]:
    staged = [r[0] for r in fetchall(
        dsn, "select event_id from booking_staging.stg_calcom__webhook_events order by 1")]
    raw = [r[0] for r in fetchall(
        dsn, "select event_id from raw.calcom_webhook_events order by 1")]
    return staged, raw


def test_a_body_committed_after_a_refresh_read_the_table_is_staged_by_the_next(target_dir):
    """The staging step finds new bodies by the inserting transaction's id, not by a
    "greater than the last staged id" watermark (macros/incremental.sql,
    not_staged_yet): a body whose transaction took its id first but commits after a
    refresh, while a later body is staged, must be staged by the next refresh. And when
    the stamps are above every transaction id of the server (a restore into another
    cluster), new bodies are still found, by their keys."""
    sc = generate(404, as_of=AS_OF, leads=40, weeks=3, lossy=0.0)
    bodies = list(sc.bodies)
    dsn = create_database("brlate")
    run = target_dir / "late"
    try:
        init_db(dsn)
        store_bodies(dsn, bodies[:-3])
        first = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert first.build.success, first.build.failures
        # no CRM export loaded: the refresh's freshness check says so (the bodies
        # were received just now)
        assert first.build.stale_sources == ["crm.crm_snapshots (warn)"]
        staged, raw = staged_and_raw_ids(dsn)
        assert staged == raw

        with psycopg.connect(dsn) as slow:  # takes its id first, commits last
            slow.execute("select 1")  # a transaction open: store_event's is a savepoint
            late = store_event(slow, bodies[-3], parse_body(bodies[-3]),
                               webhook_version="2021-10-20", secret_index=0,
                               source="webhook")
            assert late.status == "stored"
            store_bodies(dsn, [bodies[-2]])
            middle = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
            assert middle.build.success and middle.full_reason is None, middle.full_reason
            staged, raw = staged_and_raw_ids(dsn)
            assert staged == raw and late.event_id not in staged
            assert late.event_id < max(staged)
            slow.commit()

        again = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert again.build.success and again.full_reason is None
        staged, raw = staged_and_raw_ids(dsn)
        assert late.event_id in staged and staged == raw

        # stamps from a cluster further on than this one: no transaction id of this
        # server reaches them, so only the key finds the next body
        with psycopg.connect(dsn) as conn:
            conn.execute("update booking_staging.stg_calcom__webhook_events"
                         " set staged_xmin = cast(cast(pg_snapshot_xmin(pg_current_snapshot())"
                         " as text)::bigint + 1000000000 as text)::xid8")
        store_bodies(dsn, [bodies[-1]])
        restored = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert restored.build.success and restored.full_reason is None
        staged, raw = staged_and_raw_ids(dsn)
        assert staged == raw
    finally:
        drop_database(dsn)


def analyze_counts(dsn: str) -> dict[str, int]:
    """ANALYZE runs per table of the project's schemas, by table oid (a table that a
    build re-creates gets a new oid and starts again)."""
    return {f"{schema}.{name}:{oid}": count for oid, schema, name, count in fetchall(
        dsn, "select relid, schemaname, relname, analyze_count from pg_stat_user_tables"
             " where schemaname = any(%s)", (list(SCHEMAS),))}


def test_the_refresh_after_a_full_build_analyzes_only_what_changed(target_dir):
    """A full build analyzes every table in the transaction that filled it, and
    Postgres then counts all of its rows as "changed since the last analyze": the next
    refresh must not analyze them all again (macros/incremental.sql,
    analyze_if_stale). A batch that changes more than a tenth of a table is still
    analyzed, in the refresh that writes it. The same refreshes show two more savings
    of every refresh: the constant time spine is not rebuilt (but is when it is
    missing), and dbt's file log is kept at info."""
    sc = generate(505, as_of=AS_OF, leads=1500, weeks=4, lossy=0.0)
    more = generate(606, as_of=AS_OF, leads=1500, weeks=4, lossy=0.0)
    dsn = create_database("branalyze")
    run = target_dir / "analyze"
    try:
        init_db(dsn)
        store_bodies(dsn, sc.bodies)
        crm_snapshot(dsn, crm_csv_text(sc), sc.snapshot_at, "crm.csv")
        first = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert first.build.success, first.build.failures
        staged = "booking_staging.stg_calcom__webhook_events"
        rows = fetchall(dsn, f"select count(*) from {staged}")[0][0]
        assert rows > 1200, rows  # above the 1,000-row floor of the rule
        before = analyze_counts(dsn)

        spine = "reporting.metricflow_time_spine"
        spine_oid = fetchall(dsn, "select to_regclass(%s)::oid", (spine,))[0][0]
        quiet = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert quiet.build.success and quiet.full_reason is None
        after = analyze_counts(dsn)
        # the constant time spine is left as it was (not re-created: same oid)
        assert fetchall(dsn, "select to_regclass(%s)::oid", (spine,))[0][0] == spine_oid
        assert quiet.build.count("model") == first.build.count("model") - 1
        # dbt's file log keeps each node's result, not every statement's SQL
        log = (run / "logs" / "dbt.log").read_text()
        assert "[info ]" in log and "1 of " in log and "[debug]" not in log, log[-2000:]
        seed_dir = Path(__file__).resolve().parents[2] / "seeds"
        seeds = {f"{path.stem}:" for path in seed_dir.glob("*.csv")}
        # the booked weeks of the slots in the clock window (the last 24 h) are counted
        # again, and in this 4-week history they hold most of that table's rows: their
        # deletes and inserts pass the rule's threshold, its reason to analyze
        recounted = "booking_intermediate.int_weekly_booking_counts"
        rewritten, total = fetchall(
            dsn, f"select count(*) filter (where booked_week in (select booked_week from"
                 f" booking_intermediate.int_replaced_fact_weeks)), count(*) from {recounted}")[0]
        assert 2 * rewritten > 0.1 * total + 1000, (rewritten, total)
        again = sorted(key for key, count in after.items()  # a seed is reloaded: analyzed
                       if key in before and count > before[key]
                       and not any(seed in key for seed in seeds)
                       and not key.startswith(recounted + ":"))
        assert again == [], f"analyzed again with nothing new: {again}"

        added = store_bodies(dsn, more.bodies)
        assert added > 0.1 * rows + 1000, (added, rows)
        with psycopg.connect(dsn, autocommit=True) as conn:  # a spine lost is built again
            conn.execute(f"drop table {spine}")
        grown = refresh(dsn, as_of=AS_OF.isoformat(), target_dir=run)
        assert grown.build.success and grown.full_reason is None
        assert fetchall(dsn, f"select count(*), min(date_day), max(date_day) from {spine}"
                        )[0] == (9497, date(2015, 1, 1), date(2040, 12, 31))
        final = analyze_counts(dsn)
        key = next(k for k in after if k.startswith(staged + ":"))
        assert final[key] == after[key] + 1, (after[key], final[key])
    finally:
        drop_database(dsn)


def iso_week(stamp: str) -> tuple[int, int]:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).isocalendar()[:2]


@pytest.mark.parametrize("fail_first", [False, True], ids=["one-refresh-per-batch",
                                                   "after-a-failed-build"])
def test_weekly_counts_follow_a_chain_and_a_lead_into_another_week(target_dir, fail_first):
    """The weekly counts are counted again only for the weeks a batch touched
    (macros/incremental.sql, touched_booked_weeks / touched_lead_weeks). A row that
    moves to another week must leave its old week too, which only the old row knows:
    `int_replaced_*_weeks` read it before the marts change. Here a booking's first
    event to arrive is its cancellation (its booked week is then the cancellation's),
    and its creation, from an earlier week, lands in the next batch; and the CRM moves a
    lead's creation date back by two weeks. Each batch, incremental, must equal a full
    rebuild. `fail_first`: the second batch's build first fails after the facts and
    leads were rewritten (both weekly counts refuse their insert), and the refresh
    after it, which finds those rows already moved, must still count the old weeks
    again (kept until the batch is logged)."""
    sc = generate(707, as_of=AS_OF, leads=200, weeks=6, lossy=0.0)
    events: dict[str, dict[str, bytes]] = {}
    for body in sc.bodies:
        parsed = json.loads(body)
        uid = (parsed.get("payload") or {}).get("uid")
        if uid and "seatsPerTimeSlot" not in parsed["payload"]:  # a booking, not a seat
            events.setdefault(uid, {})[parsed["triggerEvent"]] = body
    created = next(
        by_trigger["BOOKING_CREATED"] for by_trigger in events.values()
        if {"BOOKING_CREATED", "BOOKING_CANCELLED"} <= set(by_trigger) and len(by_trigger) == 2
        and iso_week(json.loads(by_trigger["BOOKING_CREATED"])["createdAt"])
        != iso_week(json.loads(by_trigger["BOOKING_CANCELLED"])["createdAt"]))
    first = [body for body in sc.bodies if body != created]
    moved_crm = crm_csv_text(sc).splitlines()
    header = moved_crm[0].split(",")
    row = moved_crm[1].split(",")
    created_at = datetime.fromisoformat(row[header.index("created_at")].replace("Z", "+00:00"))
    row[header.index("created_at")] = (created_at - timedelta(days=14)).isoformat()
    moved_crm[1] = ",".join(row)
    moved_lead = row[header.index("lead_id")]
    variables = {"api_sync_configured": False}
    incremental, full = create_database("brweeks"), create_database("brweeksfull")
    try:
        steps = [(first, [("final.csv", crm_csv_text(sc), sc.snapshot_at)]),
                 ([created], [("moved.csv", "\n".join(moved_crm) + "\n",
                               sc.snapshot_at + timedelta(hours=1))])]
        for number, (bodies, exports) in enumerate(steps):
            for dsn in (incremental, full):
                init_db(dsn)
                store_received(dsn, bodies)
                for name, text, snapshot_at in exports:
                    crm_snapshot(dsn, text, snapshot_at, name)
            if fail_first and number > 0:
                counts = ("booking_intermediate.int_weekly_booking_counts",
                          "booking_intermediate.int_weekly_lead_counts")
                with psycopg.connect(incremental) as conn:
                    for table in counts:
                        conn.execute(f"alter table {table} add constraint refuse_rows"
                                     " check (false) not valid")
                failed = refresh(incremental, as_of=AS_OF.isoformat(), variables=variables,
                                 target_dir=target_dir / "weeks")
                assert not failed.build.success
                assert fetchall(incremental, "select lead_created_at from reporting.dim_leads"
                                             " where lead_id = %s", (moved_lead,)
                                ) == [(created_at - timedelta(days=14),)]
                with psycopg.connect(incremental) as conn:
                    for table in counts:
                        conn.execute(f"alter table {table} drop constraint refuse_rows")
            # after the failed build, only what changed: the rows that build staged
            # count as changed (booking_report/selection.py)
            a = refresh(incremental, as_of=AS_OF.isoformat(), variables=variables,
                        target_dir=target_dir / "weeks", only_changed=fail_first)
            assert a.build.success, a.build.failures
            assert (a.full_reason is None) == (number > 0), a.full_reason
            assert_equals_full_build(incremental, full, as_of=AS_OF.isoformat(),
                                     variables=variables, target_dir=target_dir / "weeksfull",
                                     label=f"step {number}")
        # the moves happened: the lead's week is two weeks earlier, and the booking's
        # booked week is its creation's
        week = fetchall(incremental, "select lead_created_at from reporting.dim_leads"
                                     " where lead_id = %s", (moved_lead,))[0][0]
        assert week == created_at - timedelta(days=14)
        uid = json.loads(created)["payload"]["uid"]
        booked = fetchall(incremental, "select booked_at from reporting.fct_bookings"
                                       " where booking_id = %s", (uid,))[0][0]
        assert booked.isocalendar()[:2] == iso_week(json.loads(created)["createdAt"])
        # the lead's old week was read before dim_leads changed (UTC weeks, from Monday)
        old_week = created_at.date() - timedelta(days=created_at.weekday())
        replaced = {r[0] for r in fetchall(
            incremental, "select lead_created_week from"
                         " booking_intermediate.int_replaced_lead_weeks")}
        assert old_week in replaced, (old_week, replaced)
        # the relation of facts to leads is checked for the batch's leads: a lead of the
        # batch taken out of dim_leads fails the data test
        lead = fetchall(incremental, "select changed.lead_id"
                                     " from booking_intermediate.int_changed_leads as changed"
                                     " join reporting.fct_bookings as facts using (lead_id)"
                                     " order by 1 limit 1")[0][0]
        check = ["test", "--select", "assert_fact_leads_are_in_dim_leads"]
        assert run_dbt(incremental, check, target_dir=target_dir / "weeks").success
        with psycopg.connect(incremental) as conn:
            conn.execute("delete from reporting.dim_leads where lead_id = %s", (lead,))
        assert not run_dbt(incremental, check, target_dir=target_dir / "weeks").success
    finally:
        drop_database(incremental)
        drop_database(full)


def models_run(run: Path) -> set[str]:
    """The models the last build in `run` ran (its run_results.json)."""
    results = json.loads((run / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1] for r in results
            if r["unique_id"].startswith("model.")}


def unchanged(dsn: str) -> set[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        last = conn.execute("select coalesce(max(batch_no), 0)"
                            " from booking_intermediate.int_refresh_log").fetchone()[0]
        return unchanged_sources(conn, raw_schema="raw", staging_schema="booking_staging",
                                 last_batch=last)


def test_only_what_changed_runs_and_rows_a_failed_build_staged_still_count(target_dir):
    """"Refresh now" runs only the models whose result can change
    (booking_report/selection.py): with nothing new, the clock's models and what follows
    from them, not the staging of raw tables with nothing new; new webhook bodies bring
    their path, a CRM export its own. Rows staged by a build that then failed still
    count as changed, so the next refresh runs their path. After each, the marts equal
    a full rebuild."""
    sc = generate(808, as_of=AS_OF, leads=120, weeks=5, lossy=0.2)
    cut = len(sc.bodies) * 3 // 4
    variables = {"api_sync_configured": False}
    tracked = set(TRACKED_SOURCES)
    webhooks, api = ("calcom", "calcom_webhook_events"), ("calcom", "calcom_api_bookings")
    incremental, full = create_database("bronly"), create_database("bronlyfull")
    run, full_run = target_dir / "only", target_dir / "onlyfull"

    def land(bodies, export: str | None = None) -> None:
        for dsn in (incremental, full):
            init_db(dsn)
            store_received(dsn, bodies)
            if export:
                crm_snapshot(dsn, crm_csv_text(sc), sc.snapshot_at + timedelta(
                    hours=len(export)), export)

    try:
        land(sc.bodies[:cut], "final.csv")
        first = refresh(incremental, as_of=(AS_OF - timedelta(hours=2)).isoformat(),
                        variables=variables, target_dir=run)
        assert first.build.success, first.build.failures
        assert unchanged(incremental) == tracked
        # nothing new, the clock moves
        as_of = (AS_OF - timedelta(hours=1)).isoformat()
        quiet = refresh(incremental, as_of=as_of, variables=variables, target_dir=run,
                        only_changed=True)
        assert quiet.build.success, quiet.build.failures
        ran = models_run(run)
        assert quiet.only_changed is not None and quiet.only_changed[0] == len(ran)
        assert len(ran) < quiet.only_changed[1]
        assert not ran & {"stg_calcom__webhook_events", "stg_calcom__event_attendees",
                          "stg_calcom__api_bookings", "stg_crm__snapshots", "int_crm_leads",
                          "int_booking_chains"}, ran
        assert {"int_booking_outcomes", "feed_health", "rpt_weekly_status",
                "int_refresh_log"} <= ran
        assert_equals_full_build(incremental, full, as_of=as_of, variables=variables,
                                 target_dir=full_run, label="the clock alone")
        # new bodies: their path changed, the CRM's and the API's did not
        land(sc.bodies[cut:])
        assert unchanged(incremental) == tracked - {webhooks}
        # a build that fails after staging them: they still count as changed
        with psycopg.connect(incremental) as conn:
            conn.execute("alter table booking_intermediate.int_weekly_booking_counts"
                         " add constraint refuse_rows check (false) not valid")
        failed = refresh(incremental, as_of=AS_OF.isoformat(), variables=variables,
                         target_dir=run, only_changed=True)
        assert not failed.build.success
        assert "stg_calcom__webhook_events" in models_run(run)
        assert unchanged(incremental) == tracked - {webhooks}
        with psycopg.connect(incremental) as conn:
            conn.execute("alter table booking_intermediate.int_weekly_booking_counts"
                         " drop constraint refuse_rows")
        land([], "again.csv")  # and a CRM export
        assert unchanged(incremental) == {api}
        again = refresh(incremental, as_of=AS_OF.isoformat(), variables=variables,
                        target_dir=run, only_changed=True)
        assert again.build.success, again.build.failures
        ran = models_run(run)
        assert {"stg_calcom__webhook_events", "int_booking_chains", "stg_crm__snapshots",
                "int_crm_leads"} <= ran
        assert "stg_calcom__api_bookings" not in ran
        assert_equals_full_build(incremental, full, as_of=AS_OF.isoformat(),
                                 variables=variables, target_dir=full_run,
                                 label="after the failed build")
        assert unchanged(incremental) == tracked
    finally:
        drop_database(incremental)
        drop_database(full)
