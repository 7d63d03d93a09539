"""The driver page in a real headless browser: Debian's chromium driven by Playwright
(pointed at the system executable; ``playwright install`` is never run). Opens the link
from the notifier, submits, sees it stored, edits, opts out."""

from __future__ import annotations

import os
import shutil
from typing import Any

import httpx
import pytest

from tests.http.helpers import driver_csms, meter_16, start_16, station_16
from tests.plugins.csms import MakeCsms

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.slow


async def _request(app: Any, token: str) -> Any:
    async with httpx.AsyncClient(base_url=app.http_url) as http:
        return (await http.get(f"/api/v1/driver/sessions/{token}")).json()["request"]


@pytest.fixture
async def browser() -> Any:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it with apt-get)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield b
        finally:
            await b.close()


async def test_driver_uses_the_page_on_a_phone(make_csms: MakeCsms, browser: Any) -> None:
    app, _clock, notifier = await driver_csms(make_csms)  # page times in UTC; now 10:00
    st = await station_16(app)
    tx_id = await start_16(st, meter_wh=0)
    notice = await notifier.next_notice()
    await meter_16(st, tx_id, 2500)

    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()
    await page.goto(notice.link)
    assert await page.locator("#energy").inner_text() == "2.5 kWh"
    assert "charging as usual" in await page.locator("#request").inner_text()

    # a departure in the past: refused, naming the field, nothing stored
    await page.fill("#departure", "2026-07-01T09:00")
    await page.fill("#amount", "12")
    await page.click("#save")
    assert "Departure" in await page.locator("#error").inner_text()
    assert await page.get_attribute("#departure", "aria-invalid") == "true"
    assert await _request(app, notice.token) is None

    await page.fill("#departure", "2026-07-01T16:30")
    await page.fill("#amount", "12")
    await page.click("#save")
    await page.locator("#saved").wait_for()
    stored = await _request(app, notice.token)
    assert stored["energy_kwh"] == 12 and stored["departure_at"] == "2026-07-01T16:30:00Z"
    assert "12.0 kWh by" in await page.locator("#request").inner_text()

    # edit: miles instead of kWh, later departure (the form shows the stored request)
    assert await page.input_value("#departure") == "2026-07-01T16:30"
    await page.fill("#departure", "2026-07-01T18:00")
    await page.fill("#amount", "40")
    await page.select_option("#unit", "miles")
    await page.click("#save")
    await page.locator("#saved").wait_for()
    stored = await _request(app, notice.token)
    assert stored["revision"] == 2 and stored["distance_miles"] == 40
    assert stored["energy_kwh"] == 12.0

    await page.click("#opt-out")
    await page.locator("#saved").wait_for()
    assert "opted out" in await page.locator("#request").inner_text()
    stored = await _request(app, notice.token)
    assert stored["opt_out"] is True and stored["revision"] == 3
    await context.close()
    await st.close()
