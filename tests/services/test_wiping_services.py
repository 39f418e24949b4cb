"""Wipe evidence through the services: media, records, nwipe and CSV imports, the guard, the second check."""
import datetime as dt
import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services as devices
from asset_tracker.errors import Conflict, Invalid
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.wiping import services as wiping
from asset_tracker.wiping.models import EvidenceFile, WipeRecord, WipeVerification
from tests.factories import make_device

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "nwipe"
PASS_LOG = "nwipe-zero-1disk.log"
FAIL_LOG = "nwipe-readonly-fail.log"
UTC = dt.UTC
# The sample logs ran on 2026-11-29 at 03:28 Paris time (02:28 UTC).
BEFORE_LOGS = dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
AFTER_LOGS = dt.datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def sample(name: str) -> tuple[str, bytes]:
    return name, (SAMPLES / name).read_bytes()


def sha(name: str) -> str:
    return hashlib.sha256((SAMPLES / name).read_bytes()).hexdigest()


def tech(users, key="technician") -> Actor:
    return Actor.of(users[key])


def events_of(device, type_):
    return [e for e in db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id == device.id,
                                                                        CustodyEvent.type == type_)
                                          .order_by(CustodyEvent.seq)).scalars()]


@pytest.fixture
def in_workshop(orgs, users, frozen_clock):
    """make(media=1): a diagnosed device received before the sample logs ran; the clock then moves past them.

    Its media are recorded without a capacity (the sample logs wiped 8 and 16 MiB loop devices): they take it
    from the log."""
    made = []

    def make(media=1, **kw):
        frozen_clock(BEFORE_LOGS + dt.timedelta(minutes=len(made)))
        kw.setdefault("capacity_bytes", None)
        device = make_device(orgs, users, State.DIAGNOSED, media=media, **kw)
        made.append(device)
        frozen_clock(AFTER_LOGS)
        return device

    return make


def key_of(plan, filename):
    return next(d.key for d in plan.disks if d.filename == filename)


def test_the_passing_sample_log_is_recorded_with_its_real_method_and_verification(users, in_workshop):
    device = in_workshop()
    medium = device.media[0]
    plan = wiping.plan_nwipe_import([sample(PASS_LOG)], actor=tech(users))
    (disk,) = plan.disks
    assert disk.problem == "unreadable_serial" and disk.medium is None  # nwipe printed garbage as the serial
    assert medium in disk.candidates

    records = wiping.import_nwipe([sample(PASS_LOG)], actor=tech(users), assignments={disk.key: medium.id})

    (record,) = records
    assert (record.result.value, record.method, record.nist_category.value) == ("passed", "Fill With Zeros", "clear")
    assert record.verification == "last pass: verified"
    assert (record.tool, record.tool_version, record.bytes_erased) == ("nwipe", "0.33", 8388608)
    assert record.started_at == dt.datetime(2026, 11, 29, 2, 28, 29, tzinfo=UTC)  # 03:28:29 in Paris
    assert record.evidence.sha256 == sha(PASS_LOG)
    assert record.evidence.content == (SAMPLES / PASS_LOG).read_bytes()
    (event,) = events_of(device, "wipe_recorded")
    assert json.loads(event.details)["evidence_sha256"] == sha(PASS_LOG)
    device = devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert device.state == State.WIPED
    assert verify_chain().ok


def test_the_failed_sample_log_is_recorded_as_failed_and_keeps_the_device_out_of_wiped(users, in_workshop):
    device = in_workshop()
    plan = wiping.plan_nwipe_import([sample(FAIL_LOG)], actor=tech(users))
    records = wiping.import_nwipe([sample(FAIL_LOG)], actor=tech(users),
                                  assignments={plan.disks[0].key: device.media[0].id})
    assert records[0].result.value == "failed"
    assert records[0].method == "PRNG Stream" and records[0].details["nwipe_status"] == "-FAILED-"
    assert json.loads(events_of(device, "wipe_recorded")[0].details)["evidence_sha256"] == sha(FAIL_LOG)
    with pytest.raises(Conflict) as refused:
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert refused.value.code == "wipe_evidence_missing"
    assert db.session.get(type(device), device.id).state == State.DIAGNOSED


def test_two_logs_at_once_are_imported_all_or_nothing(users, in_workshop):
    first, second = in_workshop(), in_workshop()
    files = [sample(PASS_LOG), sample(FAIL_LOG)]
    plan = wiping.plan_nwipe_import(files, actor=tech(users))
    with pytest.raises(Invalid) as refused:  # the second disk has no medium yet
        wiping.import_nwipe(files, actor=tech(users), assignments={key_of(plan, PASS_LOG): first.media[0].id})
    assert refused.value.code == "unmatched_disks"
    assert db.session.scalar(select(func.count()).select_from(WipeRecord)) == 0
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 0

    records = wiping.import_nwipe(files, actor=tech(users), assignments={
        key_of(plan, PASS_LOG): first.media[0].id, key_of(plan, FAIL_LOG): second.media[0].id})
    assert sorted(r.result.value for r in records) == ["failed", "passed"]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 2


