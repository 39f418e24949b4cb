"""Wiping pages: waiting list, a device's media and wipe records, nwipe import with preview, second checks."""
from __future__ import annotations

import base64
import datetime as dt
import re
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from ..auth.access import access
from ..auth.session import actor
from ..devices.models import Device
from ..devices.services import get_device
from ..errors import Invalid
from ..lifecycle import N_, State
from ..phrases import Phrase
from ..web.forms import keeps_form, on_refusal, render_refused
from ..web.lists import ListSpec, list_page
from . import services
from .csv_import import template as csv_template_text
from .models import VerificationStatus, WipeVerification
from .schemas import DestructionIn, MediumCreateIn, MediumUpdateIn, NoMediaIn, VerificationIn, WipeRecordIn

bp = Blueprint("wiping", __name__, url_prefix="/wiping")

WORKSHOP = ("technician", "admin")
READERS = ("technician", "admin", "auditor")
DEVICE_READERS = ("donor", "technician", "admin", "auditor")

NAV = [
    ("wiping.waiting", N_("Waiting for wipe"), READERS, 25, "wiping"),
    ("wiping.import_logs", N_("Import wipe logs"), WORKSHOP, 26, "wiping"),
    ("wiping.checks", N_("Wipe checks"), READERS, 27, "wiping"),
]


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Paris"))


def _form(*datetime_fields: str) -> dict:
    """The posted fields without the CSRF token and empty values; local date-times get the workshop's zone."""
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""}
    for name in datetime_fields:
        if name in form:
            try:
                form[name] = dt.datetime.fromisoformat(form[name]).replace(tzinfo=_zone()).isoformat()
            except ValueError:
                raise Invalid("%(field)s is not a date and time.", field=name, details={name: ["not a date"]}) from None
    return form


def _back(tag: str):
    return redirect(url_for("wiping.device", tag=tag))


# The nwipe parser's doubts about a disk (DiskResult.concerns, kept in English in the record as evidence),
# worded in the reader's language on the preview. A doubt not listed here is shown as the parser wrote it.
_CONCERNS = (
    (r"nwipe says (?P<status>\S+) but logged (?P<n>\d+) error line\(s\) about this device "
     r"\(first at line (?P<line>\d+)\)",
     N_("nwipe says %(status)s but logged %(n)s error line(s) about this disk (the first at line %(line)s).")),
    (r"\[FAILURE\] logged for this device at line (?P<line>\d+)",
     N_("nwipe logged [FAILURE] for this disk at line %(line)s.")),
    (r"no 'bytes written' line for this device", N_("No line of the log says how many bytes were written.")),
    (r"only (?P<written>\d+) of (?P<size>\d+) bytes were overwritten",
     N_("Only %(written)s of %(size)s bytes were overwritten.")),
    (r"verification '(?P<verification>[^']*)' was requested but no successful verification is logged",
     N_("A verification (%(verification)s) was asked for, but no successful verification is logged.")),
    (r"unknown method (?P<method>.+): no NIST SP 800-88 category",
     N_("Unknown method %(method)s: no NIST SP 800-88 category.")),
    (r"method (?P<method>.+) only reads the disk: it sanitises nothing",
     N_("The method %(method)s only reads the disk: it sanitises nothing.")),
    (r"nwipe detected a hidden area \(HPA/DCO\) on this device at line (?P<line>\d+): its sectors were not overwritten",
     N_("nwipe detected a hidden area (HPA/DCO) on this disk at line %(line)s: its sectors were not overwritten.")),
    (r"the summary shows model (?P<table>.+), the device was found as (?P<found>.+)",
     N_("The summary table shows the model %(table)s, the disk was found as %(found)s.")),
    (r"the summary shows serial (?P<table>.+), the device was found with (?P<found>.+)",
     N_("The summary table shows the serial %(table)s, the disk was found with %(found)s.")),
)
_CONCERN_PATTERNS = tuple((re.compile(pattern, re.S), msgid) for pattern, msgid in _CONCERNS)


@bp.app_template_filter("wipe_concern")
def wipe_concern(text: str) -> str:
    for pattern, msgid in _CONCERN_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            values = {k: format_decimal(int(v)) if k in ("written", "size") else v
                      for k, v in match.groupdict().items()}
            return _(msgid, **values)
    return text


def mismatch_label(d) -> list[str]:
    """What differs between the log and the medium, in the reader's language (the API keeps mismatch_text)."""
    out = []
    if "serial" in d.mismatches:
        out.append(_("serial %(log)s (log) ≠ %(medium)s (medium)", log=d.disk.serial, medium=d.medium.serial))
    if "size" in d.mismatches:
        out.append(_("size %(log)s bytes (log) ≠ %(medium)s bytes (medium)",
                     log=format_decimal(d.disk.size_bytes or 0), medium=format_decimal(d.medium.capacity_bytes or 0)))
    return out


