"""Label verbs: the template catalogue, printing (logged in the custody chain, reprints counted), blank tags."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..auth.models import User
from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices import filters
from ..devices.models import DEVICE_TYPE_LABELS, Device
from ..devices.services import allocate_tags, scoped, unknown_reference
from ..distribution.models import Programme
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..intake.services import get_batch
from ..organisations.models import Organisation, OrgKind
from .code128 import LabelError
from .models import BlankTag, BlankTagIssue, LabelPrint
from .render import LabelData, render_pdf, render_png, render_svg, render_zpl
from .templates import Template, TemplateError, load_template

log = logging.getLogger(__name__)

FORMATS = ("pdf", "svg", "png", "zpl")
MIMETYPES = {
    "pdf": "application/pdf",
    "svg": "image/svg+xml",
    "png": "image/png",
    # ZPL is plain UTF-8 text sent as-is to the printer (port 9100).
    "zpl": "text/plain; charset=utf-8",
}
LINE_MODES = ("type_model", "programme")
KIND_ORDER = {"sheet": 0, "roll": 1, "zpl": 2}
# Rows per multi-row statement: well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 500


# ---------------------------------------------------------------- templates


@dataclass
class Catalogue:
    """The templates loaded at start-up, and the files that were refused (shown on the admin's labels page)."""

    directory: str
    templates: dict[str, Template]
    errors: list[TemplateError]

    def ordered(self) -> list[Template]:
        return sorted(self.templates.values(), key=lambda t: (KIND_ORDER.get(t.kind, 9), t.name))


def load_catalogue(directory: str | Path, logger: logging.Logger | None = None) -> Catalogue:
    """Load every template of ``directory``; a malformed file is refused and logged, the others stay usable."""
    logger = logger or log
    folder = Path(directory)
    if not folder.is_dir():
        error = TemplateError(str(folder), "the label templates directory does not exist")
        logger.error("%s", error)
        return Catalogue(str(folder), {}, [error])
    templates: dict[str, Template] = {}
    errors: list[TemplateError] = []
    for path in sorted(folder.glob("*.json")):
        try:
            template = load_template(path)
        except TemplateError as exc:
            logger.error("%s; this template is refused, the others stay usable", exc)
            errors.append(exc)
            continue
        templates[template.name] = template
    return Catalogue(str(folder), templates, errors)


def init_app(app: Flask) -> None:
    """Read the label templates once, at start-up; an unknown LABEL_LINE stops the start, naming the key."""
    if app.config.get("LABEL_LINE") not in LINE_MODES:
        raise RuntimeError(f"LABEL_LINE must be one of {', '.join(LINE_MODES)}, got {app.config.get('LABEL_LINE')!r}")
    app.extensions["labels"] = load_catalogue(app.config["LABEL_TEMPLATE_DIR"], app.logger)


def catalogue() -> Catalogue:
    app = current_app._get_current_object()
    if "labels" not in app.extensions:
        init_app(app)
    return app.extensions["labels"]


def get_template(name: str | None) -> Template:
    template = catalogue().templates.get(name or "")
    if template is None:
        raise Invalid("Unknown label template %(name)s.", name=str(name), details={"template": ["unknown template"]})
    return template


def label_settings(config: Mapping, *, line: bool = False, tags: bool = False) -> dict:
    """The label settings of the configuration, as the verbs' keyword arguments (the routes and the pages):
    every job LABEL_MAX_PER_JOB; with ``line``, the short line of device labels (LABEL_LINE); with ``tags``,
    the format of newly issued tags (TAG_PREFIX, TAG_WIDTH)."""
    settings = {"max_per_job": config["LABEL_MAX_PER_JOB"]}
    if line:
        settings["line"] = config["LABEL_LINE"]
    if tags:
        settings.update(tag_prefix=config["TAG_PREFIX"], tag_width=config["TAG_WIDTH"])
    return settings


def formats_for(template: Template) -> tuple[str, ...]:
    return ("zpl",) if template.kind == "zpl" else ("pdf", "svg", "png")


def default_template(*, wanted: str | None) -> str | None:
    """``wanted`` (LABEL_DEFAULT_TEMPLATE, may be unset) when it is in service, else the first template."""
    templates = catalogue().templates
    if wanted in templates:
        return wanted
    ordered = catalogue().ordered()
    return ordered[0].name if ordered else None


# ---------------------------------------------------------------- the short line


def label_line(device_type, brand: str | None, model: str | None, programme: str | None, *, mode: str,
               language: str) -> str:
    """The short line under the tag: the programme's name, or the device type (in ``language``) and model.

    With ``mode="programme"`` a device not yet reserved for a programme falls back to type and model.
    """
    if mode == "programme" and programme:
        return programme
    names = DEVICE_TYPE_LABELS.get(device_type, {})
    kind = names.get(language) or names.get("fr") or str(getattr(device_type, "value", device_type or ""))
    brand, model = (brand or "").strip(), (model or "").strip()
    if brand and model.lower().startswith(brand.lower()):
        brand = ""
    name = " ".join(part for part in (brand, model) if part)
    return f"{kind} · {name}" if name else kind


# ---------------------------------------------------------------- printing


@dataclass(frozen=True)
class PrintedFile:
    """A rendered print job, ready to download; ``reprints`` lists the tags that were printed before."""

    content: bytes
    mimetype: str
    filename: str
    template: str
    format: str
    tags: list[str]
    reprints: list[str]

    @property
    def reprint(self) -> bool:
        return bool(self.reprints)


def check_job(template: Template, fmt: str, count: int, start_position: int = 0, *, max_per_job: int) -> None:
    """Refuse a job that cannot be printed as asked (more than ``max_per_job`` labels: LABEL_MAX_PER_JOB), before
    anything is read or written."""
    if fmt not in formats_for(template):
        raise Invalid("Template %(template)s prints as %(formats)s, not %(format)s.", template=template.name,
                      formats=", ".join(f.upper() for f in formats_for(template)), format=str(fmt).upper(),
                      details={"format": [f"one of {', '.join(formats_for(template))}"]})
    if count < 1:
        raise Invalid("Nothing to print: give at least one tag.", details={"tags": ["required"]})
    if fmt in ("svg", "png") and count > 1:
        raise Invalid("SVG and PNG hold one label; choose PDF to print %(count)s labels.", count=count,
                      details={"format": ["one label only"]})
    limit = max_per_job
    if count > limit:
        raise Invalid("At most %(limit)s labels per print job (%(count)s asked).", limit=limit, count=count,
                      details={"tags": [f"at most {limit}"]})
    last = template.per_page - 1 if fmt == "pdf" else 0
    if not isinstance(start_position, int) or not 0 <= start_position <= last:
        raise Invalid("The start position is off the sheet: %(template)s prints %(count)s labels per page.",
                      template=template.name, count=last + 1, details={"start_position": [f"0 to {last}"]})


def print_labels(
    devices: Iterable[str | int], *, template: str, actor: Actor, start_position: int = 0, qr: bool = False,
    fmt: str = "pdf", language: str = "fr", context: dict | None = None, max_per_job: int, line: str,
) -> PrintedFile:
    """Print the labels of devices given by tag or id, in the caller's scope, and log the print job.
    ``max_per_job``: LABEL_MAX_PER_JOB; ``line`` (what the short line shows): LABEL_LINE.

    A tag outside the caller's scope answers 404 like an unknown one, and nothing is printed or logged.
    """
    tpl = get_template(template)
    fmt = (fmt or "").lower()
    wanted = _unique(devices)
    check_job(tpl, fmt, len(wanted), start_position, max_per_job=max_per_job)
    rows = _resolve(wanted, actor)
    labels = [LabelData(r.tag, label_line(r.type, r.brand, r.model, r.programme, mode=line, language=language),
                        qr=qr) for r in rows]
    details = {"source": "devices", "line": line, **(context or {})}
    return _print(tpl, labels, fmt=fmt, start_position=start_position, qr=qr, actor=actor, details=details,
                  device=rows[0] if len(rows) == 1 else None)


def print_batch(batch_id: int, *, template: str, actor: Actor, start_position: int = 0, qr: bool = False,
                fmt: str = "pdf", language: str = "fr", max_per_job: int, line: str) -> PrintedFile:
    """Labels of every device of a collection batch in the caller's scope, in tag order."""
    batch = get_batch(batch_id, actor=actor)
    ids = db.session.execute(scoped(select(Device.id).where(Device.batch_id == batch.id), actor)
                             .order_by(Device.tag)).scalars().all()
    if not ids:
        raise Conflict("Batch %(name)s has no devices yet: nothing to print.", name=batch.name, code="empty_batch")
    return print_labels(ids, template=template, actor=actor, start_position=start_position, qr=qr, fmt=fmt,
                        language=language, context={"source": "batch", "batch_id": batch.id},
                        max_per_job=max_per_job, line=line)


def matching_device_ids(query, *, actor: Actor) -> list[int]:
    """Ids of the devices a filtered ``select(Device.id)`` finds in the caller's scope, in tag order."""
    return db.session.execute(scoped(query, actor).order_by(Device.tag)).scalars().all()


def print_history(tags: Sequence[str]) -> dict[str, LabelPrint]:
    if not tags:
        return {}
    rows = db.session.execute(select(LabelPrint).where(LabelPrint.tag.in_(list(tags)))).scalars()
    return {r.tag: r for r in rows}


def _unique(items: Iterable[str | int]) -> list[str | int]:
    seen, out = set(), []
    for item in items:
        if not isinstance(item, int):
            item = str(item or "").strip().upper()
            if not item:
                continue
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _resolve(wanted: list[str | int], actor: Actor) -> list:
    """The devices to label, in the order asked, with one query; any tag out of scope or unknown is a 404."""
    tags = [w for w in wanted if isinstance(w, str)]
    ids = [w for w in wanted if isinstance(w, int)]
    found = []
    query = (select(Device.id, Device.tag, Device.type, Device.brand, Device.model, Programme.name.label("programme"))
             .outerjoin(Programme, Programme.id == Device.programme_id))
    for key, values in ((Device.tag, tags), (Device.id, ids)):
        for start in range(0, len(values), _CHUNK * 4):
            part = values[start:start + _CHUNK * 4]
            found += db.session.execute(scoped(query.where(key.in_(part)), actor)).all()
    by_key = {}
    for row in found:
        by_key[row.tag] = row
        by_key[row.id] = row
    missing = [str(w) for w in wanted if w not in by_key]
    if missing:
        raise NotFound("No device %(tag)s.", tag=missing[0], details={"tags": missing})
    rows, seen = [], set()
    for w in wanted:
        row = by_key[w]
        if row.id not in seen:  # the same device asked by tag and by id prints once
            seen.add(row.id)
            rows.append(row)
    return rows


def _render(template: Template, labels: list[LabelData], fmt: str, start_position: int) -> bytes:
    try:
        if fmt == "pdf":
            return render_pdf(template, labels, start_position=start_position)
        if fmt == "svg":
            return render_svg(template, labels[0]).encode("utf-8")
        if fmt == "png":
            return render_png(template, labels[0])
        return render_zpl(template, labels).encode("utf-8")
    except LabelError as exc:
        raise Invalid("These labels cannot be printed: %(problem)s", problem=str(exc)) from None


def _print(template: Template, labels: list[LabelData], *, fmt: str, start_position: int, qr: bool, actor: Actor,
           details: dict, device=None) -> PrintedFile:
    # End the reading transaction before rendering: on SQLite a write transaction holds the database's
    # write lock, and a thousand-label PDF must not make scanning stations wait for it.
    db.session.commit()
    content = _render(template, labels, fmt, start_position)
    tags = [label.tag for label in labels]
    reprints = _count_prints(tags)
    custody.record("labels_printed", actor=actor, device=device, details={
        **details, "template": template.name, "format": fmt, "count": len(tags), "tags": tags,
        "reprint": bool(reprints), "reprints": reprints, "start_position": start_position, "qr": qr,
    })
    db.session.commit()
    if len(tags) == 1:
        filename = f"{tags[0]}.{fmt}"
    else:
        filename = f"labels-{template.name}-{len(tags)}.{fmt}"
    return PrintedFile(content, MIMETYPES[fmt], filename, template.name, fmt, tags, reprints)


def _count_prints(tags: list[str]) -> list[str]:
    """Count one more print of every tag (one upsert); return those printed before, in order."""
    now = utcnow()
    dialect = db.session.get_bind().dialect.name
    table = LabelPrint.__table__  # Core: no ORM bookkeeping for a thousand rows
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.tag],
        set_={"count": table.c.count + 1, "last_printed_at": stmt.excluded.last_printed_at},
    ).returning(table.c.tag, table.c.count)
    # One cached statement executed for many rows: SQLAlchemy batches it ("insertmanyvalues") with
    # RETURNING, several times faster than compiling a fresh multi-row VALUES for every job.
    rows = [{"tag": t, "count": 1, "first_printed_at": now, "last_printed_at": now} for t in tags]
    again = {tag for tag, count in db.session.connection().execute(stmt, rows) if count > 1}
    return [t for t in tags if t in again]


