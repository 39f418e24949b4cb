"""Evidence that cannot lie: one log section clears one medium, the log must be about the disk, verification,
the wiping station's clock, the second-person check, CSV re-imports, and certificates anyone can check."""
import base64
import datetime as dt
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from asset_tracker.audit import verify_certificate
from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.devices import services as devices
from asset_tracker.errors import Conflict, Invalid
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.wiping import services as wiping
from asset_tracker.wiping.certificates import batch_certificate_pdf, device_certificate_pdf
from asset_tracker.wiping.models import WipeRecord
from tests.audit_support import signing_key  # noqa: F401 (fixture)
from tests.factories import make_device

NWIPE = Path(__file__).resolve().parent.parent / "fixtures" / "nwipe"
UTC = dt.UTC
MiB = 2**20
# The logs made for these tests ran on 2026-12-06 between 05:23 and 05:25 Paris time (04:23-04:25 UTC);
# the UTC-clock log says 04:24:18-04:24:30, which is already UTC.
BEFORE_NEW_LOGS = dt.datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
AFTER_NEW_LOGS = dt.datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def log(name: str) -> tuple[str, bytes]:
    return name, (NWIPE / name).read_bytes()


def tech(users, key="technician") -> Actor:
    return Actor.of(users[key])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events(device, type_=None):
    q = select(CustodyEvent).where(CustodyEvent.device_id == device.id).order_by(CustodyEvent.seq)
    if type_:
        q = q.where(CustodyEvent.type == type_)
    return db.session.execute(q).scalars().all()


@pytest.fixture
def received(orgs, users, frozen_clock):
    """received(capacity=..., serial=...): a diagnosed device received before the new logs ran."""
    def make(capacity=64 * MiB, at=BEFORE_NEW_LOGS, **kw):
        frozen_clock(at)
        device = make_device(orgs, users, State.DIAGNOSED, capacity_bytes=capacity, **kw)
        frozen_clock(AFTER_NEW_LOGS)
        return device
    return make


def import_one(users, name, data, medium, **kw):
    plan = wiping.plan_nwipe_import([(name, data)], actor=tech(users), timezone=kw.get("timezone"))
    return wiping.import_nwipe([(name, data)], actor=tech(users), assignments={plan.disks[0].key: medium.id}, **kw)


# ---------------------------------------------------------------- one log section, one medium


def test_a_log_used_for_a_second_medium_is_refused_naming_the_device_it_cleared(users, received):
    first, second = received(), received()
    name, data = log("nwipe-prng-verified.log")
    import_one(users, name, data, first.media[0])
    before = count(WipeRecord), len(events(second))

    plan = wiping.plan_nwipe_import(
        [(name, data)],
        actor=tech(users),
        assignments={wiping.plan_nwipe_import([(name, data)], actor=tech(users)).disks[0].key: second.media[0].id},
    )
    assert plan.disks[0].problem == "already_used" and plan.disks[0].used_by == first.tag  # the preview says so
    with pytest.raises(Conflict) as refused:
        import_one(users, name, data, second.media[0])
    assert refused.value.status == 409 and refused.value.code == "evidence_already_used"
    assert first.tag in str(refused.value)
    assert (count(WipeRecord), len(events(second))) == before  # nothing written


def test_a_crlf_copy_of_a_used_log_is_refused_too(users, received):
    first, second = received(), received()
    name, data = log("nwipe-prng-verified.log")
    import_one(users, name, data, first.media[0])
    crlf = data.replace(b"\n", b"  \r\n")  # re-saved on Windows, with trailing blanks
    with pytest.raises(Conflict) as refused:
        import_one(users, "copie.log", crlf, second.media[0])
    assert refused.value.code == "evidence_already_used" and first.tag in str(refused.value)
    assert count(WipeRecord) == 1