WAITING_LIST = ListSpec(
    name="waiting-for-wipe", default_sort="since",
    sorts={"since": Device.state_since, "tag": Device.tag, "state": Device.state},
    columns=("tag", "state", "state_since", "media", "wiped_or_destroyed", "donor"),
)
CHECK_LIST = ListSpec(
    name="wipe-checks", default_sort="picked",
    sorts={"picked": WipeVerification.selected_at, "tag": Device.tag},
    columns=("tag", "picked_at", "wiped_by"),
)


@bp.app_template_global("batch_wipe_summary")
def _batch_wipe_summary(batch_id: int) -> dict:
    """For the batch page: "N of M devices wiped with evidence" in the caller's scope."""
    return services.batch_wipe_summary(batch_id, actor=actor())


@bp.route("/waiting")
@access(*READERS)
def waiting():
    page = list_page(WAITING_LIST, services.waiting_query(actor=actor()), tiebreak=Device.id,
                     export_row=lambda r: (r[0].tag, r[0].state, r[0].state_since, r[1], r[2], r[0].donor.name))
    if not isinstance(page, dict):
        return page
    rows = [{"device": d, "media": m, "cleared": c} for d, m, c in page["items"]]
    return render_template("wiping/waiting.html", rows=rows, list=page["list"])


def _device_context(tag: str, **_ignored) -> dict:
    who = actor()
    d = get_device(tag, actor=who)
    evidence = services.device_evidence([d])[0]
    records = services.wipe_records(d)
    return dict(
        device=d,
        evidence=evidence,
        records=records,
        events=services.record_events(records),
        who=who,
        media_editable=d.state in services.MEDIA_EDITABLE_STATES
        and (who.role != "donor" or d.state == State.REGISTERED)
        and who.role != "auditor",
        can_record=who.role in WORKSHOP and d.state in services.RECORDABLE_STATES,
        check=services.current_verification(d),
        destruction_methods=services.DESTRUCTION_METHODS,
        now_local=dt.datetime.now(_zone()).strftime("%Y-%m-%dT%H:%M"),
    )


# A refused form on the device's wipe page comes back with what was typed and the reason next to each field.
keeps_device_form = keeps_form("wiping/device.html", _device_context)


@bp.route("/devices/<tag>")
@access(*DEVICE_READERS)
def device(tag):
    return render_template("wiping/device.html", **_device_context(tag))


@bp.route("/devices/<tag>/media", methods=["POST"])
@access("donor", *WORKSHOP)
@keeps_device_form
def add_medium(tag):
    data = MediumCreateIn().load(_form())
    services.add_medium(tag, actor=actor(), **data)
    flash(_("Storage medium added."), "success")
    return _back(tag)


@bp.route("/devices/<tag>/media/<int:medium_id>", methods=["POST"])
@access("donor", *WORKSHOP)
@keeps_device_form
def update_medium(tag, medium_id):
    form = _form()
    if form.pop("remove", None):
        services.remove_medium(tag, medium_id, actor=actor())
        flash(_("Storage medium removed."), "success")
        return _back(tag)
    for name in ("model", "serial", "capacity_bytes"):
        form.setdefault(name, None)
    services.update_medium(tag, medium_id, MediumUpdateIn().load(form), actor=actor())
    flash(_("Storage medium updated."), "success")
    return _back(tag)


@bp.route("/devices/<tag>/records", methods=["POST"])
@access(*WORKSHOP)
@keeps_device_form
def add_record(tag):
    data = WipeRecordIn().load(_form("started_at", "ended_at"))
    upload = request.files.get("evidence")
    evidence = (upload.filename, upload.read()) if upload else None
    medium_id = data.pop("medium_id")
    services.record_manual_wipe(tag, medium_id, actor=actor(), evidence_file=evidence, **data)
    flash(_("Wipe recorded."), "success")
    return _back(tag)


@bp.route("/devices/<tag>/destructions", methods=["POST"])
@access(*WORKSHOP)
@keeps_device_form
def add_destruction(tag):
    data = DestructionIn().load(_form("destroyed_at"))
    upload = request.files.get("evidence")
    evidence = (upload.filename, upload.read()) if upload else None
    medium_id = data.pop("medium_id")
    services.record_destruction(tag, medium_id, actor=actor(), evidence_file=evidence, **data)
    flash(_("Destruction recorded."), "success")
    return _back(tag)


@bp.route("/devices/<tag>/no-media", methods=["POST"])
@access(*WORKSHOP)
@keeps_device_form
def no_media(tag):
    data = NoMediaIn().load(_form())
    services.state_no_media(get_device(tag, actor=actor(), for_update=True), actor=actor(), note=data["note"])
    flash(_("Statement recorded: this device has no storage media."), "success")
    return _back(tag)


@bp.route("/devices/<tag>/verification", methods=["POST"])
@access(*WORKSHOP)
def verify(tag):
    form = _form()
    form["confirmed"] = form.get("confirmed") == "1"
    data = VerificationIn().load(form)
    services.verify_wipe(tag, actor=actor(), confirmed=data["confirmed"], note=data["note"])
    flash(_("Check recorded."), "success")
    return redirect(url_for("wiping.checks"))


