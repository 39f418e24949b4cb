"""Admin pages: users, organisations, API tokens and programme partners, through the same services as the API."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import fields as mfields
from marshmallow import validate

from ..auth import services as auth
from ..auth.access import access
from ..auth.models import ApiToken, Role, User
from ..auth.schemas import TokenCreateIn, UserCreateIn
from ..auth.session import actor
from ..distribution import services as programmes
from ..errors import NotFound
from ..i18n import current_language
from ..lifecycle import N_
from ..organisations import services as org_services
from ..organisations.models import LEGAL_NATURE_LABELS, Organisation, OrgKind
from ..organisations.schemas import OrganisationCreateIn, OrganisationEditIn
from ..schemas import StrictSchema
from ..web.forms import keeps_form
from ..web.lists import ListSpec, list_page
from ..web.views import ROLE_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = ("admin",)
# One menu entry: the admin pages link to each other (users, organisations, tokens, partners).
NAV = [("admin.users", N_("Users and organisations"), ADMIN, 89, "admin")]

ORG_KIND_LABELS = {
    "donor": N_("Donor"), "workshop": N_("Workshop"), "partner": N_("Distribution partner"),
    "recycler": N_("Recycler"), "programme_owner": N_("Programme owner"),
}
LANGUAGE_LABELS = {"fr": "Français", "en": "English"}


@bp.app_template_filter("org_kind")
def org_kind(value) -> str:
    value = getattr(value, "value", value)
    return _(ORG_KIND_LABELS.get(value, value))


def _form(*skip) -> dict:
    """The submitted fields, empty ones left out (the schemas' defaults apply)."""
    # A password is taken as typed: spaces may be part of it.
    return {k: (v if k == "password" else v.strip()) for k, v in request.form.items()
            if k not in ("csrf_token",) + skip and v.strip() != ""}


def _organisation_options(kinds=None) -> list[tuple[int, str]]:
    return [(o.id, f"{o.name} ({org_kind(o.kind)})") for o in org_services.ordered(actor=actor(), kinds=kinds)]


# ---------------------------------------------------------------- users

USER_LIST = ListSpec(
    name="users",
    sorts={"email": User.email, "name": User.name, "role": User.role, "organisation": Organisation.name,
           "created": User.created_at, "last_login": User.last_login_at, "active": User.active},
    default_sort="email",
    columns=("id", "email", "name", "role", "organisation", "active", "created_at", "last_login_at"),
)


def _users_context() -> dict:
    role = request.args.get("role")
    query = auth.users_query(actor=actor(), role=role)
    result = list_page(USER_LIST, query, export_row=lambda u: (
        u.id, u.email, u.name, u.role.value, u.organisation.name, u.active, u.created_at, u.last_login_at))
    if not isinstance(result, dict):
        return result
    return {**result, "roles": [(r.value, str(ROLE_LABELS[r.value])) for r in Role], "role": role,
            "organisations": _organisation_options()}


@bp.route("/users", methods=["GET"])
@access(*ADMIN)
def users():
    context = _users_context()
    if not isinstance(context, dict):
        return context  # an export
    return render_template("admin/users.html", form={}, **context)


@bp.route("/users", methods=["POST"])
@access(*ADMIN)
@keeps_form("admin/users.html", _users_context)
def create_user():
    data = UserCreateIn().load(_form())
    user = auth.create_user(data.pop("email"), actor=actor(), policy=auth.PasswordPolicy.of(current_app.config),
                            **data)
    flash(_("Account %(email)s created.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@access(*ADMIN)
def set_active(user_id):
    active = request.form.get("active") == "1"
    user = auth.set_user_active(user_id, active, actor=actor())
    flash(_("Account %(email)s reactivated.", email=user.email) if active
          else _("Account %(email)s deactivated: it can no longer sign in or use its API tokens.", email=user.email),
          "success")
    return redirect(url_for("admin.users"))


class PasswordIn(StrictSchema):
    # The form's own bounds (shown next to the field); the service then applies the configured minimum
    # (PASSWORD_MIN_LENGTH, 10 by default) and the strength estimate.
    password = mfields.String(load_default=None, validate=validate.Length(min=10, max=200))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@access(*ADMIN)
@keeps_form("admin/users.html", lambda user_id: _users_context())
def reset_password(user_id):
    data = PasswordIn().load(_form())
    user, secret = auth.reset_password(user_id, actor=actor(), password=data["password"],
                                       policy=auth.PasswordPolicy.of(current_app.config))
    if data["password"]:
        flash(_("New password of %(email)s set.", email=user.email), "success")
        return redirect(url_for("admin.users"))
    # A generated password is shown on this response only, never stored in clear nor cached.
    resp = render_template("admin/password.html", user=user, password=secret)
    return resp, 200, {"Cache-Control": "no-store"}


# ---------------------------------------------------------------- organisations

ORG_LIST = ListSpec(
    name="organisations",
    sorts={"name": Organisation.name, "kind": Organisation.kind, "created": Organisation.created_at},
    default_sort="name",
    columns=("id", "name", "kind", "contact_email", "locale", "created_at"),
)


def _select_options(name: str):
    if name == "kind":
        return [(k.value, org_kind(k)) for k in OrgKind]
    if name == "locale":
        return list(LANGUAGE_LABELS.items())
    if name == "legal_nature":
        return [("", "—")] + [(n.value, labels[current_language()]) for n, labels in LEGAL_NATURE_LABELS.items()]
    return []


def _organisations_context() -> dict:
    kind = request.args.get("kind")
    query = org_services.organisations_query(actor=actor(), kind=kind)
    result = list_page(ORG_LIST, query, export_row=lambda o: (
        o.id, o.name, o.kind.value, o.contact_email, o.locale, o.created_at))
    if not isinstance(result, dict):
        return result
    return {**result, "kind": kind, "kinds": _select_options("kind"), "languages": _select_options("locale")}


@bp.route("/organisations", methods=["GET"])
@access(*ADMIN)
def organisations():
    context = _organisations_context()
    if not isinstance(context, dict):
        return context
    return render_template("admin/organisations.html", form={}, **context)


@bp.route("/organisations", methods=["POST"])
@access(*ADMIN)
@keeps_form("admin/organisations.html", _organisations_context)
def create_organisation():
    data = OrganisationCreateIn().load(_form())
    org = org_services.create_organisation(actor=actor(), **data)
    flash(_("Organisation %(name)s created.", name=org.name), "success")
    return redirect(url_for("admin.organisations"))


def _edit_fields() -> list[dict]:
    """The edit form's fields, read from OrganisationEditIn: a new column there is a new field here."""
    out = []
    for name, f in OrganisationEditIn().fields.items():
        meta = f.metadata
        out.append({"name": name, "label": _(meta.get("label", name)),
                    "hint": _(meta["hint"]) if meta.get("hint") else None,
                    "type": meta.get("widget", "text"), "required": f.required, "options": _select_options(name),
                    "maxlength": next((v.max for v in f.validators if isinstance(v, validate.Length)), None)})
    return out


def _edit_context(organisation_id: int) -> dict:
    return {"organisation": org_services.get_organisation(organisation_id, actor=actor()), "fields": _edit_fields()}


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@access(*ADMIN)
@keeps_form("admin/organisation_edit.html", _edit_context)
def edit_organisation(organisation_id):
    context = _edit_context(organisation_id)
    org = context["organisation"]
    if request.method == "POST":
        names = [f["name"] for f in context["fields"]]
        # A field left empty is cleared (None), not ignored: the form shows every editable field.
        data = OrganisationEditIn().load({n: (request.form.get(n, "").strip() or None) for n in names
                                          if n in request.form})
        org_services.update_organisation(org.id, data, actor=actor())
        flash(_("Organisation %(name)s saved.", name=org.name), "success")
        return redirect(url_for("admin.organisations"))
    values = {f["name"]: getattr(getattr(org, f["name"], None), "value", getattr(org, f["name"], None))
              for f in context["fields"]}
    return render_template("admin/organisation_edit.html", form=values, **context)


# ---------------------------------------------------------------- API tokens

TOKEN_LIST = ListSpec(
    name="tokens",
    sorts={"created": ApiToken.created_at, "user": User.email, "name": ApiToken.name,
           "last_used": ApiToken.last_used_at, "revoked": ApiToken.revoked_at},
    default_sort="created", default_desc=True,
    columns=("id", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"),
)


def _tokens_context() -> dict:
    query = auth.tokens_query(actor=actor(), active_only=request.args.get("state") == "active")
    result = list_page(TOKEN_LIST, query, export_row=lambda t: (
        t.id, t.user.email, t.name, t.prefix, t.created_at, getattr(t, "last_used_at", None), t.revoked_at))
    if not isinstance(result, dict):
        return result
    users_ = auth.active_users(actor=actor())
    return {**result, "users": [(u.id, f"{u.email} ({u.role.value})") for u in users_],
            "state": request.args.get("state")}


@bp.route("/tokens", methods=["GET"])
@access(*ADMIN)
def tokens():
    context = _tokens_context()
    if not isinstance(context, dict):
        return context
    return render_template("admin/tokens.html", form={}, **context)


@bp.route("/tokens", methods=["POST"])
@access(*ADMIN)
@keeps_form("admin/tokens.html", _tokens_context)
def create_token():
    data = TokenCreateIn().load(_form())
    user = auth.get_user(data["user_id"])
    token, secret = auth.create_token(user, actor=actor(), name=data["name"],
                                      days=current_app.config["TOKEN_LIFETIME_DAYS"])
    resp = render_template("admin/token_created.html", token=token, secret=secret)
    return resp, 201, {"Cache-Control": "no-store"}


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@access(*ADMIN)
def revoke_token(token_id):
    token = auth.revoke_token(token_id, actor=actor())
    flash(_("Token %(prefix)s… revoked: requests with it are refused from now on.", prefix=token.prefix), "success")
    return redirect(url_for("admin.tokens"))


# ---------------------------------------------------------------- programme partners


def _partners_context() -> dict:
    who = actor()
    return {"programmes": programmes.list_programmes(actor=who),
            "partner_options": _organisation_options([OrgKind.PARTNER])}


@bp.route("/partners", methods=["GET"])
@access(*ADMIN)
def partners():
    return render_template("admin/partners.html", form={}, **_partners_context())


class PartnerIn(StrictSchema):
    organisation_id = mfields.Integer(required=True)


@bp.route("/programmes/<int:programme_id>/partners", methods=["POST"])
@access(*ADMIN)
@keeps_form("admin/partners.html", lambda programme_id: _partners_context())
def add_partner(programme_id):
    who = actor()
    org_id = PartnerIn().load(_form())["organisation_id"]
    programme = programmes.get_programme(programme_id, actor=who)
    programme = programmes.set_programme_partners(programme.id, [p.id for p in programme.partners] + [org_id],
                                                  actor=who)
    flash(_("%(partner)s may now distribute for %(programme)s.", programme=programme.name,
            partner=org_services.get_organisation(org_id, actor=who).name), "success")
    return redirect(url_for("admin.partners"))


@bp.route("/programmes/<int:programme_id>/partners/<int:organisation_id>/remove", methods=["POST"])
@access(*ADMIN)
def remove_partner(programme_id, organisation_id):
    who = actor()
    programme = programmes.get_programme(programme_id, actor=who)
    if organisation_id not in {p.id for p in programme.partners}:
        raise NotFound("No partner %(id)s in this programme.", id=organisation_id)
    programme = programmes.set_programme_partners(
        programme.id, [p.id for p in programme.partners if p.id != organisation_id], actor=who)
    flash(_("%(partner)s no longer distributes for %(programme)s.", programme=programme.name,
            partner=org_services.get_organisation(organisation_id, actor=who).name), "success")
    return redirect(url_for("admin.partners"))