# ---------------------------------------------------------------- blank pre-printed tags


def blank_scope(query, actor: Actor):
    """Blank tag ranges an actor may see: a donor those issued to its organisation; a technician those its
    workshop issued; auditors and admins all."""
    if actor.role in (None, "admin", "auditor"):
        return query
    if actor.role == "technician":
        return query.where(BlankTagIssue.issued_by_user_id.in_(
            select(User.id).where(User.organisation_id == actor.organisation_id)))
    if actor.role == "donor":
        return query.where(BlankTagIssue.donor_organisation_id == actor.organisation_id)
    return query.where(BlankTagIssue.id.is_(None))


def issue_blank_tags(count: int, *, donor_organisation_id: int, actor: Actor, note: str | None = None,
                     max_per_job: int, tag_prefix: str, tag_width: int) -> BlankTagIssue:
    """Allocate ``count`` new tags from the sequence as blank pre-printed tags for a donor organisation.
    ``max_per_job``: LABEL_MAX_PER_JOB; ``tag_prefix``, ``tag_width``: TAG_PREFIX, TAG_WIDTH."""
    donor = db.session.get(Organisation, donor_organisation_id) if donor_organisation_id else None
    if donor is None or donor.kind != OrgKind.DONOR:
        raise unknown_reference("donor_organisation_id")
    if not isinstance(count, int) or not 1 <= count <= max_per_job:
        raise Invalid("Issue between 1 and %(limit)s blank tags at a time.", limit=max_per_job,
                      details={"count": [f"1 to {max_per_job}"]})
    tags = allocate_tags(count, tag_prefix, tag_width)
    issue = BlankTagIssue(donor_organisation_id=donor.id, count=count, first_tag=tags[0], last_tag=tags[-1],
                          note=note, issued_at=utcnow(), issued_by_user_id=actor.user_id, issued_by_name=actor.name)
    db.session.add(issue)
    db.session.flush()
    for start in range(0, len(tags), _CHUNK):
        db.session.execute(insert(BlankTag), [{"tag": t, "issue_id": issue.id, "donor_organisation_id": donor.id}
                                              for t in tags[start:start + _CHUNK]])
    custody.record("blank_tags_issued", actor=actor, custodian_after_id=donor.id, note=note, details={
        "issue_id": issue.id, "donor_organisation_id": donor.id, "donor": donor.name, "count": count,
        "first_tag": tags[0], "last_tag": tags[-1],
    })
    db.session.commit()
    return issue


