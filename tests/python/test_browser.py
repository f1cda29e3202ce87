"""A real browser (Debian's Chromium via Playwright) against `booking-report serve`,
at a desktop width and on a phone (390 × 844)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import psycopg
import pytest
from helpers import CHROMIUM_ARGS, REPO, drop_database, fetchall
from playwright.sync_api import sync_playwright
from psycopg.rows import dict_row
from reportkit import built_database

from devtools.net import start_serve, stop_serve
from report.wording import percent, rate_with_denominator
from webauth import hash_password

# one module fixture (built once) serves every test here: one worker runs them
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def served(templates, target_dir, tmp_path_factory):
    target = tmp_path_factory.mktemp("browser-data")
    dsn = built_database(templates, target_dir, seed=13)
    proc, url = start_serve(dict(CALCOM_WEBHOOK_SECRETS="browser-secret",
                                 DATABASE_URL=dsn, BOOKING_REPORT_REQUIRE_LOGIN="1",
                                 BOOKING_REPORT_USER="owner",
                                 BOOKING_REPORT_PASSWORD_HASH=hash_password(PASSWORD),
                                 BOOKING_REPORT_DATA_DIR=str(target)),
                            args=("--host", "127.0.0.1"), statuses=(200,))
    try:
        yield url, dsn
    finally:
        stop_serve(proc)
        drop_database(dsn)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser, url, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(url + "/report")
    assert "/login" in page.url
    page.fill("#username", "owner")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/report.*"))
    return page


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def mart_row(dsn, iso_week, source="all"):
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute("select * from reporting.rpt_weekly_status"
                            " where iso_week = %s and lead_source = %s",
                            (iso_week, source)).fetchone()


def test_desktop_last_week_panels_and_small_samples(served, browser):
    url, dsn = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = signed_in(browser, url, {"width": 1280, "height": 900})
    assert page.locator("h2#headline-title").inner_text().startswith("Week 2026-W47")
    assert page.locator("#in-progress").count() == 0  # a complete week
    row = mart_row(dsn, "2026-W47")
    assert page.locator('[data-metric="book_rate"] .value').inner_text() == percent(
        row["book_rate"])
    basis = page.locator('[data-metric="book_rate"] .basis').inner_text()
    assert f"{row['booked_leads']} of {row['eligible_leads']} eligible leads" in basis
    # the two panels, each on its own week axis, equal the marts
    assert page.locator('#cohort [data-step="eligible"] .num').inner_text() == str(
        row["eligible_leads"])
    assert page.locator('#cohort [data-step="booked"] .num').inner_text() == str(
        row["booked_leads"])
    for step, column in (("scheduled", "meetings_scheduled"), ("completed", "completed_meetings"),
                         ("no_show", "no_shows"), ("host_no_show", "host_no_shows"),
                         ("upcoming", "upcoming_meetings")):
        assert page.locator(f'#meetings [data-step="{step}"] .num').inner_text() == str(
            row[column]), step
    assert page.locator('#meetings [data-step="unresolved"] .num').inner_text() == str(
        row["awaiting_outcome"] + row["needs_review"])
    # every rate in the breakdown says what it is out of; small ones are marked
    sources = page.locator("#sources tbody tr")
    assert sources.count() >= 3
    assert re.search(r"\d+% · \d+ of \d+", sources.first.inner_text())
    assert page.locator("#sources .small-sample").count() >= 1
    assert page.locator("svg.trend circle.small-sample").count() + page.locator(
        "svg.trend circle").count() >= 8
    assert no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "report-desktop.png"), full_page=False)
    # the breakdown by host names the hosts (private schema)
    page.click('a[data-by="host"]')
    page.wait_for_url(re.compile(r".*by=host.*"))
    assert "Hana Host" in page.locator("#sources").inner_text()


def test_the_week_in_progress_is_labelled_and_not_judged(served, browser):
    url, dsn = served
    page = signed_in(browser, url, {"width": 1280, "height": 900})
    options = page.locator("#week option").all_inner_texts()
    assert options[0].startswith("2026-W48") and "(so far)" in options[0]
    assert not any(o.startswith("2026-W49") for o in options)  # no future weeks
    page.select_option("#week", "2026-W48")
    page.click("header form button[type=submit]")
    page.wait_for_url(re.compile(r".*week=2026-W48.*"))
    banner = page.locator("#in-progress").inner_text()
    assert "week so far, 7 days left" in banner
    deltas = page.locator(".card .delta")
    assert deltas.count() >= 4
    for i in range(deltas.count()):
        assert "neutral" in deltas.nth(i).get_attribute("class")


def test_on_a_phone_nothing_is_cut_off_and_confirm_works(served, browser):
    url, dsn = served
    phone = signed_in(browser, url, {"width": 390, "height": 844})
    assert no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=False)
    form = phone.locator("#review form.confirm").first
    form.scroll_into_view_if_needed()
    button = form.locator("button[type=submit]")
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    booking_id = form.locator("input[name=booking_id]").get_attribute("value")
    item = fetchall(dsn, "select contact_name, start_at from reporting_private.review_queue"
                         " where booking_id = %s limit 1", (booking_id,))[0]
    # no outcome is chosen for the owner: submitting without one stays on the page
    button.click()
    time.sleep(0.5)
    assert "confirmed=" not in phone.url
    assert fetchall(dsn, "select count(*) from raw.manual_outcomes where booking_id = %s",
                    (booking_id,)) == [(0,)]
    form.locator("select[name=outcome]").select_option("no_show")
    form.locator("input[name=note]").fill("never joined, called twice")
    button.click()
    phone.wait_for_url(re.compile(r".*confirmed=.*"))
    message = phone.locator("#confirmed").inner_text()
    assert item[0] in message and "no-show" in message
    assert item[1].strftime("%b %d") in message
    assert no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "report-phone-confirmed.png"), full_page=False)
    # a wrong click can be taken back
    phone.click("#undo")
    phone.wait_for_url(re.compile(r".*confirmed=.*"))
    assert "confirmation undone" in phone.locator("#confirmed").inner_text()
    stored = fetchall(dsn, "select outcome, confirmed_by, note from raw.manual_outcomes"
                           " where booking_id = %s order by confirmation_id", (booking_id,))
    assert stored == [("no_show", "owner", "never joined, called twice"),
                      ("undone", "owner", None)]
    assert Path(ARTIFACTS / "report-phone.png").stat().st_size > 10_000
    # every rate on the page says how many cases it comes from
    text = phone.locator("main").inner_text()
    row = mart_row(dsn, "2026-W47")
    assert rate_with_denominator(row["no_shows"], row["completed_meetings"] + row["no_shows"]) \
        in text
