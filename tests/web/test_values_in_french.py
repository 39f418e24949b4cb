"""Stored values (states, actions, results, tool labels, numbers) are shown in the reader's language."""
import html as htmllib

from flask_babel import force_locale

from asset_tracker.i18n import decimal, percent
from tests.factories import make_device
from tests.web.test_workshop_station import form_scan


def test_a_refused_scan_names_the_allowed_steps_by_their_french_labels(client, login, orgs, users):
    device = make_device(orgs, users, state="handed_over")
    login("technician")
    form_scan(client, device.tag, action="wipe")
    page = htmllib.unescape(client.get("/workshop/station", headers={"Accept-Language": "fr"}).get_data(as_text=True))
    tail = page.split("étapes possibles : ")[1].split(".")[0]
    assert "perdu" in tail
    assert "lost" not in tail and "returned" not in tail


def test_the_station_history_names_the_action_in_french(client, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    form_scan(client, device.tag, action="receive")
    page = htmllib.unescape(client.get("/workshop/station").get_data(as_text=True))
    history = page.split('id="scan-list"')[1]
    assert "<td>receive</td>" not in history
    assert "<td>Réceptionner à l'atelier</td>" in history


def test_numbers_and_percentages_follow_the_language(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}), force_locale("fr"):
        assert percent(3.8) == "3,8\u202f%"
        assert decimal(9.3) == "9,3"
        assert percent(None) == "—"
    with app.test_request_context(headers={"Accept-Language": "en"}), force_locale("en"):
        assert percent(3.8) == "3.8%"
        assert decimal(9.3) == "9.3"


def test_a_tool_label_is_translated_and_keeps_its_raw_form(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}), force_locale("fr"):
        render = app.jinja_env.from_string("{{ 'Fill With Zeros'|value_label('method') }} · {{ 'ram_gb'|key_label }}"
                                           " · {{ 'passed'|value_label('result') }}")
        assert render.render() == "Réécriture par des zéros (Fill With Zeros) · Mémoire vive (Go) · réussi"