def test_the_fingerprint_is_enforced_by_the_database(users, received):
    first = received()
    name, data = log("nwipe-prng-verified.log")
    (record,) = import_one(users, name, data, first.media[0])
    assert record.fingerprint and len(record.fingerprint) == 64
    from sqlalchemy.exc import IntegrityError
    clone = WipeRecord(
        device_id=first.id,
        medium_id=first.media[0].id,
        result=record.result,
        nist_category=record.nist_category,
        method="x",
        operator_name="x",
        fingerprint=record.fingerprint,
    )
    db.session.add(clone)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_two_disks_of_one_run_clear_two_media(users, received):
    big, small = received(capacity=48 * MiB), received(capacity=16 * MiB)
    files = [log("nwipe-two-disks.log")]
    plan = wiping.plan_nwipe_import(files, actor=tech(users))
    assert len({d.disk.fingerprint for d in plan.disks}) == 2
    records = wiping.import_nwipe(files, actor=tech(users), assignments={
        plan.disks[0].key: big.media[0].id, plan.disks[1].key: small.media[0].id})
    assert sorted(r.bytes_erased for r in records) == [16 * MiB, 48 * MiB]


# ---------------------------------------------------------------- the log must be about this disk


def named_log(serial: bytes) -> bytes:
    """The verified PRNG log as a disk with a readable serial number would have written it."""
    data = (NWIPE / "nwipe-prng-verified.log").read_bytes()
    raw = re.search(rb"S/N=(.*)\n", data).group(1)
    return data.replace(raw, serial)


def test_a_serial_mismatch_is_refused_then_accepted_with_a_reason_printed_on_the_certificate(app, users, received):
    device = received(serial=None)
    medium = device.media[0]
    medium.serial = "WD-WCAYUS111111"
    db.session.commit()
    data = named_log(b"WD-WCAYUS999999")
    plan = wiping.plan_nwipe_import([("named.log", data)], actor=tech(users),
                                    assignments={"x": 1})  # no such key: the serial finds no medium
    key = plan.disks[0].key
    with pytest.raises(Conflict) as refused:
        wiping.import_nwipe([("named.log", data)], actor=tech(users), assignments={key: medium.id})
    assert refused.value.code == "evidence_mismatch" and "WD-WCAYUS999999" in str(refused.value)
    assert count(WipeRecord) == 0 and not events(device, "wipe_recorded")

    reason = "Étiquette du disque illisible, numéro relevé sur le boîtier"
    (record,) = wiping.import_nwipe([("named.log", data)], actor=tech(users), assignments={key: medium.id},
                                    overrides={key: reason})
    assert record.override_reason == reason
    (override,) = events(device, "wipe_identity_override")
    assert override.note == reason and json.loads(override.details)["mismatches"] == ["serial"]
    devices.transition(device.tag, State.WIPED, actor=tech(users))
    text = pdftotext(device_certificate_pdf(wiping.certificate_for_device(device.tag, actor=tech(users)),
                                            chain_head=wiping.chain_head()))
    assert reason in " ".join(text.split())


@pytest.mark.parametrize("declared", [256 * 10**9, 16 * MiB])
def test_a_size_mismatch_is_refused_without_override(users, received, declared):
    device = received(capacity=declared)  # the log wiped 64 MiB
    name, data = log("nwipe-prng-verified.log")
    with pytest.raises(Conflict) as refused:
        import_one(users, name, data, device.media[0])
    assert refused.value.code == "evidence_mismatch" and "67108864" in str(refused.value)
    assert count(WipeRecord) == 0


def test_a_size_mismatch_is_accepted_with_a_written_reason(users, received):
    device = received(capacity=256 * 10**9)
    name, data = log("nwipe-prng-verified.log")
    key = wiping.plan_nwipe_import([(name, data)], actor=tech(users)).disks[0].key
    (record,) = wiping.import_nwipe([(name, data)], actor=tech(users), assignments={key: device.media[0].id},
                                    overrides={key: "Partition de test seulement"})
    assert record.override_reason == "Partition de test seulement" and record.details["mismatches"] == ["size"]


