"""The Maria Casarès scenario in a real browser: 19 laptops reserved for the collège, handed over to 19 pupils
with a 4G key each and receipts printed; one comes back without its charger, is received at the workshop
and refused at "wiped"/"ready" until it is wiped again."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from asset_tracker.core import Actor, imei_checksum_ok
from asset_tracker.devices import services as devices
from asset_tracker.distribution.models import AccessoryStatus, Handover, HandoverItem
from asset_tracker.lifecycle import State
from tests import factories

from .conftest import axe_check, login_as, screenshot, settle

PUPILS = 19


def imei(n: int) -> str:
    base = f"35{n:012d}"
    return next(base + str(d) for d in range(10) if imei_checksum_ok(base + str(d)))


def submit(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")


def step(page, live_server, tag: str, target: str, **fields) -> None:
    """Press the device page's button for ``target`` (filling the step's inputs)."""
    page.goto(f"{live_server}/devices/{tag}")
    form = f"form:has(input[name=target][value={target}])"
    for name, value in fields.items():
        el = page.locator(f"{form} [name={name}]")
        if el.evaluate("e => e.tagName") == "SELECT":
            el.select_option(value)
        else:
            el.fill(value)
    submit(page, form)


def test_maria_casares_from_reservation_to_rewipe(db, orgs, users, live_server, page):
    college = orgs["partner_b"]
    college.beneficiary_ref_pattern = r"^MC-[0-9]{4}$"
    db.session.commit()
    laptops = [factories.make_device(orgs, users, State.READY) for _ in range(PUPILS)]
    tags = {d.tag for d in laptops}
    factories.make_device(orgs, users, State.READY, type="tablet")  # not for the collège
    settle()

    # The collège's coordinator reserves 19 laptops.
    login_as(page, live_server, users["coordinator_b"])
    page.goto(f"{live_server}/distribution/reserve")
    axe_check(page)
    page.select_option("#f-programme", str(orgs["programme"].id))
    page.fill("#f-count", str(PUPILS))
    page.select_option("#f-type", "laptop")
    submit(page, "#reserve-form")
    assert page.url.endswith("/distribution/")
    reserved_rows = page.locator("a[href*='/distribution/handover/']")
    assert reserved_rows.count() == PUPILS
    axe_check(page)
    screenshot(page, "distribution-reserved")

    # Hand-over to 19 pupils, each with a 4G key and a charger; every receipt downloaded.
    handover_ids = []
    for n, tag in enumerate(sorted(tags), start=1):
        page.goto(f"{live_server}/distribution/handover/{tag}")
        if n == 1:
            axe_check(page)
            # A name is refused, with an explanation, and nothing is recorded.
            page.fill("#f-beneficiary_ref", "Lina Benali")
            submit(page, "#handover-form")
            assert re.search(r"nom|name", page.content(), re.I)
            page.goto(f"{live_server}/distribution/handover/{tag}")
        page.fill("#f-beneficiary_ref", f"MC-{n:04d}")
        page.select_option("#f-beneficiary_category", "pupil")
        page.check("#add-mobile-key")
        page.fill("#f-key_imei", imei(n))
        page.fill("#f-key_iccid", factories.luhn_complete(f"89331503190{n:07d}"))
        page.check("#add-charger")
        submit(page, "#handover-form")
        assert "/distribution/handovers/" in page.url, page.content()[:2000]
        handover_ids.append(int(page.url.rstrip("/").split("/")[-1]))
        assert f"MC-{n:04d}" in page.content()
        with page.expect_download() as info:
            page.click("a[href$='receipt.pdf']")
        with open(info.value.path(), "rb") as f:
            assert f.read(5) == b"%PDF-"
    if True:
        axe_check(page)
        screenshot(page, "distribution-handover-detail")
    settle()
    assert db.session.scalar(select(func.count()).select_from(Handover)) == PUPILS
    assert db.session.scalar(select(func.count()).select_from(HandoverItem)) == 2 * PUPILS

    # One pupil gives the laptop back without its charger.
    first = handover_ids[0]
    page.goto(f"{live_server}/distribution/handovers/{first}")
    page.click(f"a[href$='/handovers/{first}/return']")
    page.fill("#f-reason", "départ du collège")
    charger_box = page.locator("label:has-text('Chargeur'), label:has-text('Charger')").first
    charger_box.click()
    submit(page, "#return-form")
    settle()
    h = db.session.get(Handover, first)
    db.session.refresh(h)
    tag = devices.get_device(h.device_id, actor=Actor.system()).tag
    assert devices.get_device(tag, actor=Actor.system()).state == State.RETURNED
    missing = [i for i in h.items if i.returned is False]
    assert [i.accessory.kind.value for i in missing] == ["charger"]
    assert missing[0].accessory.status == AccessoryStatus.LOST
    page.goto(f"{live_server}/distribution/")
    axe_check(page)

    # The workshop receives it by scanning/pressing "received", and cannot get it ready before a new wipe.
    page.context.clear_cookies()
    login_as(page, live_server, users["technician"])
    step(page, live_server, tag, "received")
    step(page, live_server, tag, "diagnosed", verdict="refurbish")
    step(page, live_server, tag, "wiped")
    settle()
    device = devices.get_device(tag, actor=Actor.system())
    assert device.state == State.DIAGNOSED  # refused: no wipe since it came back
    assert re.search(r"effac|wipe", page.content(), re.I)
    factories.wipe_all(device, Actor.of(users["technician"]))
    settle()
    step(page, live_server, tag, "wiped")
    step(page, live_server, tag, "refurbished")
    step(page, live_server, tag, "ready", grade="B")
    settle()
    assert devices.get_device(tag, actor=Actor.system()).state == State.READY
