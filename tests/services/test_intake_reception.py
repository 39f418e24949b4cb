"""Collection, reception by scanning, reconciliation, closing and the hand-over slip."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device
from asset_tracker.errors import Conflict, NotFound
from asset_tracker.intake import services as intake
from asset_tracker.intake.models import BatchStatus
from asset_tracker.intake.slip import slip_pdf
from asset_tracker.lifecycle import State
from tests.factories import make_device
from tests.intake_helpers import csv_rows


@pytest.fixture
def tech(users):
    return Actor.of(users["technician"])


@pytest.fixture
def collected(db, users, orgs, tech):
    """A batch of four laptops (declared: four), collected by the workshop."""
    donor = Actor.of(users["donor"])
    batch = intake.create_batch(actor=donor, name="CAF — mars", declared_counts={"laptop": 4}, unit_value_cents=3000)
    intake.import_file(batch.id, csv_rows(4), actor=donor)
    intake.collect_batch(batch.id, actor=tech)
    return batch


def devices_of(db, batch):
    return db.session.scalars(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)).all()


def pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(io.BytesIO(data))
    return "\n".join(page.get_textpage().get_text_range() for page in pdf)


def test_collecting_moves_every_device_to_the_workshop_in_one_step(db, orgs, collected):
    devices = devices_of(db, collected)
    assert {d.state for d in devices} == {State.COLLECTED}
    assert {d.custodian_organisation_id for d in devices} == {orgs["workshop"].id}
    assert collected.status == BatchStatus.COLLECTED and collected.workshop_organisation_id == orgs["workshop"].id
    events = db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "state_changed")).all()
    assert len(events) == 4 and all(json.loads(e.details)["batch_id"] == collected.id for e in events)


def test_one_missing_and_one_unexpected_device_must_both_be_explained_before_closing(db, orgs, users, tech,
                                                                                     collected):
    first, second, third, fourth = devices_of(db, collected)
    stray = make_device(orgs, users, donor="donor_b", serial="STRAY-001")  # another donor's device, no batch
    # Scanned by tag, serial number and IMEI-less serial: all three ways find the device.
    intake.receive_device(first.tag, actor=tech, batch_id=collected.id)
    intake.receive_device(second.serial.lower(), actor=tech, batch_id=collected.id)
    intake.receive_device(third.tag, actor=tech, batch_id=collected.id)
    unexpected = intake.receive_device("STRAY-001", actor=tech, batch_id=collected.id)
    assert unexpected.expected is False and unexpected.device.state == State.RECEIVED

    rec = intake.reconciliation(collected.id, actor=tech)
    assert [line.device.tag for line in rec.missing] == [fourth.tag]
    assert [line.device.tag for line in rec.unexpected] == [stray.tag]
    # The foreign device is not the batch's: three of its own received, not four.
    assert rec.counts == {"laptop": {"declared": 4, "logged": 4, "received": 3}}
    assert len(rec.received) == 3
    assert rec.batch.status == BatchStatus.RECEIVED

    with pytest.raises(Conflict) as refused:
        intake.close_batch(collected.id, actor=tech)
    assert set(refused.value.details["unexplained"]) == {fourth.tag, stray.tag}

    intake.explain(collected.id, fourth.tag, actor=tech, note="Not on the pallet; the donor is searching",
                   declare_lost=True)
    with pytest.raises(Conflict) as still:
        intake.close_batch(collected.id, actor=tech)
    assert still.value.details["unexplained"] == [stray.tag]

    intake.explain(collected.id, stray.tag, actor=tech, note="Mairie laptop loaded on the wrong van")
    with pytest.raises(Conflict) as differ:
        intake.close_batch(collected.id, actor=tech)
    assert differ.value.code == "counts_differ"  # 3 received of 4 declared
    rec = intake.close_batch(collected.id, actor=tech, note="One laptop lost in transit")

    assert rec.batch.status == BatchStatus.CLOSED
    assert db.session.get(Device, fourth.id).state == State.LOST
    types = db.session.scalars(select(CustodyEvent.type).order_by(CustodyEvent.seq)).all()
    assert types.count("batch_discrepancy_explained") == 2 and types[-1] == "batch_closed"
    assert verify_chain().ok

    text = pdf_text(slip_pdf(rec, "fr"))
    table = text.split("Appareils remis :")[0]  # the slip's device table, before its counts
    for d in (first, second, third):
        assert d.tag in table and d.serial in table
    assert fourth.tag not in table and stray.tag not in table
    assert "Appareils remis : 3" in text
    assert "CAF du Rhône" in text and "Weeefund" in text
    assert "L3212-2" not in text  # no legal basis is configured for this donor: none is asserted
    assert "45,50 €" in text and "136,50 €" in text  # per-unit value and total for three devices
    assert fourth.tag in text.split("Enregistrés mais non remis")[1]  # listed apart as not handed over
    assert stray.tag in text.split("autre donateur")[1]
    assert "signature" in text


def test_closing_is_refused_while_counts_differ_without_a_note(db, users, tech):
    donor = Actor.of(users["donor"])
    batch = intake.create_batch(actor=donor, name="Préfecture", declared_counts={"laptop": 3, "phone": 1})
    intake.import_file(batch.id, csv_rows(2), actor=donor)
    for d in devices_of(db, batch):
        intake.receive_device(d.tag, actor=tech, batch_id=batch.id)  # straight from the donor: collected + received

    with pytest.raises(Conflict) as exc:
        intake.close_batch(batch.id, actor=tech)
    assert exc.value.code == "counts_differ"
    rec = intake.close_batch(batch.id, actor=tech, note="The donor kept one laptop and the phone")
    assert rec.batch.closing_note.startswith("The donor kept")


def test_a_device_already_in_the_workshop_is_not_moved_twice(db, tech, collected):
    first = devices_of(db, collected)[0]
    intake.receive_device(first.tag, actor=tech, batch_id=collected.id)
    again = intake.receive_device(first.tag, actor=tech, batch_id=collected.id)
    assert again.already
    moves = db.session.scalars(select(CustodyEvent).where(CustodyEvent.device_id == first.id,
                                                          CustodyEvent.state_after == "received")).all()
    assert len(moves) == 1


def test_a_mistyped_tag_or_unknown_code_is_refused_and_changes_nothing(db, tech, collected):
    first = devices_of(db, collected)[0]
    wrong = first.tag[:-1] + ("A" if first.tag[-1] != "A" else "B")
    with pytest.raises(Exception) as exc:
        intake.receive_device(wrong, actor=tech, batch_id=collected.id)
    assert "check character" in str(exc.value)
    with pytest.raises(NotFound):
        intake.receive_device("NO-SUCH-SERIAL", actor=tech, batch_id=collected.id)
    assert db.session.get(Device, first.id).state == State.COLLECTED


def test_a_donor_sees_only_its_own_batches(db, users, collected):
    other = Actor.of(users["donor_b"])
    assert intake.list_batches(actor=other) == []
    with pytest.raises(NotFound):
        intake.get_batch(collected.id, actor=other)
    with pytest.raises(NotFound):
        intake.reconciliation(collected.id, actor=other)
    assert [b.id for b in intake.list_batches(actor=Actor.of(users["donor"]))] == [collected.id]
