"""Wiping pages: the sample logs imported through the preview, the device's wiping page, the waiting list."""
import datetime as dt
import io
import re
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.wiping.models import WipeRecord
from tests.conftest import csrf_token
from tests.factories import make_device

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "nwipe"
PASS_LOG, FAIL_LOG = "nwipe-zero-1disk.log", "nwipe-readonly-fail.log"
UTC = dt.UTC


@pytest.fixture
def two_devices(orgs, users, frozen_clock):
    frozen_clock(dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC))
    # Without a capacity: the sample logs wiped 8 and 16 MiB loop devices, the media take their size from the log.
    made = [make_device(orgs, users, State.DIAGNOSED, capacity_bytes=None) for _ in range(2)]
    frozen_clock(dt.datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    return made


def test_sample_logs_imported_through_the_page_with_a_preview(client, login, two_devices):
    good, bad = two_devices
    login("technician")
    token = csrf_token(client, "/wiping/import")
    files = [(io.BytesIO((SAMPLES / n).read_bytes()), n) for n in (PASS_LOG, FAIL_LOG)]
    preview = client.post("/wiping/import/preview", data={"csrf_token": token, "files": files},
                          content_type="multipart/form-data")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, html[:2000]
    assert "Fill With Zeros" in html and "PRNG Stream" in html
    assert db.session.scalar(select(WipeRecord.id)) is None  # a preview records nothing
    keys = re.findall(r'name="medium-([0-9a-f]{16}-\d+)"', html)
    assert len(keys) == 2
    kept = dict(zip(re.findall(r'name="kept_name" value="([^"]+)"', html),
                    re.findall(r'name="kept_data" value="([^"]+)"', html), strict=False))
    form = {"csrf_token": token, "kept_name": list(kept), "kept_data": list(kept.values())}
    by_file = {}
    for key in keys:
        row = html[html.index(f'id="disk-{key}"'):]
        by_file[key] = PASS_LOG if PASS_LOG in row[:row.index("</tr>")] else FAIL_LOG
    for key, name in by_file.items():
        form[f"medium-{key}"] = str((good if name == PASS_LOG else bad).media[0].id)
    done = client.post("/wiping/import", data=form)
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]

    page = client.get(f"/wiping/devices/{good.tag}").get_data(as_text=True)
    assert "Fill With Zeros" in page and "last pass: verified" in page
    records = {r.medium_id: r for r in db.session.execute(select(WipeRecord)).scalars()}
    assert records[good.media[0].id].result.value == "passed"
    assert records[bad.media[0].id].result.value == "failed"
    assert records[good.media[0].id].evidence.sha256[:16] in page

    token = csrf_token(client, f"/devices/{bad.tag}")
    refused = client.post(f"/devices/{bad.tag}/transitions", data={"csrf_token": token, "target": "wiped"},
                          follow_redirects=True)
    assert db.session.get(type(bad), bad.id).state == State.DIAGNOSED
    assert refused.status_code == 200


def test_an_unreadable_log_on_the_page_names_the_file_and_line(client, login, two_devices):
    login("technician")
    token = csrf_token(client, "/wiping/import")
    resp = client.post("/wiping/import/preview", content_type="multipart/form-data", data={
        "csrf_token": token, "files": [(io.BytesIO(b"hello\n"), "notes.txt")]})
    assert resp.status_code == 422
    assert "notes.txt" in resp.get_data(as_text=True)


