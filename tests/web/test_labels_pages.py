"""Label pages: print by tags, from a device, a batch, the device list's filter; blank tags; template errors."""
from __future__ import annotations

import re

import pytest

from asset_tracker import create_app
from asset_tracker.core import Actor
from tests.conftest import csrf_token
from tests.factories import make_device
from tests.services.test_labels_printing import decoded_tags


def post_form(client, page, action, data):
    token = csrf_token(client, page)
    return client.post(action, data={**data, "csrf_token": token})


def test_print_by_scanned_tags_downloads_a_pdf_of_those_tags(client, login, orgs, users):
    devs = [make_device(orgs, users) for _ in range(3)]
    login("technician")
    page = client.get("/labels")
    assert page.status_code == 200 and "a4-3x7-63x38" in page.get_data(as_text=True)

    resp = post_form(client, "/labels", "/labels/print",
                     {"tags": f"{devs[0].tag}\n{devs[2].tag.lower()}\r\n", "template": "a4-3x7-63x38",
                      "start_position": "3"})

    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert sorted(decoded_tags(resp.data)) == sorted([devs[0].tag, devs[2].tag])


def test_a_tag_outside_the_donors_scope_answers_404_on_the_form(client, login, orgs, users):
    other = make_device(orgs, users, donor="donor_b")
    login("donor")
    resp = post_form(client, "/labels", "/labels/print", {"tags": other.tag, "template": "a4-3x7-63x38"})
    assert resp.status_code == 404
    assert other.tag in resp.get_data(as_text=True)  # the form keeps what was typed


def test_device_page_prints_its_label_as_png_and_shows_the_reprint_count(client, login, orgs, users):
    device = make_device(orgs, users)
    login("technician")
    page = client.get(f"/labels/devices/{device.tag}")
    assert page.status_code == 200
    first = post_form(client, f"/labels/devices/{device.tag}", f"/labels/devices/{device.tag}",
                      {"template": "roll-62x29", "format": "png"})
    assert first.mimetype == "image/png" and first.headers["X-Label-Reprints"] == "0"
    again = post_form(client, f"/labels/devices/{device.tag}", f"/labels/devices/{device.tag}",
                      {"template": "roll-62x29", "format": "auto"})
    assert again.mimetype == "application/pdf" and again.headers["X-Label-Reprints"] == "1"
    text = client.get(f"/labels/devices/{device.tag}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r"2\s+(times|fois)", text)


def test_device_label_page_of_another_donors_device_is_404(client, login, orgs, users):
    other = make_device(orgs, users, donor="donor_b")
    login("donor")
    assert client.get(f"/labels/devices/{other.tag}").status_code == 404


def test_zpl_download_from_the_device_page(client, login, orgs, users):
    device = make_device(orgs, users)
    login("technician")
    resp = post_form(client, f"/labels/devices/{device.tag}", f"/labels/devices/{device.tag}",
                     {"template": "zpl-2x1-203dpi"})
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].endswith('.zpl"')
    assert device.tag in resp.get_data(as_text=True)


def test_batch_labels_page(client, login, orgs, users):
    from asset_tracker.intake import services as intake

    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Lot <b>mars</b>",
                                donor_organisation_id=orgs["donor"].id)
    d = intake.add_device(batch.id, actor=Actor.of(users["donor"]), type="laptop", serial="BATCHWEB01")
    login("technician")
    page = client.get(f"/labels/batches/{batch.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Lot &lt;b&gt;mars&lt;/b&gt;" in html
    resp = post_form(client, f"/labels/batches/{batch.id}", f"/labels/batches/{batch.id}",
                     {"template": "a4-3x8-70x37"})
    assert decoded_tags(resp.data) == [d.tag]


def test_the_device_list_filter_prints_every_matching_device(client, login, orgs, users):
    tablets = [make_device(orgs, users, type="tablet") for _ in range(2)]
    make_device(orgs, users, type="laptop")
    login("technician")
    page = client.get("/labels/selection?type=tablet")
    assert page.status_code == 200
    resp = post_form(client, "/labels/selection?type=tablet", "/labels/selection?type=tablet",
                     {"template": "a4-5x13-38x21"})
    assert sorted(decoded_tags(resp.data)) == sorted(t.tag for t in tablets)


def test_blank_tags_page_issues_a_range_and_a_donor_sees_only_its_own(client, login, orgs, users):
    login("technician")
    resp = post_form(client, "/labels/blank", "/labels/blank",
                     {"donor_organisation_id": str(orgs["donor"].id), "count": "4", "template": "a4-3x7-63x38",
                      "start_position": "1"})
    assert resp.status_code == 200 and len(decoded_tags(resp.data)) == 4
    client.post("/logout", data={"csrf_token": csrf_token(client, "/labels")})

    login("donor_b")
    assert orgs["donor"].name not in client.get("/labels/blank").get_data(as_text=True)
    assert post_form(client, "/labels/blank", f"/labels/blank/{resp.headers['X-Blank-Range']}",
                     {"template": "a4-3x7-63x38"}).status_code == 404


def test_a_donor_cannot_issue_blank_tags_from_the_page(client, login, orgs, users):
    login("donor")
    assert "Issue a range" not in client.get("/labels/blank", headers={"Accept-Language": "en"}).get_data(as_text=True)
    resp = post_form(client, "/labels/blank", "/labels/blank",
                     {"donor_organisation_id": str(orgs["donor"].id), "count": "4"})
    assert resp.status_code == 403


@pytest.mark.parametrize("path", ["/labels", "/labels/selection"])
def test_auditors_do_not_get_print_pages(client, login, users, path):
    login("auditor")
    assert client.get(path).status_code == 403


def test_a_malformed_template_is_refused_at_start_up_and_shown_to_the_admin(app, client, login, tmp_path):
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "labels"
    (tmp_path / "roll-62x29.json").write_text((source / "roll-62x29.json").read_text())
    (tmp_path / "a4-wrong.json").write_text(
        (source / "a4-3x7-63x38.json").read_text().replace('"columns": 3', '"columns": 4')
    )
    fresh = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                       LABEL_TEMPLATE_DIR=str(tmp_path))
    catalogue = fresh.extensions["labels"]
    assert list(catalogue.templates) == ["roll-62x29"]
    assert catalogue.errors[0].source == "a4-wrong.json" and "wider than the page" in catalogue.errors[0].problem

    # The running app shows its refused files to the admin, and only to the admin.
    app.extensions["labels"].errors.append(catalogue.errors[0])
    try:
        login("admin")
        html = client.get("/labels").get_data(as_text=True)
        assert "a4-wrong.json" in html and "wider than the page" in html
        client.post("/logout", data={"csrf_token": csrf_token(client, "/labels")})
        login("technician")
        assert "a4-wrong.json" not in client.get("/labels").get_data(as_text=True)
    finally:
        app.extensions["labels"].errors.pop()


def test_an_unknown_label_line_setting_stops_the_start(app):
    with pytest.raises(RuntimeError, match="LABEL_LINE"):
        create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], LABEL_LINE="colour")


def test_label_pages_speak_french_by_default(client, login, orgs, users):
    login("technician")
    html = client.get("/labels/blank").get_data(as_text=True)
    assert "Étiquettes vierges pré-imprimées" in html
    assert "21 étiquettes par planche" in client.get("/labels").get_data(as_text=True)
