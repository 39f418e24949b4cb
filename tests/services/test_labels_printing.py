"""Printing labels through the service: scope, custody log, reprints, blank pre-printed tags."""
from __future__ import annotations

import json
import logging

import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services as devices
from asset_tracker.errors import Conflict, Invalid, NotFound
from asset_tracker.labels import services as labels
from asset_tracker.labels.models import BlankTag, LabelPrint
from asset_tracker.tags import format_tag
from tests.factories import blank_printing, issuing, make_device, printing


def decoded_tags(pdf: bytes, dpi: int = 300) -> list[str]:
    """Every Code 128 value on every page of a PDF, read by zxing-cpp, page by page."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        found = []
        for page in document:
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            found += [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)]
        return found
    finally:
        document.close()


def print_events(db) -> list[CustodyEvent]:
    return db.session.execute(select(CustodyEvent).where(CustodyEvent.type == "labels_printed")
                              .order_by(CustodyEvent.seq)).scalars().all()


def tech(users) -> Actor:
    return Actor.of(users["technician"])


def test_printed_pdf_holds_exactly_the_requested_tags_and_the_print_is_logged(db, orgs, users):
    devs = [make_device(orgs, users) for _ in range(3)]
    wanted = [devs[2].tag, devs[0].tag]

    job = labels.print_labels(wanted, template="a4-3x7-63x38", actor=tech(users), **printing())

    assert job.mimetype == "application/pdf" and job.reprints == []
    assert sorted(decoded_tags(job.content)) == sorted(wanted)
    [event] = print_events(db)
    details = json.loads(event.details)
    assert event.actor_name == users["technician"].display_name
    assert details["tags"] == wanted and details["template"] == "a4-3x7-63x38" and details["format"] == "pdf"
    assert details["reprint"] is False and details["count"] == 2
    assert verify_chain().ok


def test_a_second_print_of_a_tag_is_marked_as_a_reprint(db, orgs, users):
    a, b = make_device(orgs, users), make_device(orgs, users)
    labels.print_labels([a.tag], template="roll-62x29", actor=tech(users), **printing())

    job = labels.print_labels([a.tag, b.tag], template="a4-5x13-38x21", actor=tech(users), **printing())

    assert job.reprints == [a.tag]
    first, second = print_events(db)
    assert json.loads(first.details)["reprint"] is False
    assert json.loads(second.details)["reprints"] == [a.tag]
    counts = {p.tag: p.count for p in db.session.execute(select(LabelPrint)).scalars()}
    assert counts == {a.tag: 2, b.tag: 1}


def test_a_single_label_print_shows_on_the_device_timeline(db, orgs, users):
    device = make_device(orgs, users)
    labels.print_labels([device.tag], template="roll-57x32", actor=tech(users), fmt="svg", **printing())
    [event] = print_events(db)
    assert event.device_id == device.id and event.device_tag == device.tag


def test_out_of_scope_tag_is_not_found_and_nothing_is_printed_or_logged(db, orgs, users):
    own = make_device(orgs, users, donor="donor")
    other = make_device(orgs, users, donor="donor_b")
    before = db.session.scalar(select(func.count()).select_from(CustodyEvent))

    with pytest.raises(NotFound) as err:
        labels.print_labels([own.tag, other.tag], template="a4-3x7-63x38", actor=Actor.of(users["donor"]), **printing())

    assert err.value.details == {"tags": [other.tag]}
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == before
    assert db.session.scalar(select(func.count()).select_from(LabelPrint)) == 0


def test_a_donor_prints_its_own_devices_labels(db, orgs, users):
    own = make_device(orgs, users, donor="donor")
    job = labels.print_labels([own.tag], template="a4-3x7-63x38", actor=Actor.of(users["donor"]), **printing())
    assert decoded_tags(job.content) == [own.tag]


def test_short_line_is_the_type_in_the_users_language_and_the_model(app, db, orgs, users):
    device = make_device(orgs, users, type="laptop")
    fr = labels.print_labels([device.tag], template="roll-62x29", actor=tech(users), fmt="svg", language="fr",
                             **printing())
    en = labels.print_labels([device.tag], template="roll-62x29", actor=tech(users), fmt="svg", language="en",
                             **printing())
    assert b"Portable \xc2\xb7 Lenovo ThinkPad T480" in fr.content
    assert b"Laptop \xc2\xb7 Lenovo ThinkPad T480" in en.content


def test_programme_line_when_configured(app, db, orgs, users):
    reserved = make_device(orgs, users, state="reserved")
    waiting = make_device(orgs, users)
    app.config["LABEL_LINE"] = "programme"
    try:
        a = labels.print_labels([reserved.tag], template="roll-62x29", actor=tech(users), fmt="svg", **printing())
        b = labels.print_labels([waiting.tag], template="roll-62x29", actor=tech(users), fmt="svg", **printing())
    finally:
        app.config["LABEL_LINE"] = "type_model"
    assert orgs["programme"].name.encode() in a.content
    assert b"Portable" in b.content  # no programme yet: type and model


def test_zpl_job_prints_every_tag_in_one_file(db, orgs, users):
    devs = [make_device(orgs, users) for _ in range(2)]
    job = labels.print_labels([d.tag for d in devs], template="zpl-2x1-203dpi", actor=tech(users), fmt="zpl",
                              **printing())
    text = job.content.decode("utf-8")
    assert text.count("^XA") == 2 and all(d.tag in text for d in devs)
    assert job.filename.endswith(".zpl")


@pytest.mark.parametrize("kwargs, message", [
    ({"template": "no-such-stock"}, "Unknown label template"),
    ({"template": "zpl-2x1-203dpi", "fmt": "pdf"}, "prints as ZPL"),
    ({"template": "a4-3x7-63x38", "start_position": 21}, "start position is off the sheet"),
    ({"template": "roll-62x29", "start_position": 1}, "start position is off the sheet"),
    ({"template": "a4-3x7-63x38", "fmt": "png"}, "SVG and PNG hold one label"),
])
def test_impossible_jobs_are_refused_and_nothing_is_logged(db, orgs, users, kwargs, message):
    devs = [make_device(orgs, users) for _ in range(2)]
    with pytest.raises(Invalid, match=message):
        labels.print_labels([d.tag for d in devs], actor=tech(users), **kwargs, **printing())
    assert print_events(db) == []


def test_batch_labels_are_the_batch_devices_in_tag_order(db, orgs, users):
    from asset_tracker.intake import services as intake

    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — mars",
                                donor_organisation_id=orgs["donor"].id)
    inside = [intake.add_device(batch.id, actor=Actor.of(users["donor"]), type="laptop", model=f"T{i}",
                                  serial=f"BATCHSN{i:04d}")
              for i in range(3)]
    make_device(orgs, users)  # not in the batch

    job = labels.print_batch(batch.id, template="a4-3x7-63x38", actor=tech(users), **printing())

    assert job.tags == sorted(d.tag for d in inside)
    assert sorted(decoded_tags(job.content)) == sorted(d.tag for d in inside)
    assert json.loads(print_events(db)[0].details)["batch_id"] == batch.id
    with pytest.raises(NotFound):
        labels.print_batch(batch.id, template="a4-3x7-63x38", actor=Actor.of(users["donor_b"]), **printing())


# ---------------------------------------------------------------- blank pre-printed tags


def test_blank_tags_issued_to_a_donor_are_printed_then_bound_at_registration(app, db, orgs, users):
    issue, job = labels.issue_and_print_blank_tags(5, donor_organisation_id=orgs["donor"].id,
                                                   template="a4-3x7-63x38", actor=tech(users), **issuing())
    printed = decoded_tags(job.content)
    assert len(printed) == 5 and printed[0] == issue.first_tag
    issued = db.session.execute(select(CustodyEvent).where(CustodyEvent.type == "blank_tags_issued")).scalar_one()
    assert json.loads(issued.details)["first_tag"] == issue.first_tag

    device = devices.register_device(actor=Actor.of(users["donor"]), type="laptop",
                                     donor_organisation_id=orgs["donor"].id, tag=printed[2])

    assert device.tag == printed[2]
    assert db.session.get(BlankTag, printed[2]).bound_at is not None
    registered = db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id == device.id)).scalar_one()
    assert json.loads(registered.details)["preprinted_tag"] is True
    # Printing the range again leaves out the bound tag and marks the others as reprints.
    again = labels.print_blank_tags(issue.id, template="a4-3x7-63x38", actor=tech(users), **blank_printing())
    assert printed[2] not in again.tags and again.reprints == again.tags and len(again.tags) == 4


def test_registered_devices_never_take_a_blank_tags_sequence_number(db, orgs, users):
    issue = labels.issue_blank_tags(3, donor_organisation_id=orgs["donor"].id, actor=tech(users), **issuing())
    device = make_device(orgs, users)
    assert device.tag > issue.last_tag


def test_a_never_issued_well_formed_tag_is_refused(db, orgs, users):
    made_up = format_tag("RB", 777777)
    with pytest.raises(Invalid, match="never issued as a blank pre-printed tag") as err:
        devices.register_device(actor=Actor.of(users["donor"]), type="laptop",
                                donor_organisation_id=orgs["donor"].id, tag=made_up)
    assert err.value.code == "tag_not_issued"
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)
                             .where(CustodyEvent.type == "device_registered")) == 0


def test_a_blank_tag_of_another_donor_is_refused(db, orgs, users):
    issue = labels.issue_blank_tags(2, donor_organisation_id=orgs["donor"].id, actor=tech(users), **issuing())
    with pytest.raises(Invalid, match="issued to another donor") as err:
        devices.register_device(actor=Actor.of(users["donor_b"]), type="laptop",
                                donor_organisation_id=orgs["donor_b"].id, tag=issue.first_tag)
    assert err.value.code == "tag_other_donor"
    assert db.session.get(BlankTag, issue.first_tag).bound_at is None


def test_a_blank_tag_binds_once(db, orgs, users):
    issue = labels.issue_blank_tags(1, donor_organisation_id=orgs["donor"].id, actor=tech(users), **issuing())
    donor = Actor.of(users["donor"])
    devices.register_device(actor=donor, type="laptop", donor_organisation_id=orgs["donor"].id, tag=issue.first_tag)
    with pytest.raises(Conflict):
        devices.register_device(actor=donor, type="tablet", donor_organisation_id=orgs["donor"].id,
                                tag=issue.first_tag)


def test_a_fully_used_range_has_nothing_left_to_print(db, orgs, users):
    issue = labels.issue_blank_tags(1, donor_organisation_id=orgs["donor"].id, actor=tech(users), **issuing())
    devices.register_device(actor=Actor.of(users["donor"]), type="laptop", donor_organisation_id=orgs["donor"].id,
                            tag=issue.first_tag)
    with pytest.raises(Conflict, match="already bound"):
        labels.print_blank_tags(issue.id, template="a4-3x7-63x38", actor=tech(users), **blank_printing())


def test_blank_ranges_are_scoped_to_their_donor(db, orgs, users):
    issue = labels.issue_blank_tags(2, donor_organisation_id=orgs["donor"].id, actor=tech(users),
                                    **issuing())
    assert labels.print_blank_tags(issue.id, template="roll-62x29", actor=Actor.of(users["donor"]), fmt="pdf",
                                   **blank_printing()).tags
    with pytest.raises(NotFound):
        labels.print_blank_tags(issue.id, template="roll-62x29", actor=Actor.of(users["donor_b"]), **blank_printing())
    assert [i.id for i, _ in labels.list_blank_issues(actor=Actor.of(users["donor_b"]))] == []


def test_only_donor_organisations_receive_blank_tags(db, orgs, users):
    with pytest.raises(NotFound, match="donor_organisation_id"):
        labels.issue_blank_tags(2, donor_organisation_id=orgs["partner"].id, actor=tech(users), **issuing())


# ---------------------------------------------------------------- the template catalogue


def test_a_malformed_template_is_refused_and_the_others_stay_usable(tmp_path, caplog):
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "labels"
    (tmp_path / "roll-62x29.json").write_text((source / "roll-62x29.json").read_text())
    (tmp_path / "broken.json").write_text('{"name": "broken", "kind": "sheet"')

    logger = logging.getLogger("tests.labels.catalogue")
    with caplog.at_level(logging.ERROR, logger=logger.name):
        catalogue = labels.load_catalogue(tmp_path, logger)

    assert list(catalogue.templates) == ["roll-62x29"]
    [error] = catalogue.errors
    assert error.source == "broken.json" and "not valid JSON" in error.problem
    assert "broken.json" in caplog.text