def test_a_log_cut_short_comes_back_on_the_import_page_with_the_reason_in_the_readers_language(
        client, login, two_devices):
    cut = (SAMPLES / PASS_LOG).read_bytes().split(b"\n\n", 1)[0] + b"\n"  # everything before the summary tables
    login("technician")
    token = csrf_token(client, "/wiping/import")
    for language, reason in (
            ("fr", "cut.log n'est pas un journal nwipe lisible (ligne 35 : le journal s'arrête avant le récapitulatif "
                   "nwipe de l'effacement de /dev/loop0 commencé ligne 24 (effacement encore en cours, ou fichier "
                   "tronqué)). Rien n'a été importé."),
            ("en", "cut.log cannot be read as an nwipe log (line 35: the log ends before nwipe's summary of the wipe "
                   "of /dev/loop0 started at line 24 (wipe still running, or file cut short)). Nothing was imported.")):
        client.post("/language", data={"csrf_token": token, "lang": language})
        resp = client.post("/wiping/import/preview", content_type="multipart/form-data", data={
            "csrf_token": token, "timezone": "UTC", "files": [(io.BytesIO(cut), "cut.log")]})
        html = unescape(resp.get_data(as_text=True))
        assert resp.status_code == 422
        assert reason in html, language
        assert 'id="f-files-again"' in html and '<option value="UTC" selected>' in html
        assert '<option value="UTC" selected>' not in html.split('id="f-csv-zone"', 1)[1]  # only the form sent
    assert db.session.scalar(select(WipeRecord.id)) is None