@bp.route("/checks")
@access(*READERS)
def checks():
    page = list_page(CHECK_LIST, services.pending_verifications_query(actor=actor()), tiebreak=WipeVerification.id,
                     export_row=lambda r: (r[1].tag, r[0].selected_at, r[0].wiped_by_name))
    if not isinstance(page, dict):
        return page
    return render_template("wiping/checks.html", rows=page["items"], list=page["list"],
                           VerificationStatus=VerificationStatus)


# ---------------------------------------------------------------- nwipe import with a preview


def _log_zone() -> str:
    """The zone the posted form chose for the logs' times, else the configured default."""
    chosen = request.form.get("timezone") or current_app.config.get("WIPE_LOG_TIMEZONE", "Europe/Paris")
    return services.log_zone(chosen).key


def _import_context() -> dict:
    default = current_app.config.get("WIPE_LOG_TIMEZONE", "Europe/Paris")
    zones = list(dict.fromkeys([default, *current_app.config.get("WIPE_LOG_TIMEZONES", [])]))
    return dict(zones=zones, default_zone=default)


@bp.route("/import")
@access(*WORKSHOP)
def import_logs():
    return render_template("wiping/import.html", form={}, **_import_context())


# A refused file comes back on the import page with the reason (which file, which line, why) and the
# chosen time zone; a browser never refills a file input, so the file is chosen again.
keeps_import_form = keeps_form("wiping/import.html", _import_context)


def _posted_files() -> list[tuple[str, bytes]]:
    """Uploaded files on the first step; on the confirmation step the same bytes come back from the preview."""
    files = [(f.filename or "upload.log", f.read()) for f in request.files.getlist("files") if f and f.filename]
    for i, name in enumerate(request.form.getlist("kept_name")):
        try:
            files.append((name, base64.b64decode(request.form.getlist("kept_data")[i], validate=True)))
        except (ValueError, IndexError):
            raise Invalid("The preview was damaged in transit: upload the logs again.") from None
    return files


def _assignments() -> dict:
    return {k[len("medium-"):]: v for k, v in request.form.items() if k.startswith("medium-") and v}


def _overrides() -> dict:
    return {k[len("override-"):]: v for k, v in request.form.items() if k.startswith("override-") and v.strip()}


@bp.route("/import/preview", methods=["POST"])
@access(*WORKSHOP)
@keeps_import_form
def preview_logs():
    files = _posted_files()
    zone = _log_zone()
    plan = services.plan_nwipe_import(files, actor=actor(), assignments=_assignments(), overrides=_overrides(),
                                      timezone=zone)
    kept = [(name, base64.b64encode(data).decode()) for name, data in files]
    return render_template("wiping/preview.html", plan=plan, kept=kept, problems=services.PROBLEMS, zone=zone,
                           mismatch_text=mismatch_label)


@bp.route("/import", methods=["POST"])
@access(*WORKSHOP)
def commit_logs():
    files = _posted_files()
    records = services.import_nwipe(files, actor=actor(), assignments=_assignments(), overrides=_overrides(),
                                    timezone=_log_zone())
    passed = sum(1 for r in records if r.result.value == "passed")
    flash(_("%(num)s wipe record(s) imported: %(passed)s passed, %(other)s failed or aborted.", num=len(records),
            passed=passed, other=len(records) - passed), "success")
    return redirect(url_for("wiping.waiting"))


def _csv_refused(err):
    """The import page again, with the reason and, for a refused file, every error by row and column."""
    details = getattr(err, "details", None) or {}
    rows = [{**e, "message": e["message"].translated() if isinstance(e["message"], Phrase) else e["message"]}
            for e in details.get("errors") or [] if isinstance(e, dict)]
    return render_refused("wiping/import.html", err, {**_import_context(), "csv_errors": rows})


@bp.route("/import-csv", methods=["POST"])
@access(*WORKSHOP)
@on_refusal(_csv_refused)
def import_csv():
    upload = request.files.get("file")
    if not upload or not upload.filename:
        raise Invalid("Choose a CSV file.", details={"file": ["required"]})
    records = services.import_wipe_csv(upload.read(), upload.filename, actor=actor(), timezone=_log_zone())
    flash(_("%(num)s wipe record(s) imported from %(file)s.", num=len(records), file=upload.filename), "success")
    if records.skipped:
        flash(_("%(num)s row(s) were already recorded and were skipped.", num=len(records.skipped)), "info")
    return redirect(url_for("wiping.waiting"))


@bp.route("/import-csv/template.csv")
@access(*WORKSHOP)
def csv_template():
    return current_app.response_class(csv_template_text(), mimetype="text/csv",
                                      headers={"Content-Disposition": 'attachment; filename="wipe-results.csv"'})