def get_blank_issue(issue_id: int, *, actor: Actor) -> BlankTagIssue:
    issue = db.session.execute(blank_scope(select(BlankTagIssue).where(BlankTagIssue.id == issue_id), actor)) \
        .unique().scalar_one_or_none()
    if issue is None:
        raise NotFound("No blank tag range %(id)s.", id=str(issue_id))
    return issue


def list_blank_issues(*, actor: Actor, limit: int = 200) -> list[tuple[BlankTagIssue, int]]:
    """The latest blank tag ranges in scope, each with how many of its tags are bound to a device."""
    bound = (select(BlankTag.issue_id, func.count().label("bound")).where(BlankTag.bound_at.is_not(None))
             .group_by(BlankTag.issue_id).subquery())
    query = (select(BlankTagIssue, func.coalesce(bound.c.bound, 0))
             .outerjoin(bound, bound.c.issue_id == BlankTagIssue.id)
             .order_by(BlankTagIssue.issued_at.desc(), BlankTagIssue.id.desc()).limit(limit))
    return [(issue, n) for issue, n in db.session.execute(blank_scope(query, actor)).unique().all()]


def print_blank_tags(issue_id: int, *, template: str, actor: Actor, start_position: int = 0, fmt: str = "pdf",
                     max_per_job: int) -> PrintedFile:
    """Print the tags of a blank range that are not bound to a device yet (blank labels: no short line)."""
    tpl = get_template(template)
    fmt = (fmt or "").lower()
    issue = get_blank_issue(issue_id, actor=actor)
    tags = db.session.execute(select(BlankTag.tag).where(BlankTag.issue_id == issue.id, BlankTag.bound_at.is_(None))
                              .order_by(BlankTag.tag)).scalars().all()
    if not tags:
        raise Conflict("Every tag of this range is already bound to a device: nothing left to print.",
                       code="blank_range_used")
    check_job(tpl, fmt, len(tags), start_position, max_per_job=max_per_job)
    labels = [LabelData(t, "") for t in tags]
    details = {"source": "blank", "blank_issue_id": issue.id, "donor_organisation_id": issue.donor_organisation_id}
    return _print(tpl, labels, fmt=fmt, start_position=start_position, qr=False, actor=actor, details=details)


