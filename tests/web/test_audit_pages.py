"""The auditor's pages: search, full timeline without beneficiary references, open custody, reconciliation, chain."""
import datetime as dt
import html

import pytest
from flask import current_app
from sqlalchemy import text

from asset_tracker.audit import services
from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from tests.audit_support import TriggersOff, rehash_from, signing_key  # noqa: F401
from tests.factories import handing_over, make_device


def test_an_auditor_finds_a_device_by_serial_or_imei_and_reads_its_timeline(client, login, orgs, users):
    device = make_device(orgs, users, "wiped", serial="PF-1Z2X3C", imei="490154203237518")
    login("auditor")
    for term in ("pf-1z2x3c", "490154203237518", device.tag):
        resp = client.get(f"/audit?q={term}")
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/audit/devices/{device.tag}")
    page = client.get(f"/audit/devices/{device.tag}").get_data(as_text=True)
    # registered, collected, received, diagnosed, wipe recorded, wiped: every event, not only state changes
    assert page.count('class="timeline__item') == 6
    assert 'id="event-' in page and "PF-1Z2X3C" in page and "490154203237518" in page


def test_the_timeline_never_shows_a_beneficiary_reference(client, login, orgs, users, db):
    from asset_tracker.distribution import services as distribution

    device = make_device(orgs, users, "ready")
    distribution.reserve_device(device.tag, actor=Actor.of(users["coordinator"]), programme_id=orgs["programme"].id,
                              partner_organisation_id=orgs["partner"].id)
    distribution.record_handover(device.tag, actor=Actor.of(users["coordinator"]), beneficiary_ref="MC-7731",
                               beneficiary_category="pupil", **handing_over())
    login("auditor")
    page = client.get(f"/audit/devices/{device.tag}").get_data(as_text=True)
    assert "MC-7731" not in page
    from asset_tracker.distribution.models import Handover

    digest = db.session.scalar(db.select(Handover.beneficiary_ref_hmac))
    assert digest and digest not in page
    # Named as hidden, not shown, in words rather than its raw key.
    assert "Référence du bénéficiaire (empreinte) : masqué (référence du bénéficiaire)" in html.unescape(page)
    assert "beneficiary_ref_hmac" not in page


def test_open_or_suspicious_custody_lists(client, login, orgs, users, db, frozen_clock):
    now = dt.datetime.now(dt.UTC)
    frozen_clock(now - dt.timedelta(days=10))
    stuck = make_device(orgs, users, "collected")
    frozen_clock(now)
    fresh = make_device(orgs, users, "collected")
    lost = make_device(orgs, users, "lost")
    unbatched = make_device(orgs, users, "received")
    wiped = make_device(orgs, users, "wiped")  # the factory records its wipe by hand: no evidence file
    login("auditor")
    expect = {"in_transit": {stuck.tag}, "lost": {lost.tag},
              "no_batch": {unbatched.tag, wiped.tag}, "no_evidence": {wiped.tag}}
    for kind, tags in expect.items():
        page = client.get(f"/audit/watch/{kind}").get_data(as_text=True)
        for tag in tags:
            assert tag in page, (kind, tag)
        assert fresh.tag not in page, kind
    counts = services.watch_counts(client.application.config["REMINDER_RULES"])
    assert counts == {"in_transit": 1, "lost": 1, "no_batch": 2, "no_evidence": 1}


def test_batch_reconciliation_shows_counts_discrepancies_and_outcomes(client, login, orgs, users, db):
    from asset_tracker.intake import services as intake

    donor = Actor.of(users["donor"])
    batch = intake.create_batch(actor=donor, name="CAF — mars", declared_counts={"laptop": 3})
    for n in range(2):
        intake.add_device(batch.id, actor=donor, type="laptop", brand="HP", model="ProBook", serial=f"CAF-{n}")
    login("auditor")
    page = client.get(f"/audit/batches/{batch.id}").get_data(as_text=True)
    assert "CAF — mars" in page
    tags = [d.tag for d in db.session.execute(db.select(Device).where(Device.batch_id == batch.id)).scalars()]
    assert all(tag in page for tag in tags)
    assert client.get("/audit/batches").status_code == 200


def test_chain_page_names_the_first_broken_link(client, login, orgs, users, db, signing_key):
    make_device(orgs, users, "received")
    services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    login("auditor")
    page = client.get("/audit/chain").get_data(as_text=True)
    assert "flash--success" in page and "flash--error" not in page
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'x' WHERE seq = 3"))
    page = client.get("/audit/chain").get_data(as_text=True)
    assert "#3" in page and "altered" in page


def test_chain_page_shows_a_rewrite_the_plain_chain_misses(client, login, orgs, users, db, signing_key):
    make_device(orgs, users, "received")
    cp = services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'x' WHERE seq = 3"))
    rehash_from(db, 3)
    login("auditor")
    page = client.get("/audit/chain").get_data(as_text=True)
    assert f"checkpoint #{cp.seq}" in page and "rewritten" in page


@pytest.mark.parametrize("role", ["donor", "technician", "coordinator"])
def test_audit_pages_are_for_auditors_and_admins(client, login, orgs, users, role):
    login(role)
    for path in ("/audit", "/audit/chain", "/audit/watch/lost", "/audit/exports", "/reports"):
        assert client.get(path).status_code == 403, path


def test_an_auditor_cannot_sign_a_checkpoint_from_the_page(client, login, orgs, users, signing_key):
    from tests.conftest import csrf_token

    make_device(orgs, users, "registered")
    login("auditor")
    token = csrf_token(client, "/audit/chain")
    assert client.post("/audit/checkpoints", data={"csrf_token": token}).status_code == 403
    assert services.list_checkpoints() == []
    client.post("/logout", data={"csrf_token": token})
    login("admin")
    token = csrf_token(client, "/audit/chain")
    assert client.post("/audit/checkpoints", data={"csrf_token": token}).status_code == 302
    assert len(services.list_checkpoints()) == 1


def test_exports_page_forms_with_empty_filters_download(client, login, orgs, users):
    make_device(orgs, users, "received")
    login("auditor")
    assert client.get("/audit/exports").status_code == 200
    resp = client.get("/api/v1/audit/devices.csv?state=&type=&donor=&programme=")
    assert resp.status_code == 200 and resp.get_data(as_text=True).count("\n") == 2
    resp = client.get("/api/v1/audit/events.csv?device=&since=&until=")
    assert resp.status_code == 200
