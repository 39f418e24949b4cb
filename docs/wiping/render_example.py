"""Render example certificates (French) to docs/wiping/*.png from a scratch database.

Usage: .venv/bin/python docs/wiping/render_example.py [NWIPE_SAMPLES_DIR]
"""
import datetime as dt, sys, tempfile
from pathlib import Path
SAMPLES = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/samples/nwipe")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import pypdfium2 as pdfium
from asset_tracker import create_app
from asset_tracker.extensions import db
from asset_tracker.db import clock
from asset_tracker.custody.services import Actor
from asset_tracker.lifecycle import State
from asset_tracker.devices import services as devices
from asset_tracker.intake import services as intake
from asset_tracker.wiping import services as wiping
from asset_tracker.wiping.certificates import batch_certificate_pdf, device_certificate_pdf
from tests import factories

UTC = dt.timezone.utc
app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite:///" + tempfile.mkdtemp() + "/example.db")
with app.app_context():
    from flask_migrate import upgrade
    upgrade()
    with app.test_request_context("/"):
        orgs = factories.make_organisations(); users = factories.make_users(orgs)
        tech = Actor.of(users["technician"])
        clock.frozen = dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
        batch = intake.create_batch(actor=tech, name="CAF du Rhône — collecte de novembre 2026",
                                    donor_organisation_id=orgs["donor"].id, workshop_organisation_id=orgs["workshop"].id,
                                    pickup_date=dt.date(2026, 11, 24))
        made = []
        for i, media in enumerate([1, 2, 1, 0, 1]):
            d = factories.make_device(orgs, users, State.DIAGNOSED, media=media)
            d.batch_id = batch.id; made.append(d)
        db.session.commit()
        clock.frozen = dt.datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
        a, b, c, e, f = made
        log = Path(SAMPLES / "nwipe-zero-1disk.log").read_bytes()
        flog = Path(SAMPLES / "nwipe-readonly-fail.log").read_bytes()
        files = [("nwipe-zero-1disk.log", log), ("nwipe-readonly-fail.log", flog)]
        plan = wiping.plan_nwipe_import(files, actor=tech)
        keys = {p.filename: p.key for p in plan.disks}
        wiping.import_nwipe(files, actor=tech, assignments={keys["nwipe-zero-1disk.log"]: a.media[0].id,
                                                           keys["nwipe-readonly-fail.log"]: c.media[0].id})
        now = clock.frozen
        wiping.record_wipe(b, b.media[0].id, actor=tech, result="passed", method="Sanitize Crypto Erase (ATA/SCSI/NVMe)",
                           nist_category="purge", tool="nwipe", tool_version="0.35", passes=1,
                           verification="all passes: verified", started_at=now - dt.timedelta(minutes=30), ended_at=now - dt.timedelta(minutes=28))
        wiping.record_destruction(b.tag, b.media[1].id, actor=tech, method="shred", destroyed_at=now - dt.timedelta(minutes=10),
                                  tool="Broyeur HSM Powerline", reference="DESTR-2026-0118")
        wiping.state_no_media(e, actor=tech, note="Tablette sans stockage amovible, vérifiée")
        for d in (a, b, e):
            devices.transition(d.tag, State.WIPED, actor=tech)
        batch_, evidence = wiping.certificate_for_batch(batch.id, actor=Actor.of(users["donor"]))
        pdf = batch_certificate_pdf(batch_, evidence, chain_head=wiping.chain_head(), lang="fr")
        dev_pdf = device_certificate_pdf(wiping.certificate_for_device(b.tag, actor=tech), workshop_name="Weeefund",
                                         chain_head=wiping.chain_head(), lang="fr")
out = ROOT / "docs" / "wiping"
out.mkdir(parents=True, exist_ok=True)
for name, data in (("batch-certificate", pdf), ("device-certificate", dev_pdf)):
    pass
    page = pdfium.PdfDocument(data)[0]
    page.render(scale=1.6).to_pil().save(out / f"{name}.png")
    print(name, len(pdfium.PdfDocument(data)), "pages")
