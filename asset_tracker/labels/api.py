"""Label routes of the JSON API: print jobs answer with the file itself (PDF, SVG, PNG or ZPL)."""
from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint

from ..auth.access import ROLES, access
from ..auth.session import actor
from ..i18n import current_language
from . import services
from .schemas import BatchPrintIn, BlankIssueIn, BlankIssueSchema, BlankPrintIn, CatalogueSchema, PrintIn

blp = Blueprint("api_labels", __name__, url_prefix="/api/v1/labels",
                description="Labels: print jobs (logged in the custody chain, reprints marked) and blank tags")
BLUEPRINTS = [blp]

# Printing writes to the custody log: auditors read, they never print.
PRINTERS = ("donor", "technician", "coordinator", "admin")
# Issuing blank tags takes tags from the programme's sequence: the workshop's and the admin's decision.
ISSUERS = ("technician", "admin")
# Blank tags are sent to donors: a donor may print again the ranges issued to its organisation.
BLANK_PRINTERS = ("donor", "technician", "admin")

FILE_RESPONSE = {"200": {"description": "The labels, as a file to download or send to the printer",
                         "content": {"application/pdf": {}, "image/svg+xml": {}, "image/png": {}, "text/plain": {}}}}


def file_response(job: services.PrintedFile, **headers) -> Response:
    return Response(job.content, mimetype=job.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{job.filename}"', "Cache-Control": "no-store",
        "X-Label-Count": str(len(job.tags)), "X-Label-Reprints": str(len(job.reprints)), **headers})


def default_template() -> str | None:
    """The template a job uses when none is chosen: LABEL_DEFAULT_TEMPLATE when it is in service."""
    return services.default_template(wanted=current_app.config.get("LABEL_DEFAULT_TEMPLATE"))


def _options(data: dict) -> dict:
    """The job as asked."""
    return {"template": data["template"] or default_template(), "start_position": data["start_position"],
            "fmt": data["format"]}


@blp.route("/templates", methods=["GET"])
@access(*ROLES)
@blp.response(200, CatalogueSchema)
def templates():
    """Label templates in service (sheets, rolls, Zebra); admins also see the files refused at start-up."""
    catalogue = services.catalogue()
    who = actor()
    return {"templates": catalogue.ordered(), "default": default_template(),
            "errors": catalogue.errors if who.role == "admin" else []}


@blp.route("", methods=["POST"])
@access(*PRINTERS)
@blp.arguments(PrintIn)
@blp.doc(responses=FILE_RESPONSE)
def print_labels(data):
    """Print the labels of devices by tag: one PDF (or ZPL) for many, SVG or PNG for one.

    404 for a tag outside your scope.
    """
    job = services.print_labels([*data["tags"], *data["device_ids"]], actor=actor(), qr=data["qr"],
                                language=current_language(), **_options(data),
                                **services.label_settings(current_app.config, line=True))
    return file_response(job)


@blp.route("/batches/<int:batch_id>", methods=["POST"])
@access("donor", "technician", "admin")
@blp.arguments(BatchPrintIn)
@blp.doc(responses=FILE_RESPONSE)
def print_batch(data, batch_id):
    """Print the labels of every device of a collection batch, in tag order."""
    job = services.print_batch(batch_id, actor=actor(), qr=data["qr"], language=current_language(),
                               **_options(data),
                                **services.label_settings(current_app.config, line=True))
    return file_response(job)


@blp.route("/blank", methods=["GET"])
@access("donor", "technician", "auditor", "admin")
@blp.response(200, BlankIssueSchema(many=True))
def blank_ranges():
    """Blank pre-printed tag ranges (a donor sees those issued to its organisation), newest first."""
    out = []
    for issue, bound in services.list_blank_issues(actor=actor()):
        issue.bound = bound
        out.append(issue)
    return out


@blp.route("/blank", methods=["POST"])
@access(*ISSUERS)
@blp.arguments(BlankIssueIn)
@blp.doc(responses=FILE_RESPONSE)
def issue_blank(data):
    """Issue a range of blank pre-printed tags to a donor and print it; `X-Blank-Range` names the range."""
    issue, job = services.issue_and_print_blank_tags(
        data["count"], donor_organisation_id=data["donor_organisation_id"], note=data["note"], actor=actor(),
        **_options(data), **services.label_settings(current_app.config, tags=True))
    return file_response(job, **{"X-Blank-Range": str(issue.id)})


@blp.route("/blank/<int:issue_id>", methods=["POST"])
@access(*BLANK_PRINTERS)
@blp.arguments(BlankPrintIn)
@blp.doc(responses=FILE_RESPONSE)
def print_blank(data, issue_id):
    """Print again the tags of a blank range that no device uses yet (a reprint is marked as such)."""
    job = services.print_blank_tags(issue_id, actor=actor(), **_options(data),
                                    **services.label_settings(current_app.config))
    return file_response(job, **{"X-Blank-Range": str(issue_id)})