def test_a_log_that_cannot_be_parsed_is_refused_with_its_line_and_nothing_is_imported(users, in_workshop):
    device = in_workshop()
    name, data = sample(PASS_LOG)
    cut = b"\n".join(data.split(b"\n")[:30]) + b"\n"  # stops in the middle of the wipe
    with pytest.raises(Invalid) as refused:
        wiping.import_nwipe([sample(PASS_LOG), ("cut.log", cut)], actor=tech(users), assignments={})
    assert refused.value.details["file"] == "cut.log" and refused.value.details["line"] == 30
    assert db.session.scalar(select(func.count()).select_from(WipeRecord)) == 0
    assert events_of(device, "wipe_recorded") == []


def test_the_same_log_is_stored_once_and_not_recorded_twice(users, in_workshop):
    device = in_workshop()
    key = wiping.plan_nwipe_import([sample(PASS_LOG)], actor=tech(users)).disks[0].key
    wiping.import_nwipe([sample(PASS_LOG)], actor=tech(users), assignments={key: device.media[0].id})
    again = wiping.plan_nwipe_import([sample(PASS_LOG)], actor=tech(users), assignments={key: device.media[0].id})
    assert again.disks[0].problem == "already_recorded"
    with pytest.raises(Invalid):
        wiping.import_nwipe([sample(PASS_LOG)], actor=tech(users), assignments={key: device.media[0].id})
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 1


def test_a_disk_with_a_readable_serial_is_matched_without_asking(users, in_workshop):
    device = in_workshop()
    name, data = sample(PASS_LOG)
    serial = device.media[0].serial.encode()
    data = data.replace(b"S/N=  \xa8l\xb2\x7f", b"S/N=" + serial).replace(b"serial number   \xa8l\xb2\x7f",
                                                                          b"serial number " + serial)
    data = data.replace(b"Loopback device/  \xa8l\xb2\x7f", b"Loopback device/" + serial)
    plan = wiping.plan_nwipe_import([("named.log", data)], actor=tech(users))
    assert plan.disks[0].how == "serial" and plan.disks[0].medium.id == device.media[0].id
    assert not plan.unresolved


def test_a_returned_device_is_refused_at_wiped_until_a_new_wipe_is_recorded(orgs, users):
    device = make_device(orgs, users, State.RETURNED)  # wiped once, handed over, given back
    device = devices.transition(device.tag, State.RECEIVED, actor=tech(users))
    with pytest.raises(Conflict) as refused:
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert refused.value.code == "wipe_evidence_missing"
    wiping.record_wipe(device, device.media[0].id, actor=tech(users), result="passed", method="Fill With Zeros",
                       nist_category="clear", tool="nwipe", tool_version="0.35", verification="last pass")
    assert devices.transition(device.tag, State.WIPED, actor=tech(users)).state == State.WIPED


def test_an_old_wipe_cannot_be_recorded_for_a_device_received_since(orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED)
    long_ago = device.last_received_at - dt.timedelta(days=3)
    with pytest.raises(Conflict) as refused:
        wiping.record_wipe(device, device.media[0].id, actor=tech(users), result="passed", method="Gutmann",
                           nist_category="clear", started_at=long_ago, ended_at=long_ago + dt.timedelta(hours=1))
    assert refused.value.code == "wipe_before_reception"


def test_a_device_with_two_disks_is_refused_while_only_one_is_wiped(orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED, media=2)
    first, second = device.media
    wiping.record_wipe(device, first.id, actor=tech(users), result="passed", method="Fill With Zeros",
                       nist_category="clear", tool="nwipe")
    with pytest.raises(Conflict) as refused:
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert "1 of 2" in str(refused.value)
    wiping.record_destruction(device.tag, second.id, actor=tech(users), method="shred",
                              destroyed_at=dt.datetime.now(UTC), tool="Broyeur DEEE", reference="BR-2026-118")
    assert devices.transition(device.tag, State.WIPED, actor=tech(users)).state == State.WIPED
    destroyed = db.session.scalar(select(WipeRecord).where(WipeRecord.medium_id == second.id))
    assert (destroyed.nist_category.value, destroyed.result.value) == ("destroy", "passed")