def test_sizes_agree_in_marketing_and_binary_units_but_not_beyond():
    assert wiping.sizes_agree(500 * 10**9, 500107862016)  # "500 GB" on the box
    assert wiping.sizes_agree(238 * 10**9, 256060514304)  # 238 GiB read off the OS, typed as GB
    assert wiping.sizes_agree(64 * MiB, 64 * MiB)
    assert not wiping.sizes_agree(256 * 10**9, 64 * MiB)
    assert not wiping.sizes_agree(250 * 10**9, 256060514304)  # another disk model


def test_a_medium_without_size_takes_it_from_the_log_and_the_chain_says_so(users, received):
    device = received(capacity=None)
    name, data = log("nwipe-prng-verified.log")
    import_one(users, name, data, device.media[0])
    assert device.media[0].capacity_bytes == 64 * MiB
    (updated,) = events(device, "medium_updated")
    details = json.loads(updated.details)
    assert details["source"] == "nwipe log" and details["changes"]["capacity_bytes"]["after"] == 64 * MiB


# ---------------------------------------------------------------- verification


def test_an_unverified_overwrite_is_refused_by_the_guard_by_default(app, users, received, monkeypatch):
    device = received(capacity=32 * MiB)
    name, data = log("nwipe-verify-off.log")
    (record,) = import_one(users, name, data, device.media[0])
    assert record.unverified and record.result.value == "passed"
    with pytest.raises(Conflict) as refused:
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert refused.value.code == "wipe_not_verified"
    assert db.session.get(type(device), device.id).state == State.DIAGNOSED
    monkeypatch.setitem(app.config, "WIPE_ACCEPT_UNVERIFIED", True)
    devices.transition(device.tag, State.WIPED, actor=tech(users))
    text = " ".join(pdftotext(device_certificate_pdf(wiping.certificate_for_device(device.tag, actor=tech(users)),
                                                     chain_head=wiping.chain_head())).split())
    assert "non vérifié" in text


# ---------------------------------------------------------------- the wiping station's clock


def test_a_utc_clock_log_is_accepted_right_after_reception_when_imported_as_utc(users, received):
    # Received at 04:10 UTC; the UTC-clock log wiped from 04:24:18 to 04:24:30 UTC.
    device = received(capacity=64 * MiB, at=dt.datetime(2026, 12, 6, 4, 10, tzinfo=UTC))
    name, data = log("nwipe-utc-clock.log")
    key = wiping.plan_nwipe_import([(name, data)], actor=tech(users)).disks[0].key
    as_paris = wiping.plan_nwipe_import([(name, data)], actor=tech(users), assignments={key: device.media[0].id})
    assert as_paris.disks[0].before_reception and as_paris.disks[0].problem == "before_reception"
    with pytest.raises(Conflict):
        wiping.import_nwipe([(name, data)], actor=tech(users), assignments={key: device.media[0].id})
    as_utc = wiping.plan_nwipe_import([(name, data)], actor=tech(users), assignments={key: device.media[0].id},
                                      timezone="UTC")
    assert as_utc.disks[0].ended_at == dt.datetime(2026, 12, 6, 4, 24, 30, tzinfo=UTC)
    assert not as_utc.disks[0].before_reception and as_utc.disks[0].problem is None
    (record,) = wiping.import_nwipe([(name, data)], actor=tech(users), assignments={key: device.media[0].id},
                                    timezone="UTC")
    assert record.ended_at == dt.datetime(2026, 12, 6, 4, 24, 30, tzinfo=UTC)
    assert record.details["times_zone"] == "UTC"


def test_an_unknown_time_zone_is_refused(users, received):
    with pytest.raises(Invalid) as refused:
        wiping.plan_nwipe_import([log("nwipe-utc-clock.log")], actor=tech(users), timezone="Mars/Olympus")
    assert refused.value.status == 422


# ---------------------------------------------------------------- the second-person check


