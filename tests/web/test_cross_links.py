"""Where things are: a device links to its batch, its audit history and its hand-over; the batch page shows its
wipe certificate and how many devices are wiped with evidence."""
import re

from asset_tracker.core import Actor
from asset_tracker.wiping import services as wiping


def test_demo_device_page_links_batch_audit_history_and_hand_over(app, client, db):
    from sqlalchemy import select

    from asset_tracker.demo import DEMO_PASSWORD, load_demo
    from asset_tracker.devices.models import Device
    from asset_tracker.distribution.models import Handover
    from asset_tracker.intake.models import Batch
    from tests.conftest import csrf_token

    assert load_demo(30)
    handover = db.session.scalars(select(Handover).order_by(Handover.id)).first()
    device = db.session.get(Device, handover.device_id)
    batch = db.session.get(Batch, device.batch_id)

    def sign_in(email):
        client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
        assert client.post("/login", data={"email": email, "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_token(client)}).status_code == 302

    sign_in("admin@demo.reboot.example")
    page = client.get(f"/devices/{device.tag}").get_data(as_text=True)
    assert f'<a href="/batches/{batch.id}">' in page and batch.name.split(" — ")[0] in page
    assert f'href="/audit/devices/{device.tag}"' in page
    assert f'href="/distribution/handovers/{handover.id}"' in page
    audit = client.get(f"/audit/devices/{device.tag}").get_data(as_text=True)
    assert f'href="/devices/{device.tag}"' in audit and f'href="/batches/{batch.id}"' in audit
    assert f'href="/batches/{batch.id}"' in client.get(f"/audit/batches/{batch.id}").get_data(as_text=True)
    record = client.get(f"/distribution/handovers/{handover.id}").get_data(as_text=True)
    assert f'href="/devices/{device.tag}"' in record

    sign_in(users_of(db, handover.partner_organisation_id).email)
    page = client.get(f"/devices/{device.tag}").get_data(as_text=True)
    assert f'href="/distribution/handovers/{handover.id}/receipt.pdf"' in page
    assert "/audit/devices/" not in page


def users_of(db, organisation_id):
    from sqlalchemy import select

    from asset_tracker.auth.models import User

    return db.session.scalars(select(User).where(User.organisation_id == organisation_id)).first()


def test_the_batch_page_shows_its_certificate_and_devices_wiped_with_evidence(app, client, db):
    from sqlalchemy import select

    from asset_tracker.demo import DEMO_PASSWORD, load_demo
    from asset_tracker.intake.models import Batch
    from asset_tracker.organisations.models import Organisation
    from tests.conftest import csrf_token

    load_demo(30)
    caf = db.session.scalar(select(Organisation).where(Organisation.name == "CAF du Rhône"))
    batch = db.session.scalars(select(Batch).where(Batch.donor_organisation_id == caf.id).order_by(Batch.id)).first()
    summary = wiping.batch_wipe_summary(batch.id, actor=Actor.system("test"))
    assert client.post("/login", data={"email": "donateur@demo.reboot.example", "password": DEMO_PASSWORD,
                                       "csrf_token": csrf_token(client)}).status_code == 302
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert f'href="/api/v1/batches/{batch.id}/wipe-certificate.pdf"' in page
    assert re.search(rf"{summary['with_evidence']} appareils? sur {summary['devices']} effacés? avec preuve", page)
    assert 0 < summary["with_evidence"] <= summary["devices"]
