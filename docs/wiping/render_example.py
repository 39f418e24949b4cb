"""Render example certificates (French) to docs/wiping/*.png from a scratch database, with pdftoppm.

Usage: .venv/bin/python docs/wiping/render_example.py
Uses the real nwipe logs of tests/fixtures/nwipe and a throw-away Ed25519 key (the seal is real).
"""
import datetime as dt
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from asset_tracker import create_app  # noqa: E402
from asset_tracker.audit import keys  # noqa: E402
from asset_tracker.core import Actor  # noqa: E402
from asset_tracker.db import clock  # noqa: E402
from asset_tracker.devices import services as devices  # noqa: E402
from asset_tracker.extensions import db  # noqa: E402
from asset_tracker.intake import services as intake  # noqa: E402
from asset_tracker.lifecycle import State  # noqa: E402
from asset_tracker.wiping import services as wiping  # noqa: E402
from asset_tracker.wiping.certificates import batch_certificate_pdf, device_certificate_pdf  # noqa: E402
from tests import factories  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "nwipe"
UTC = dt.timezone.utc
MiB = 2**20
scratch = Path(tempfile.mkdtemp())
key = keys.load_private(keys.generate(str(scratch / "key.pem"))[0])
app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{scratch}/example.db", WIPE_VERIFICATION_SHARE=0.0,
                 WIPE_CONFIDENTIALITY_BY_DONOR={"CAF du Rhône": "high"})


def log(name):
    return name, (SAMPLES / name).read_bytes()


def import_one(tech, name, medium, **kw):
    files = [log(name)]
    plan = wiping.plan_nwipe_import(files, actor=tech, timezone=kw.get("timezone"))
    overrides = {plan.disks[0].key: kw.pop("override")} if "override" in kw else None
    wiping.import_nwipe(files, actor=tech, assignments={plan.disks[0].key: medium.id}, overrides=overrides, **kw)


with app.app_context():
    from flask_migrate import upgrade

    upgrade()
    with app.test_request_context("/"):
        orgs = factories.make_organisations()
        users = factories.make_users(orgs)
        users["technician"].name, users["technician"].job_title = "Léa Martin", "Technicienne d'effacement"
        users["technician_b"].name, users["technician_b"].job_title = "Karim Haddad", "Responsable d'atelier"
        db.session.commit()
        tech, tech_b = Actor.of(users["technician"]), Actor.of(users["technician_b"])
        clock.frozen = dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
        batch = intake.create_batch(actor=tech, name="CAF du Rhône — collecte de décembre 2026",
                                    donor_organisation_id=orgs["donor"].id,
                                    workshop_organisation_id=orgs["workshop"].id, pickup_date=dt.date(2026, 12, 1))
        sizes = [64 * MiB, 500 * 10**9, 16 * MiB, 32 * MiB, None, 256 * 10**9]
        made = []
        for n, size in enumerate(sizes):
            d = factories.make_device(orgs, users, State.DIAGNOSED, media=0 if size is None else (2 if n == 1 else 1),
                                      capacity_bytes=size)
            d.batch_id = batch.id
            made.append(d)
        db.session.commit()
        clock.frozen = dt.datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
        a, b, c, g, e, f = made
        import_one(tech, "nwipe-prng-verified.log", a.media[0])
        now = clock.frozen
        wiping.record_wipe(b, b.media[0].id, actor=tech, result="passed", method="Sanitize Crypto Erase (ATA/SCSI/NVMe)",
                           nist_category="purge", tool="nwipe", tool_version="0.35", passes=1,
                           verification="all passes: verified", started_at=now - dt.timedelta(minutes=30),
                           ended_at=now - dt.timedelta(minutes=28))
        wiping.record_destruction(b.tag, b.media[1].id, actor=tech, method="shred",
                                  destroyed_at=now - dt.timedelta(minutes=10), tool="Broyeur HSM Powerline",
                                  reference="DESTR-2026-0118")
        import_one(tech, "nwipe-readonly-fail.log", c.media[0])
        import_one(tech, "nwipe-verify-off.log", g.media[0])
        wiping.state_no_media(e, actor=tech, note="Tablette sans stockage amovible, vérifiée")
        for d in (a, b, e):
            devices.transition(d.tag, State.WIPED, actor=tech)
        app.config["WIPE_VERIFICATION_SHARE"] = 1.0
        import_one(tech, "nwipe-utc-clock.log", f.media[0], timezone="UTC",
                   override="Capacité saisie au don erronée : le disque relevé fait 64 Mo (contrôlé à l'atelier)")
        devices.transition(f.tag, State.WIPED, actor=tech)
        wiping.verify_wipe(f.tag, actor=tech_b, confirmed=True, note="Relecture d'un échantillon de secteurs : zéros")
        batch_, evidence = wiping.certificate_for_batch(batch.id, actor=Actor.of(users["donor"]))
        pdfs = {
            "batch-certificate": batch_certificate_pdf(batch_, evidence, chain_head=wiping.chain_head(), lang="fr",
                                                       config=app.config, signing_key=key),
            "device-certificate": device_certificate_pdf(wiping.certificate_for_device(f.tag, actor=tech),
                                                         chain_head=wiping.chain_head(), lang="fr",
                                                         config=app.config, signing_key=key),
        }
out = ROOT / "docs" / "wiping"
out.mkdir(parents=True, exist_ok=True)
for old in out.glob("*-certificate*.png"):
    old.unlink()
for name, data in pdfs.items():
    pdf = scratch / f"{name}.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(out / name)], check=True)
    pages = sorted(out.glob(f"{name}-*.png"))
    if len(pages) == 1:  # one page: no page number in the name
        pages[0].rename(out / f"{name}.png")
    else:
        for p in pages:
            p.rename(out / re.sub(r"-0*(\d+)\.png$", r"-\1.png", p.name))
    check = subprocess.run([sys.executable, "-m", "asset_tracker.audit.verify_certificate", str(pdf),
                            keys.public_path(str(scratch / "key.pem"))], capture_output=True, text=True, cwd=ROOT)
    print(name, len(pages), "page(s);", check.stdout.strip().splitlines()[-1])