def issue_and_print_blank_tags(count: int, *, donor_organisation_id: int, template: str, actor: Actor,
                               start_position: int = 0, fmt: str = "pdf", note: str | None = None,
                               max_per_job: int, tag_prefix: str, tag_width: int
                               ) -> tuple[BlankTagIssue, PrintedFile]:
    """Issue a blank range and print it at once (the job is checked first, so a bad template issues nothing)."""
    check_job(get_template(template), (fmt or "").lower(), count if isinstance(count, int) else 0, start_position,
              max_per_job=max_per_job)
    issue = issue_blank_tags(count, donor_organisation_id=donor_organisation_id, actor=actor, note=note,
                             max_per_job=max_per_job, tag_prefix=tag_prefix, tag_width=tag_width)
    return issue, print_blank_tags(issue.id, template=template, actor=actor, start_position=start_position, fmt=fmt,
                                   max_per_job=max_per_job)


def claim_blank_tag(tag: str, donor_organisation_id: int) -> None:
    """Bind a blank pre-printed tag at its device's registration (caller's transaction, no commit).

    Only a tag issued to the device's own donor is accepted, once: a tag from another donor's sheet
    means the sheets were mixed up, and binding it would credit the device to the wrong provenance.
    """
    bound = db.session.execute(
        update(BlankTag).where(BlankTag.tag == tag, BlankTag.donor_organisation_id == donor_organisation_id,
                               BlankTag.bound_at.is_(None))
        .values(bound_at=utcnow()).execution_options(synchronize_session=False))
    if bound.rowcount == 1:
        return
    row = db.session.execute(select(BlankTag.donor_organisation_id).where(BlankTag.tag == tag)).first()
    if row is None:
        raise Invalid("Tag %(tag)s was never issued as a blank pre-printed tag. Check the label, or leave the tag "
                      "empty to get a new one.", tag=tag, code="tag_not_issued",
                      details={"preprinted_tag": ["never issued as a blank tag"]})
    if row.donor_organisation_id != donor_organisation_id:
        raise Invalid("Tag %(tag)s was issued to another donor organisation: use a tag from this donor's own sheet.",
                      tag=tag, code="tag_other_donor", details={"preprinted_tag": ["issued to another donor"]})
    raise Conflict("Tag %(tag)s is already bound to another device.", tag=tag, code="duplicate_tag")


def filtered_device_ids(device_filter, *, actor: Actor, rules) -> list[int]:
    """Ids of the devices the device list's filter finds in the caller's scope, in tag order."""
    return matching_device_ids(filters.apply(select(Device.id), device_filter, rules=rules), actor=actor)


def batch_label_count(batch_id: int, *, actor: Actor) -> int:
    """How many devices of a batch the caller's labels would be printed for."""
    return len(matching_device_ids(select(Device.id).where(Device.batch_id == batch_id), actor=actor))


def donor_choices(*, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of the donors blank tags may be issued to."""
    return [(o.id, o.name) for o in db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.DONOR).order_by(Organisation.name))]
