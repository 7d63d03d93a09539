"""The driver page over HTTP (form posts as a phone would send them, no browser)."""

from __future__ import annotations

import httpx

from tests.http.helpers import driver_csms, meter_16, start_16, station_16, stop_16
from tests.plugins.csms import MakeCsms


async def test_page_shows_edits_and_refuses_with_the_field(make_csms: MakeCsms) -> None:
    app, _clock, notifier = await driver_csms(
        make_csms, drivers={"timezone": "America/Los_Angeles"}
    )
    st = await station_16(app)
    tx_id = await start_16(st, meter_wh=0)
    token = (await notifier.next_notice()).token
    await meter_16(st, tx_id, 1234)
    async with httpx.AsyncClient(base_url=app.http_url) as http:
        page = await http.get(f"/r/{token}")
        assert page.status_code == 200
        assert 'name="viewport"' in page.text and "1.2 kWh" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert "none — charging as usual" in page.text

        # 10:00 UTC is 03:00 in Los Angeles: 02:00 local is in the past
        form = {"departure": "2026-07-01T02:00", "amount": "10", "unit": "kwh", "action": "save"}
        r = await http.post(f"/r/{token}", data=form)
        assert r.status_code == 422 and "Departure:" in r.text and "in the past" in r.text
        assert 'value="10"' in r.text  # what the driver typed is kept

        r = await http.post(
            f"/r/{token}", data={**form, "departure": "2026-07-01T09:30", "amount": "-2"}
        )
        assert r.status_code == 422 and "Energy:" in r.text

        r = await http.post(
            f"/r/{token}",
            data={**form, "departure": "2026-07-01T09:30", "amount": "30", "unit": "miles"},
        )
        assert r.status_code == 303 and r.headers["location"] == f"/r/{token}?saved=save"
        got = (await http.get(f"/api/v1/driver/sessions/{token}")).json()
        assert got["request"]["departure_at"] == "2026-07-01T16:30:00Z"
        assert got["request"]["energy_kwh"] == 9.0 and got["request"]["distance_miles"] == 30
        page = await http.get(f"/r/{token}?saved=save")
        assert (
            "Request saved" in page.text and "9.0 kWh (30 miles) by Wed 01 Jul, 09:30" in page.text
        )

        r = await http.post(f"/r/{token}", data={"action": "opt_out"})
        assert r.status_code == 303
        assert "opted out" in (await http.get(f"/r/{token}")).text

        assert (await http.get("/r/unknown-token")).status_code == 404
        await stop_16(st, tx_id, 5000)
        await app.registry["requests"].idle()  # type: ignore[attr-defined]
        page = await http.get(f"/r/{token}")
        assert page.status_code == 410 and "has ended" in page.text
        r = await http.post(f"/r/{token}", data=form)
        assert r.status_code == 410
    await st.close()
