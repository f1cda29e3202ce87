"""A real browser (Debian's Chromium via Playwright) against `booking-report serve`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, drop_database, fetchall
from playwright.sync_api import sync_playwright
from psycopg.rows import dict_row
from reportkit import built_database

from report.data import fmt_rate
from webauth import hash_password

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    target = tmp_path_factory.mktemp("dbt-browser")
    dsn = built_database(target, seed=13)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=dsn, CALCOM_WEBHOOK_SECRETS="browser-secret",
               BOOKING_REPORT_REQUIRE_LOGIN="1", BOOKING_REPORT_USER="owner",
               BOOKING_REPORT_PASSWORD_HASH=hash_password("correct horse battery"),
               BOOKING_REPORT_DATA_DIR=str(target))
    proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", "serve", "--host",
                             "127.0.0.1", "--port", str(port)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(proc.stdout.read().decode()) from None
                time.sleep(0.2)
        yield url, dsn
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        drop_database(dsn)


def test_owner_logs_in_reads_the_week_and_confirms_an_outcome(served):
    url, dsn = served
    ARTIFACTS.mkdir(exist_ok=True)
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        row = conn.execute("select * from reporting.rpt_weekly_status"
                           " where iso_week = '2026-W47' and lead_source = 'all'").fetchone()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/report")
            assert "/login" in page.url
            page.fill("#username", "owner")
            page.fill("#password", "correct horse battery")
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/report.*"))
            assert page.locator("h2#headline-title").inner_text().startswith("Week 2026-W47")
            book = page.locator('[data-metric="book_rate"] .value').inner_text()
            no_show = page.locator('[data-metric="no_show_rate"] .value').inner_text()
            assert book == fmt_rate(row["book_rate"])
            assert no_show == fmt_rate(row["no_show_rate"])
            chart = page.locator("svg.trend")
            assert chart.is_visible()
            assert chart.locator("circle.point-book_rate").count() >= 8
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100
            first = page.locator("#review-queue form.confirm").first
            booking_id = first.locator("input[name=booking_id]").get_attribute("value")
            first.locator("select[name=outcome]").select_option("completed")
            first.locator("input[name=note]").fill("attended, confirmed by phone")
            first.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r".*confirmed=.*"))
            assert page.locator(f'[data-pending="{booking_id}"]').is_visible()
            page.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            phone.goto(url + "/report")
            phone.screenshot(path=str(ARTIFACTS / "report-phone.png"))
        finally:
            browser.close()
    stored = fetchall(dsn, "select outcome, confirmed_by, note from raw.manual_outcomes"
                           " where booking_id = %s", (booking_id,))
    assert stored == [("completed", "owner", "attended, confirmed by phone")]
    assert Path(ARTIFACTS / "report-page.png").stat().st_size > 10_000
