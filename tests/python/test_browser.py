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
from reportkit import built_database, queue_ids

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


def _small_targets(page) -> list[str]:
    """Visible tap targets (links, buttons, selects, text fields, tip toggles) smaller
    than 44 × 44 CSS px."""
    return page.evaluate("""() => {
        const small = [];
        for (const el of document.querySelectorAll(
                'a[href], button, select, input[type=text], input[type=password], summary')) {
            const r = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
            if (r.width < 44 || r.height < 44)
                small.push(el.tagName + ' "' + (el.innerText || el.name || '').trim().slice(0, 30)
                           + '" ' + Math.round(r.width) + 'x' + Math.round(r.height));
        }
        return small;
    }""")


def _open_count(page) -> int:
    return int(re.match(r"\((\d+) meetings?", page.locator("#review-count").inner_text())[1])


def _in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return bool(box) and box["y"] >= -1 and box["y"] + min(box["height"], 100) <= 844 + 1


def test_on_a_phone_nothing_is_cut_off_and_confirm_works(served, browser):
    url, dsn = served
    phone = signed_in(browser, url, {"width": 390, "height": 844})
    phone.goto(url + "/report?week=2026-W47")
    assert no_horizontal_overflow(phone)
    assert _small_targets(phone) == []  # every tap target on the phone is ≥ 44 px
    phone.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=False)
    # the answer at the top counts what needs an answer and jumps to it
    jump = phone.locator("#answer a[href='#review']")
    open_before = _open_count(phone)
    week_ids = queue_ids(dsn, "2026-11-16", open_only=True)
    week_items = len(week_ids)
    assert open_before == week_items > 0
    assert jump.inner_text() == f"{week_items} meetings need your answer"
    jump.click()
    time.sleep(0.3)
    assert _in_view(phone, "#review-title")
    # every item of the week is listed (newest first), each with outcome buttons
    items = phone.locator("#review-queue > li")
    assert items.count() == week_items
    assert [items.nth(k).get_attribute("data-review") for k in range(items.count())] \
        == week_ids  # newest meeting first, each meeting once
    phone.screenshot(path=str(ARTIFACTS / "review-queue-phone.png"), full_page=False)
    form = phone.locator("#review form.confirm").first
    item = form.locator("xpath=ancestor::li")
    anchor = item.get_attribute("id")
    booking_id = form.locator("input[name=booking_id]").get_attribute("value")
    name = fetchall(dsn, "select contact_name from reporting_private.review_queue"
                         " where booking_id = %s limit 1", (booking_id,))[0][0]
    buttons = form.locator(".choices button")
    assert buttons.count() == 4
    for k in range(buttons.count()):
        box = buttons.nth(k).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    form.locator("input[name=note]").fill("never joined, called twice")
    form.locator(".choices button[value=no_show]").click()
    phone.wait_for_url(re.compile(f".*#{anchor}$"))
    # the row stays where it was, saved, with Undo beside it, in sight; it left the count
    row = phone.locator(f"#{anchor}")
    assert "Saved: no-show" in row.inner_text() and name in row.inner_text()
    assert row.locator("button.undo").is_visible()
    assert _in_view(phone, f"#{anchor}")
    assert _open_count(phone) == open_before - 1
    assert no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "report-phone-confirmed.png"), full_page=False)
    # a wrong tap can be taken back, in place
    row.locator("button.undo").click()
    phone.wait_for_url(re.compile(f".*#{anchor}$"))
    assert phone.locator(f"#{anchor} form.confirm").count() == 1
    assert _open_count(phone) == open_before
    stored = fetchall(dsn, "select outcome, confirmed_by, note from raw.manual_outcomes"
                           " where booking_id = %s order by confirmation_id", (booking_id,))
    assert stored == [("no_show", "owner", "never joined, called twice"),
                      ("undone", "owner", None)]
    # terms are explained on tap, not only on hover
    tip = phone.locator(".card[data-metric=no_show_rate] details.tip")
    tip.locator("summary").click()
    assert tip.locator("p").is_visible()
    assert "the attendee missed" in tip.locator("p").inner_text()
    assert Path(ARTIFACTS / "report-phone.png").stat().st_size > 10_000
    # every rate on the page says how many cases it comes from
    text = phone.locator("main").inner_text()
    row = mart_row(dsn, "2026-W47")
    assert rate_with_denominator(row["no_shows"], row["completed_meetings"] + row["no_shows"]) \
        in text
