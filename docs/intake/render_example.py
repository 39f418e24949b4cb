"""Render an example donation slip (French) to docs/intake/slip-page-first.png and slip-page-last.png.

Usage: .venv/bin/python docs/intake/render_example.py   (needs poppler-utils: pdftoppm)

A scratch database, fictitious organisations with their legal identity, a batch of 40 devices imported from a
spreadsheet with the donor's inventory numbers, collected, received (one missing, declared lost), closed.
"""
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sqlalchemy import select  # noqa: E402

from asset_tracker import create_app  # noqa: E402
from asset_tracker.core import Actor  # noqa: E402
from asset_tracker.db import clock  # noqa: E402
from asset_tracker.devices.models import Device  # noqa: E402
from asset_tracker.extensions import db  # noqa: E402
from asset_tracker.intake import services as intake  # noqa: E402
from asset_tracker.intake.slip import slip_pdf  # noqa: E402
from asset_tracker.organisations import services as organisations  # noqa: E402
from tests import factories  # noqa: E402

UTC = dt.timezone.utc
OUT = ROOT / "docs" / "intake"
KINDS = ["portable", "portable", "unité centrale", "tablette", "téléphone"]
MODELS = ["Lenovo;ThinkPad T480", "Dell;Latitude 5490", "HP;ProDesk 600 G4", "Samsung;Galaxy Tab A7",
          "Samsung;Galaxy A52"]

app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite:///" + tempfile.mkdtemp() + "/example.db")
with app.app_context():
    from flask_migrate import upgrade
    upgrade()
    with app.test_request_context("/"):
        orgs = factories.make_organisations()
        users = factories.make_users(orgs)
        admin, donor, tech = (Actor.of(users[r]) for r in ("admin", "donor", "technician"))
        organisations.update_organisation(orgs["donor"].id, {
            "legal_name": "Ville de Lyon (exemple)", "address": "1 place de la Comédie\n69001 Lyon",
            "siret": "00034567800015", "legal_nature": "local_authority",
            "donation_legal_basis": "Cession gratuite de matériels informatiques réformés dont la valeur unitaire "
                                    "n'excède pas le plafond fixé par décret, en vue de leur réemploi.",
            "donation_legal_basis_ref": "CG3P, art. L3212-2, 2° et D3212-3"}, actor=admin)
        organisations.update_organisation(orgs["workshop"].id, {
            "legal_name": "Weeefund — atelier de reconditionnement (exemple)",
            "address": "12 rue de l'Atelier\n69100 Villeurbanne", "siret": "00078901200010",
            "legal_nature": "association"}, actor=admin)
        clock.frozen = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        batch = intake.create_batch(actor=donor, name="Ville de Lyon — collecte de novembre 2026",
                                    declared_counts={"laptop": 16, "desktop": 8, "tablet": 8, "phone": 8},
                                    disposal_decision_ref="Décision du maire n° 2026-1187",
                                    disposal_decision_date=dt.date(2026, 11, 3),
                                    donor_signatory_name="Hélène Martin",
                                    donor_signatory_title="Directrice de l'administration générale")
        lines = ["Type;Marque;Modèle;Numéro de série;IMEI;Valeur unitaire (€);N° d'inventaire du donateur"]
        for i in range(40):
            lines.append(f"{KINDS[i % 5]};{MODELS[i % 5]};EX{26000 + i * 7};;{(50, 80, 120)[i % 3]};"
                         f"VDL-INV-{2019 + i % 4}-{i:04d}")
        intake.import_file(batch.id, ("\r\n".join(lines) + "\r\n").encode(), actor=donor, filename="parc.csv")
        intake.update_batch(batch.id, {"workshop_signatory_name": "Théo Martin",
                                       "workshop_signatory_title": "Responsable d'atelier"}, actor=tech)
        clock.frozen = dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
        intake.collect_batch(batch.id, actor=tech)
        devices = db.session.scalars(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)).all()
        for d in devices[:-1]:
            intake.receive_device(d.tag, actor=tech, batch_id=batch.id)
        intake.explain(batch.id, devices[-1].tag, actor=tech, note="Absent de la palette", declare_lost=True)
        clock.frozen = dt.datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
        rec = intake.close_batch(batch.id, actor=tech, note="Un téléphone absent de la palette, déclaré perdu.")
        pdf = slip_pdf(rec, "fr")
        clock.frozen = None
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "slip.pdf"
    path.write_bytes(pdf)
    pages = int(next(line.split()[-1] for line in subprocess.run(["pdfinfo", str(path)], capture_output=True,
                                                                  text=True).stdout.splitlines()
                     if line.startswith("Pages:")))
    for name, page in (("first", 1), ("last", pages)):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(path),
                        str(OUT / f"slip-page-{name}")], check=True)
print(f"{pages} pages: docs/intake/slip-page-first.png, docs/intake/slip-page-last.png")