def test_a_drawn_device_is_refused_at_ready_until_another_technician_confirms(app, orgs, users, monkeypatch):
    monkeypatch.setitem(app.config, "WIPE_VERIFICATION_SHARE", 1.0)  # draw every device
    device = make_device(orgs, users, State.WIPED)
    devices.transition(device.tag, State.REFURBISHED, actor=tech(users))
    with pytest.raises(Conflict) as refused:
        devices.transition(device.tag, State.READY, actor=tech(users), params={"grade": "A"})
    assert refused.value.code == "wipe_check_pending"
    assert db.session.get(type(device), device.id).state == State.REFURBISHED
    wiping.verify_wipe(device.tag, actor=tech(users, "technician_b"), confirmed=True)
    assert devices.transition(device.tag, State.READY, actor=tech(users), params={"grade": "A"}).state == State.READY


def test_a_refused_check_sends_the_device_back_to_be_wiped_again(app, orgs, users, monkeypatch):
    monkeypatch.setitem(app.config, "WIPE_VERIFICATION_SHARE", 1.0)
    device = make_device(orgs, users, State.WIPED)
    wiping.verify_wipe(device.tag, actor=tech(users, "technician_b"), confirmed=False,
                       note="Secteurs non nuls relus en fin de disque")
    device = db.session.get(type(device), device.id)
    assert device.state == State.DIAGNOSED
    back = events(device, "state_changed")[-1]
    assert back.state_after == "diagnosed" and back.note == "Secteurs non nuls relus en fin de disque"
    with pytest.raises(Conflict) as refused:  # the old wipe no longer counts
        devices.transition(device.tag, State.WIPED, actor=tech(users))
    assert refused.value.code == "wipe_evidence_missing"


# ---------------------------------------------------------------- CSV