def test_a_device_without_media_needs_an_explicit_statement(orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED, media=0)
    with pytest.raises(Conflict):
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    wiping.state_no_media(device, actor=tech(users), note="tablet without removable storage checked")
    assert devices.transition(device.tag, State.WIPED, actor=tech(users)).state == State.WIPED


def test_storage_media_can_be_changed_until_the_device_is_wiped(orgs, users):
    device = make_device(orgs, users, State.RECEIVED, media=0)
    medium = wiping.add_medium(device.tag, actor=tech(users), kind="hdd", model="ST500LM030", serial=" zdk1abc ",
                               capacity_bytes=500 * 10**9)
    assert medium.serial == "ZDK1ABC"
    with pytest.raises(Conflict):
        wiping.add_medium(device.tag, actor=tech(users), kind="hdd", serial="zdk1abc")
    wiping.update_medium(device.tag, medium.id, {"kind": "ssd"}, actor=tech(users))
    spare = wiping.add_medium(device.tag, actor=tech(users), kind="emmc", serial="EMMC-1")
    wiping.remove_medium(device.tag, spare.id, actor=tech(users))
    assert [e.type for e in devices_events(device)][-4:] == ["medium_added", "medium_updated", "medium_added",
                                                               "medium_removed"]
    wiping.record_wipe(device, medium.id, actor=tech(users), result="passed", method="Secure Erase",
                       nist_category="purge", tool="hdparm")
    with pytest.raises(Conflict) as refused:
        wiping.remove_medium(device.tag, medium.id, actor=tech(users))
    assert refused.value.code == "medium_has_records"
    devices.transition(device.tag, State.WIPED, actor=tech(users))
    with pytest.raises(Conflict) as locked:
        wiping.add_medium(device.tag, actor=tech(users), kind="ssd", serial="LATE")
    assert locked.value.code == "media_locked"


def devices_events(device):
    return db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id == device.id)
                              .order_by(CustodyEvent.seq)).scalars().all()


def test_csv_results_of_another_tool_are_imported_all_or_nothing(orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED, media=1)
    other = make_device(orgs, users, State.REGISTERED)
    serial = device.media[0].serial
    paris = dt.datetime.now(ZoneInfo("Europe/Paris"))
    start, end = (
        (paris + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"),
        (paris + dt.timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M"),
    )
    header = "device_tag;medium_serial;kind;capacity_bytes;method;nist_category;tool;tool_version;passes;" \
             "pattern;verification;started_at;ended_at;operator;result\n"
    row = f"{device.tag};{serial};ssd;256000000000;Secure Erase;purge;Blancco;7.5;1;;full;" \
          f"{start};{end};Léa;passed\n"
    bad = f"{other.tag};X1;ssd;;Secure Erase;purge;Blancco;7.5;1;;full;{start};{end};Léa;passed\n"
    with pytest.raises(Invalid) as refused:
        wiping.import_wipe_csv((header + row + bad).encode(), "blancco.csv", actor=tech(users))
    assert refused.value.details["errors"][0]["row"] == 3
    assert db.session.scalar(select(func.count()).select_from(WipeRecord)) == 0
    records = wiping.import_wipe_csv((header + row).encode(), "blancco.csv", actor=tech(users))
    assert records[0].operator_name == "Léa" and records[0].tool == "Blancco"
    assert json.loads(events_of(device, "wipe_recorded")[0].details)["evidence_sha256"] == \
        hashlib.sha256((header + row).encode()).hexdigest()


def test_a_picked_device_is_checked_by_another_technician_not_by_the_one_who_wiped(app, orgs, users, monkeypatch):
    monkeypatch.setitem(app.config, "WIPE_VERIFICATION_SHARE", 1.0)  # pick every device
    device = make_device(orgs, users, State.WIPED)
    (check,) = db.session.execute(select(WipeVerification)).scalars().all()
    assert check.status.value == "pending" and check.wiped_by_id == users["technician"].id
    with pytest.raises(Conflict) as refused:
        wiping.verify_wipe(device.tag, actor=tech(users), confirmed=True)
    assert refused.value.code == "verifier_is_wiper"
    wiping.verify_wipe(device.tag, actor=tech(users, "technician_b"), confirmed=True, note="spot check OK")
    assert check.status.value == "confirmed" and check.verified_by_id == users["technician_b"].id
    assert events_of(device, "wipe_verified")


def test_the_draw_picks_about_the_configured_share_reproducibly():
    now = dt.datetime(2026, 11, 29, tzinfo=UTC)
    scores = [wiping.draw_score(f"RB-{n:06d}-X", now, "seed") for n in range(4000)]
    assert 0.035 < sum(s < 0.05 for s in scores) / len(scores) < 0.065
    assert scores[7] == wiping.draw_score("RB-000007-X", now, "seed")