def test_media_and_a_manual_wipe_from_the_device_wiping_page(client, login, orgs, users):
    device = make_device(orgs, users, State.RECEIVED, media=0)
    login("technician")
    token = csrf_token(client, f"/wiping/devices/{device.tag}")
    assert client.post(f"/wiping/devices/{device.tag}/media", data={
        "csrf_token": token, "kind": "ssd", "serial": "S3Z9NB0K", "capacity_bytes": "256000000000"}).status_code == 302
    medium = db.session.get(type(device), device.id).media[0]
    now_local = dt.datetime.now(dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    resp = client.post(f"/wiping/devices/{device.tag}/records", content_type="multipart/form-data", data={
        "csrf_token": token, "medium_id": str(medium.id), "nist_category": "purge", "method": "ATA Secure Erase",
        "tool": "hdparm", "tool_version": "9.65", "verification": "full read-back", "result": "passed",
        "ended_at": now_local.strftime("%Y-%m-%dT%H:%M"),
        "evidence": (io.BytesIO(b"hdparm --security-erase ... done"), "hdparm.txt")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    page = client.get(f"/wiping/devices/{device.tag}").get_data(as_text=True)
    assert "ATA Secure Erase" in page and "S3Z9NB0K" in page
    waiting = client.get("/wiping/waiting").get_data(as_text=True)
    assert device.tag in waiting


def test_a_donor_sees_its_own_device_wiping_page_only(client, login, orgs, users):
    own = make_device(orgs, users, State.DIAGNOSED)
    other = make_device(orgs, users, State.DIAGNOSED, donor="donor_b")
    login("donor")
    assert client.get(f"/wiping/devices/{own.tag}").status_code == 200
    assert client.get(f"/wiping/devices/{other.tag}").status_code == 404
    assert client.get(f"/api/v1/devices/{other.tag}/wipe-certificate.pdf").status_code == 404
    assert client.get("/wiping/import").status_code == 403


def test_free_text_is_escaped_on_the_wiping_page(client, login, orgs, users):
    device = make_device(orgs, users, State.RECEIVED, media=0)
    login("technician")
    token = csrf_token(client, f"/wiping/devices/{device.tag}")
    client.post(f"/wiping/devices/{device.tag}/media", data={"csrf_token": token, "kind": "hdd",
                                                              "model": "<script>alert(1)</script>"})
    page = client.get(f"/wiping/devices/{device.tag}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_device_page_links_to_its_wiping_page(client, login, orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED)
    login("technician")
    assert f"/wiping/devices/{device.tag}" in client.get(f"/devices/{device.tag}").get_data(as_text=True)


def _preview(client, token, name, zone=None, **extra):
    data = {"csrf_token": token, "files": [(io.BytesIO((SAMPLES / name).read_bytes()), name)], **extra}
    if zone:
        data["timezone"] = zone
    return client.post("/wiping/import/preview", data=data, content_type="multipart/form-data")


def test_the_import_page_offers_the_station_time_zone_and_the_preview_reads_the_log_in_it(
        client, login, orgs, users, frozen_clock):
    frozen_clock(dt.datetime(2026, 12, 6, 4, 10, tzinfo=UTC))  # received 10 minutes before the UTC-clock wipe
    device = make_device(orgs, users, State.DIAGNOSED, capacity_bytes=64 * 2**20)
    frozen_clock(dt.datetime(2026, 12, 6, 5, 0, tzinfo=UTC))
    login("technician")
    page = client.get("/wiping/import").get_data(as_text=True)
    assert 'name="timezone"' in page and '<option value="UTC"' in page
    token = csrf_token(client, "/wiping/import")
    html = _preview(client, token, "nwipe-utc-clock.log").get_data(as_text=True)
    key = re.search(r'name="medium-([0-9a-f]{16}-\d+)"', html).group(1)
    as_paris = _preview(client, token, "nwipe-utc-clock.log", **{f"medium-{key}": str(device.media[0].id)})
    assert "avant la dernière réception" in as_paris.get_data(as_text=True)
    as_utc = _preview(client, token, "nwipe-utc-clock.log", zone="UTC",
                      **{f"medium-{key}": str(device.media[0].id)}).get_data(as_text=True)
    assert "avant la dernière réception" not in as_utc and 'name="timezone" value="UTC"' in as_utc
    assert "05:24" in as_utc  # 04:24 UTC shown in the workshop's time


def test_the_preview_names_the_device_a_reused_log_already_cleared(client, login, orgs, users, frozen_clock):
    frozen_clock(dt.datetime(2026, 12, 6, 4, 0, tzinfo=UTC))
    first, second = (make_device(orgs, users, State.DIAGNOSED, capacity_bytes=64 * 2**20) for _ in range(2))
    frozen_clock(dt.datetime(2026, 12, 6, 5, 0, tzinfo=UTC))
    login("technician")
    token = csrf_token(client, "/wiping/import")
    html = _preview(client, token, "nwipe-prng-verified.log").get_data(as_text=True)
    key = re.search(r'name="medium-([0-9a-f]{16}-\d+)"', html).group(1)
    kept = {"kept_name": re.findall(r'name="kept_name" value="([^"]+)"', html),
            "kept_data": re.findall(r'name="kept_data" value="([^"]+)"', html)}
    done = client.post("/wiping/import", data={"csrf_token": token, f"medium-{key}": str(first.media[0].id), **kept})
    assert done.status_code == 302
    again = _preview(client, token, "nwipe-prng-verified.log", **{f"medium-{key}": str(second.media[0].id)})
    assert f"a déjà effacé un support de l'appareil {first.tag}" in again.get_data(as_text=True)
    refused = client.post("/wiping/import", data={"csrf_token": token, f"medium-{key}": str(second.media[0].id),
                                                  **kept})
    assert refused.status_code == 409 and first.tag in refused.get_data(as_text=True)
    assert len(db.session.execute(select(WipeRecord)).scalars().all()) == 1


def test_a_size_mismatch_asks_for_a_written_reason_on_the_page_and_records_it(client, login, orgs, users,
                                                                             frozen_clock):
    frozen_clock(dt.datetime(2026, 12, 6, 4, 0, tzinfo=UTC))
    device = make_device(orgs, users, State.DIAGNOSED, capacity_bytes=256 * 10**9)  # the log wiped 64 MiB
    frozen_clock(dt.datetime(2026, 12, 6, 5, 0, tzinfo=UTC))
    login("technician")
    token = csrf_token(client, "/wiping/import")
    html = _preview(client, token, "nwipe-prng-verified.log").get_data(as_text=True)
    key = re.search(r'name="medium-([0-9a-f]{16}-\d+)"', html).group(1)
    chosen = _preview(client, token, "nwipe-prng-verified.log", **{f"medium-{key}": str(device.media[0].id)})
    page = chosen.get_data(as_text=True)
    assert "ne correspond pas au support" in page and f'name="override-{key}"' in page
    kept = {"kept_name": re.findall(r'name="kept_name" value="([^"]+)"', page),
            "kept_data": re.findall(r'name="kept_data" value="([^"]+)"', page)}
    form = {"csrf_token": token, f"medium-{key}": str(device.media[0].id), **kept}
    refused = client.post("/wiping/import", data=form)
    assert refused.status_code == 409 and db.session.scalar(select(WipeRecord.id)) is None
    done = client.post("/wiping/import", data={**form, f"override-{key}": "Capacité saisie au don erronée"})
    assert done.status_code == 302
    record = db.session.execute(select(WipeRecord)).scalar_one()
    assert record.override_reason == "Capacité saisie au don erronée"
    assert "Capacité saisie au don erronée" in client.get(f"/wiping/devices/{device.tag}").get_data(as_text=True)


def test_the_preview_words_a_logs_doubts_in_the_readers_language(client, login, two_devices):
    # A short overwrite and a hidden area nwipe detected: both make the "Erased" disk a failed record.
    log = (SAMPLES / PASS_LOG).read_bytes().replace(b"8388608 bytes written", b"4194304 bytes written")
    head, found, rest = log.partition(b"S/N=  \xa8l\xb2\x7f\n")
    log = head + found + b"[2026/11/29 03:28:29] warning: HIDDEN AREA DETECTED! on /dev/loop0\n" + rest
    login("technician")
    token = csrf_token(client, "/wiping/import")
    for language, expected in (
            ("fr", ["Seuls 4\u202f194\u202f304 des 8\u202f388\u202f608 octets ont été réécrits.",
                    "nwipe a détecté une zone cachée (HPA/DCO) sur ce disque ligne 4 : ses secteurs n'ont pas été "
                    "réécrits.", "échoué"]),
            ("en", ["Only 4,194,304 of 8,388,608 bytes were overwritten.",
                    "nwipe detected a hidden area (HPA/DCO) on this disk at line 4: its sectors were not overwritten.",
                    "failed"])):
        client.post("/language", data={"csrf_token": token, "lang": language})
        preview = client.post("/wiping/import/preview", content_type="multipart/form-data",
                              data={"csrf_token": token, "files": [(io.BytesIO(log), "x.log")]})
        html = unescape(preview.get_data(as_text=True))
        assert preview.status_code == 200, html[:2000]
        for text in expected:
            assert text in html, (language, text)
        assert "bytes were overwritten" not in html or language == "en"


def test_every_doubt_the_parser_can_raise_has_its_wording():
    """Each concerns.append(...) text of the parser, its values replaced by samples, matches one wording."""
    import ast

    from asset_tracker.wiping import nwipe
    from asset_tracker.wiping.views import _CONCERN_PATTERNS

    def sample(node) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.JoinedStr):
            return "".join(sample(v) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return "'7'" if node.conversion == ord("r") else "7"
        if isinstance(node, ast.BinOp):  # implicit concatenation written with +
            return sample(node.left) + sample(node.right)
        raise AssertionError(ast.dump(node))

    texts = [sample(call.args[0]) for call in ast.walk(ast.parse(Path(nwipe.__file__).read_text()))
             if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append"
             and isinstance(call.func.value, ast.Name) and call.func.value.id == "concerns"]
    assert len(texts) >= 10
    unworded = [t for t in texts if not any(p.fullmatch(t) for p, _ in _CONCERN_PATTERNS)]
    assert unworded == []


def test_a_refused_wipe_csv_lists_every_error_by_row_and_column_on_the_import_page(client, login, two_devices):
    login("technician")
    token = csrf_token(client, "/wiping/import")
    csv_file = b"device_tag;medium_serial;kind;colour\nRB-000001-X;S1;ssd;blue\n"
    resp = client.post("/wiping/import-csv", content_type="multipart/form-data", data={
        "csrf_token": token, "timezone": "UTC", "file": (io.BytesIO(csv_file), "results.csv")})
    html = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422
    table = html.split('id="csv-errors"', 1)[1].split("</table>", 1)[0]
    assert "<code>colour</code>" in table and "colonne inconnue (attendues : device_tag, medium_serial" in table
    assert table.count("colonne obligatoire manquante") == 7
    for column in ("method", "nist_category", "tool", "started_at", "ended_at", "operator", "result"):
        assert f"<code>{column}</code>" in table, column
    assert 'id="f-csv-again"' in html
    assert '<option value="UTC" selected>' in html.split('id="f-csv-zone"', 1)[1]
    assert db.session.scalar(select(WipeRecord.id)) is None