def test_a_wipe_csv_imported_twice_records_once(orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED, media=1)
    serial = device.media[0].serial
    now = dt.datetime.now(UTC)
    start, end = (now - dt.timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M"), now.strftime("%Y-%m-%d %H:%M")
    csv = ("device_tag;medium_serial;kind;capacity_bytes;method;nist_category;tool;tool_version;passes;"
           "pattern;verification;started_at;ended_at;operator;result\n"
           f"{device.tag};{serial};ssd;256000000000;Secure Erase;purge;Blancco;7.5;1;;full;{start};{end};Léa;passed\n")
    first = wiping.import_wipe_csv(csv.encode(), "blancco.csv", actor=tech(users), timezone="UTC")
    again = wiping.import_wipe_csv(csv.encode(), "blancco.csv", actor=tech(users), timezone="UTC")
    crlf = wiping.import_wipe_csv(csv.replace("\n", "\r\n").encode(), "copie.csv", actor=tech(users), timezone="UTC")
    assert len(first) == 1 and len(again) == 0 and len(crlf) == 0 and again.skipped == [2]
    assert count(WipeRecord) == 1 and len(events(device, "wipe_recorded")) == 1


# ---------------------------------------------------------------- certificates


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")


APPENDIX_G_FR = [
    "Effectué par (nom, fonction, organisation)", "Type de support", "Fabricant", "Modèle", "Numéro de série",
    "Source : propriétaire des données (donateur)", "Confidentialité avant assainissement",
    "Type d'assainissement (NIST SP 800-88)", "Méthode et technique", "Outil et version",
    "Méthode de vérification", "Résultat de la vérification", "Confidentialité après assainissement",
    "Destination après effacement", "Sauvegarde des données", "Validation par une seconde personne",
    "Fichier de preuve (SHA-256)", "Événement de traçabilité",
]


@pytest.fixture
def handed_over(app, orgs, users, frozen_clock, monkeypatch):
    """A laptop wiped at the workshop from a real log, checked by a second technician, then handed over."""
    monkeypatch.setitem(app.config, "WIPE_VERIFICATION_SHARE", 1.0)
    users["technician"].name, users["technician"].job_title = "Léa Martin", "Technicienne d'effacement"
    users["technician_b"].name = "Karim Haddad"
    db.session.commit()
    frozen_clock(BEFORE_NEW_LOGS)
    device = make_device(orgs, users, State.DIAGNOSED, capacity_bytes=64 * MiB)
    frozen_clock(AFTER_NEW_LOGS)
    name, data = log("nwipe-prng-verified.log")
    import_one(users, name, data, device.media[0])
    for target in (State.WIPED, State.REFURBISHED):
        devices.transition(device.tag, target, actor=tech(users))
    wiping.verify_wipe(device.tag, actor=tech(users, "technician_b"), confirmed=True)
    devices.transition(device.tag, State.READY, actor=tech(users), params={"grade": "A"})
    from asset_tracker.distribution import services as distribution
    return device, distribution


def test_the_certificate_of_a_handed_over_device_names_the_workshop_that_wiped_it(app, orgs, users, handed_over):
    device, _ = handed_over
    device.custodian_organisation_id = orgs["partner"].id  # the collège holds it now
    db.session.commit()
    ev = wiping.certificate_for_device(device.tag, actor=tech(users))
    text = " ".join(pdftotext(device_certificate_pdf(ev, chain_head=wiping.chain_head(), config=app.config)).split())
    assert f"Effacé par (organisation) {orgs['workshop'].name}" in text
    assert orgs["partner"].name not in text
    assert "Léa Martin, Technicienne d'effacement, " + orgs["workshop"].name in text
    assert "tech@example.org" not in text


def test_each_certificate_shows_every_appendix_g_field_in_french_numbers_and_labels(app, orgs, users, handed_over):
    device, _ = handed_over
    ev = wiping.certificate_for_device(device.tag, actor=tech(users))
    text = " ".join(pdftotext(device_certificate_pdf(ev, chain_head=wiping.chain_head(), config=app.config)).split())
    for label in APPENDIX_G_FR:
        assert label in text, label
    assert "Flux pseudo-aléatoire (PRNG Stream)" in text  # translated, raw label kept
    assert "67,1 Mo" in text  # French number format
    assert "Karim Haddad" in text  # second person, by name
    assert ev.records[device.media[0].id].evidence.sha256 in text.replace(" ", "")
    from asset_tracker.intake import services as intake
    batch = intake.create_batch(actor=tech(users), name="Collecte CAF", donor_organisation_id=orgs["donor"].id)
    device.batch_id = batch.id
    db.session.commit()
    batch, evs = wiping.certificate_for_batch(batch.id, actor=tech(users))
    text = " ".join(pdftotext(batch_certificate_pdf(batch, evs, chain_head=wiping.chain_head(),
                                                    config=app.config)).split())
    for label in ["Effectué par (nom, fonction)", "Source : propriétaire des données (donateur)",
                  "Confidentialité avant assainissement", "Confidentialité après assainissement",
                  "Destination après effacement", "Sauvegarde des données", "Fichier de preuve (SHA-256)"]:
        assert label in text, label
    # Headers of the per-device table: pdftotext interleaves the lines of neighbouring header cells.
    for header in ["Supports (type, fabricant, modèle, numéro de série)", "Méthode de vérification et résultat",
                   "Type d'assainissement, méthode et technique, outil", "Seconde personne",
                   "Résultat et destination"]:
        assert all(word in text for word in header.split()), header
    assert "Léa Martin, Technicienne d'effacement" in text and "Karim Haddad" in text


# ---------------------------------------------------------------- sealed certificates


def edit_pdf_text(pdf: bytes, old: bytes, new: bytes) -> bytes:
    """Change printed text inside the PDF's (compressed) page streams, as someone with a PDF editor would.

    Each stream is decoded by the filters its own dictionary names (from its "N 0 obj" header), and only that
    dictionary loses its ASCII85 filter when the stream is written back Flate-compressed.
    """
    out, pos, changed = bytearray(), 0, False
    for m in re.finditer(rb"(?<!end)stream\r?\n", pdf):
        start = m.end()
        end = pdf.index(b"endstream", start)
        head = pdf.rfind(b" obj", 0, m.start())
        dictionary = pdf[head:m.start()]
        body = pdf[start:end].rstrip(b"\r\n")
        try:
            raw = body
            if b"/ASCII85Decode" in dictionary:
                raw = raw.strip()
                raw = raw[2:] if raw.startswith(b"<~") else raw
                # Only the "~>" end marker goes: ">" is also an ASCII85 digit, rstrip() would eat data.
                raw = base64.a85decode(raw[:-2] if raw.endswith(b"~>") else raw)
            text = zlib.decompress(raw)
        except (ValueError, zlib.error):
            continue  # not a compressed stream (an image, a font program, ...)
        if old not in text:
            continue
        changed = True
        out += pdf[pos:head] + dictionary.replace(b"/ASCII85Decode", b"") + b"stream\n" + zlib.compress(
            text.replace(old, new)) + b"\n"
        pos = end
    assert changed, "text not found"
    return bytes(out + pdf[pos:])


@pytest.fixture
def sealed(app, orgs, users, handed_over, signing_key, tmp_path):
    from asset_tracker.audit import keys
    device, _ = handed_over
    ev = wiping.certificate_for_device(device.tag, actor=tech(users))
    pdf = device_certificate_pdf(ev, chain_head=wiping.chain_head(), config=app.config,
                                 signing_key=keys.load_private(signing_key[0]))
    return device, pdf, Path(signing_key[1]).read_bytes()


def test_an_untouched_certificate_is_accepted_with_the_public_key_alone(sealed, tmp_path):
    device, pdf, pem = sealed
    ok, lines = verify_certificate.verify(pdf, pem)
    assert ok, lines
    path = tmp_path / "cert.pdf"
    path.write_bytes(pdf)
    (tmp_path / "pub.pem").write_bytes(pem)
    run = subprocess.run([sys.executable, "-m", "asset_tracker.audit.verify_certificate", str(path),
                          str(tmp_path / "pub.pem")], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent.parent)
    assert run.returncode == 0 and "OK" in run.stdout


def test_a_certificate_with_one_character_of_a_serial_edited_is_refused(sealed, runner, tmp_path):
    device, pdf, pem = sealed
    serial = device.media[0].serial.encode()
    forged = edit_pdf_text(pdf, serial, serial[:-1] + (b"9" if serial[-1:] != b"9" else b"8"))
    assert serial.decode() not in " ".join(pdftotext(forged).split())  # the forgery shows the edited serial
    ok, lines = verify_certificate.verify(forged, pem)
    assert not ok and any("Numéro de série" in line for line in lines), lines
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged)
    (tmp_path / "pub.pem").write_bytes(pem)
    result = runner.invoke(args=["audit", "verify-certificate", str(path), "--public-key", str(tmp_path / "pub.pem")])
    assert result.exit_code == 1 and "FAILED" in result.output
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    assert runner.invoke(args=["audit", "verify-certificate", str(good)]).exit_code == 0  # configured key


def test_the_english_certificate_is_sealed_too_and_keeps_nwipe_labels(app, users, handed_over, signing_key):
    from asset_tracker.audit import keys
    device, _ = handed_over
    ev = wiping.certificate_for_device(device.tag, actor=tech(users))
    pdf = device_certificate_pdf(ev, chain_head=wiping.chain_head(), config=app.config, lang="en",
                                 signing_key=keys.load_private(signing_key[0]))
    text = " ".join(pdftotext(pdf).split())
    for label in ("Performed by (name, title, organisation)", "Pre-sanitisation confidentiality",
                  "Post-sanitisation confidentiality", "Data backup", "Validation by a second person",
                  "Pseudo-random stream (PRNG Stream)", "67.1 MB"):
        assert label in text, label
    assert verify_certificate.verify(pdf, Path(signing_key[1]).read_bytes())[0]
