"""Distribution at the service layer: reservations, kits, hand-over, return, re-wipe, erasure, recycling."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services as devices
from asset_tracker.distribution import services as dist
from asset_tracker.distribution.models import AccessoryStatus, Handover, Reservation
from asset_tracker.errors import Conflict, Invalid, NotFound
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from tests import factories
from tests.factories import handing_over


def actor(users, role):
    return Actor.of(users[role])


def last_event(device_id):
    from asset_tracker.extensions import db

    return db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id == device_id)
                              .order_by(CustodyEvent.seq.desc()).limit(1)).scalar_one()


def ready_laptops(orgs, users, n):
    return [factories.make_device(orgs, users, State.READY) for _ in range(n)]


def handed_over(orgs, users, ref="MC-0001", **kw):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)
    kw.setdefault("new_accessories", [{"kind": "charger"}, {"kind": "mobile_key", **factories.key_numbers()}])
    handover = dist.record_handover(device.tag, actor=actor(users, "coordinator_b"), beneficiary_ref=ref,
                                    beneficiary_category="pupil", **kw, **handing_over())
    return device, handover


def test_bulk_reservation_takes_ready_laptops_for_the_partner_and_writes_one_event_each(orgs, users):
    laptops = ready_laptops(orgs, users, 4)
    reservations = dist.reserve_bulk(actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id,
                                     count=3, type="laptop", grades=["B"])
    assert len(reservations) == 3
    reserved = [devices.get_device(r.device_id, actor=actor(users, "admin")) for r in reservations]
    assert {d.state for d in reserved} == {State.RESERVED}
    assert {d.partner_organisation_id for d in reserved} == {orgs["partner_b"].id}
    # Oldest stock first.
    assert [d.id for d in reserved] == [d.id for d in laptops[:3]]
    ev = last_event(reserved[0].id)
    assert ev.state_after == "reserved" and json.loads(ev.details)["reservation_id"] == reservations[0].id


def test_bulk_reservation_is_all_or_nothing_when_stock_is_short(orgs, users):
    ready_laptops(orgs, users, 2)
    with pytest.raises(Conflict) as exc:
        dist.reserve_bulk(actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id, count=3,
                          type="laptop")
    assert exc.value.code == "not_enough_stock"
    from asset_tracker.extensions import db
    assert db.session.scalar(select(Reservation.id)) is None


def test_a_partner_not_allowed_for_the_programme_cannot_reserve(orgs, users):
    from asset_tracker.extensions import db

    other = Organisation(name="CCAS de Vénissieux", kind=OrgKind.PARTNER)
    db.session.add(other)
    db.session.commit()
    device = factories.make_device(orgs, users, State.READY)
    with pytest.raises(Conflict) as exc:
        dist.reserve_device(device.tag, actor=actor(users, "technician"), programme_id=orgs["programme"].id,
                            partner_organisation_id=other.id)
    assert exc.value.code == "partner_not_allowed"
    assert devices.get_device(device.tag, actor=actor(users, "admin")).state == State.READY


def test_the_database_refuses_a_second_active_reservation_of_one_device(orgs, users, db):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "technician"), programme_id=orgs["programme"].id,
                        partner_organisation_id=orgs["partner"].id)
    db.session.add(Reservation(device_id=device.id, programme_id=orgs["programme"].id,
                               partner_organisation_id=orgs["partner_b"].id, active=True))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    # An ended reservation does not count.
    db.session.add(Reservation(device_id=device.id, programme_id=orgs["programme"].id,
                               partner_organisation_id=orgs["partner_b"].id, active=False, outcome="cancelled"))
    db.session.commit()


def test_cancelling_a_reservation_returns_the_device_to_stock(orgs, users):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator"), programme_id=orgs["programme"].id)
    dist.cancel_reservation(device.tag, actor=actor(users, "coordinator"))
    device = devices.get_device(device.tag, actor=actor(users, "admin"))
    assert device.state == State.READY and device.partner_organisation_id is None
    # ...and it can be reserved again, by another partner.
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)


@pytest.mark.parametrize("ref,code", [
    ("Lina Benali", "reference_is_name"), ("lina benali", "reference_is_name"), ("Benali", "reference_is_name"),
    ("lina.benali@example.org", "reference_is_email"), ("06 12 34 56 78", "reference_is_phone"),
    ("+33612345678", "reference_is_phone"), ("", "beneficiary_required"),
])
def test_a_hand_over_refuses_names_emails_and_phone_numbers(orgs, users, ref, code):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)
    with pytest.raises(Invalid) as exc:
        dist.record_handover(device.tag, actor=actor(users, "coordinator_b"), beneficiary_ref=ref,
                             beneficiary_category="pupil", **handing_over())
    assert exc.value.code == code
    assert devices.get_device(device.tag, actor=actor(users, "admin")).state == State.RESERVED


def test_a_hand_over_follows_the_partners_reference_pattern(orgs, users, db):
    orgs["partner_b"].beneficiary_ref_pattern = r"^MC-[0-9]{4}$"
    db.session.commit()
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)
    with pytest.raises(Invalid) as exc:
        dist.record_handover(device.tag, actor=actor(users, "coordinator_b"), beneficiary_ref="XY-12",
                             beneficiary_category="pupil", **handing_over())
    assert exc.value.code == "reference_pattern"
    h = dist.record_handover(device.tag, actor=actor(users, "coordinator_b"), beneficiary_ref="MC-0042",
                             beneficiary_category="pupil", **handing_over())
    assert h.beneficiary_ref == "MC-0042"


def test_hand_over_passes_custody_to_the_partner_and_the_chain_holds_only_a_keyed_hash(app, orgs, users):
    device, handover = handed_over(orgs, users, ref="MC-0007", loan=True,
                                   expected_return_on=dt.date.today() + dt.timedelta(days=300))
    device = devices.get_device(device.tag, actor=actor(users, "admin"))
    assert device.state == State.HANDED_OVER and device.custodian_organisation_id == orgs["partner_b"].id
    assert device.loan and device.expected_return_on == handover.expected_return_on
    ev = last_event(device.id)
    assert "MC-0007" not in ev.details
    details = json.loads(ev.details)
    from asset_tracker.distribution.references import reference_hmac
    assert details["beneficiary_ref_hmac"] == reference_hmac("MC-0007", app.config["BENEFICIARY_HMAC_KEY"])
    assert sorted(k["kind"] for k in details["kit"]) == ["charger", "mobile_key"]
    assert {i.accessory.status for i in handover.items} == {AccessoryStatus.WITH_BENEFICIARY}


def test_a_loan_needs_a_future_return_date(orgs, users):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)
    with pytest.raises(Conflict) as exc:
        dist.record_handover(device.tag, actor=actor(users, "coordinator_b"), beneficiary_ref="MC-0001",
                             beneficiary_category="pupil", loan=True, **handing_over())
    assert exc.value.code == "return_date_required"


def test_another_partner_cannot_hand_over_a_device_reserved_for_someone_else(orgs, users):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=actor(users, "coordinator_b"), programme_id=orgs["programme"].id)
    with pytest.raises(NotFound):
        dist.record_handover(device.tag, actor=actor(users, "coordinator"), beneficiary_ref="EC-0001",
                             beneficiary_category="pupil", **handing_over())


def test_returned_device_with_a_missing_charger_must_be_wiped_again_before_ready(orgs, users):
    device, handover = handed_over(orgs, users)
    charger = next(i.accessory for i in handover.items if i.accessory.kind.value == "charger")
    dist.record_return(handover.id, actor=actor(users, "coordinator_b"), reason="left the school",
                       condition="good", missing_accessory_ids=[charger.id])
    device = devices.get_device(device.tag, actor=actor(users, "admin"))
    assert device.state == State.RETURNED and device.custodian_organisation_id == orgs["partner_b"].id
    assert charger.status == AccessoryStatus.LOST
    assert json.loads(last_event(device.id).details)["missing"][0]["kind"] == "charger"

    tech = actor(users, "technician")
    devices.transition(device.tag, State.RECEIVED, actor=tech)
    devices.transition(device.tag, State.DIAGNOSED, actor=tech, params={"verdict": "refurbish"})
    with pytest.raises(Conflict) as exc:
        devices.transition(device.tag, State.WIPED, actor=tech)
    assert exc.value.code == "wipe_evidence_missing"
    with pytest.raises(Conflict):
        devices.transition(device.tag, State.READY, actor=tech, params={"grade": "B"})
    factories.wipe_all(devices.get_device(device.tag, actor=tech), tech)
    for target, params in ((State.WIPED, {}), (State.REFURBISHED, {}), (State.READY, {"grade": "B"})):
        devices.transition(device.tag, target, actor=tech, params=params)
    assert devices.get_device(device.tag, actor=tech).state == State.READY


def test_the_partner_erases_a_reference_and_the_chain_still_verifies(orgs, users, db):
    device, handover = handed_over(orgs, users, ref="MC-0099")
    with pytest.raises(NotFound):
        dist.erase_reference(handover.id, actor=actor(users, "coordinator"))
    dist.erase_reference(handover.id, actor=actor(users, "coordinator_b"))
    assert db.session.get(Handover, handover.id).beneficiary_ref is None
    assert last_event(device.id).type == "beneficiary_reference_erased"
    assert verify_chain().ok


def test_the_retention_job_erases_references_returned_long_ago_only(app, orgs, users, db):
    old_device, old = handed_over(orgs, users, ref="MC-0100")
    _, still_out = handed_over(orgs, users, ref="MC-0101")
    start = dist.record_return(old.id, actor=actor(users, "coordinator_b"), reason="moved away").returned_at
    days = app.config["BENEFICIARY_REF_RETENTION_DAYS"]
    assert dist.purge_references(now=start + dt.timedelta(days=days - 1), retention_days=days) == 0
    assert dist.purge_references(now=start + dt.timedelta(days=days + 1), retention_days=days) == 1
    db.session.expire_all()
    assert db.session.get(Handover, old.id).beneficiary_ref is None
    assert db.session.get(Handover, still_out.id).beneficiary_ref == "MC-0101"
    assert last_event(old_device.id).type == "beneficiary_reference_erased"
    assert verify_chain().ok


def test_recycling_records_the_recycler_disposal_reference_and_parts(orgs, users):
    device = factories.make_device(orgs, users, State.WIPED, verdict="parts")
    rec = dist.record_recycling(device.tag, actor=actor(users, "technician"),
                                recycler_organisation_id=orgs["recycler"].id, disposal_reference="BSD-2026-118",
                                shipment_reference="ENV-12", parts_harvested=["RAM 8 Go", "SSD 256 Go"])
    device = devices.get_device(device.tag, actor=actor(users, "admin"))
    assert device.state == State.RECYCLED and device.custodian_organisation_id == orgs["recycler"].id
    details = json.loads(last_event(device.id).details)
    assert details["disposal_reference"] == "BSD-2026-118" and details["parts_harvested"] == ["RAM 8 Go", "SSD 256 Go"]
    assert dist.recyclings_for(actor=actor(users, "technician"), shipment="ENV-12") == [rec]
    with pytest.raises(NotFound):
        dist.recyclings_for(actor=actor(users, "donor_b"), recycling_id=rec.id)


def test_programme_progress_counts_hand_overs_against_the_target(orgs, users):
    handed_over(orgs, users, ref="MC-0001")
    handed_over(orgs, users, ref="MC-0002")
    p = dist.progress(orgs["programme"])
    assert p["handed_over"] == 2
    assert [(t["unit"], t["count"], t["done"], t["percent"]) for t in p["targets"]] == [("device", 1000, 2, 0.2)]
