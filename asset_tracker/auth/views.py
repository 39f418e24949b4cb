"""Sign in, sign out, language choice."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from ..auth.access import AUTHENTICATED, PUBLIC, access
from ..errors import Invalid
from ..extensions import limiter
from ..web.forms import on_refusal
from . import services
from .session import actor, start_session

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("email", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    """A path of this site, or the home page: browsers read "/\\host" and "/<tab>/host" as "//host"."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ord(c) < 0x21 or ord(c) == 0x7F for c in target) and not urlparse(target).netloc):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@access(PUBLIC)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            flash(_("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong e-mail or password."), "error")
    elif request.method == "POST":
        flash(_("Please give your e-mail and password."), "error")
    return render_template("auth/login.html", form=form), (
        200 if request.method == "GET" else 401 if form.is_submitted() else 200
    )


@bp.route("/logout", methods=["POST"])
@access(AUTHENTICATED)
def logout():
    # Every session of the user ends, not only this browser's: a copied cookie is worth nothing from now on.
    services.end_sessions(current_user.id, actor=actor())
    _sign_out()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"))


def _sign_out() -> None:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


class PasswordForm(FlaskForm):
    current = PasswordField("current")
    password = PasswordField("password")
    confirm = PasswordField("confirm")


def _password_refused(err: Invalid):
    """The password page again with the reason (a password is never sent back into a page)."""
    return render_template("auth/password.html", form=PasswordForm(), error=err), 422


@bp.route("/account/password", methods=["GET", "POST"])
@access(AUTHENTICATED)
@on_refusal(_password_refused, catches=(Invalid,))
def change_password():
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        if not form.password.data or form.password.data != form.confirm.data:
            error = Invalid("The two new passwords differ.", details={"confirm": ["differs"]})
        else:
            services.change_password(current_user.id, form.current.data or "", form.password.data, actor=actor(),
                                     policy=services.PasswordPolicy.of(current_app.config))
            _sign_out()
            flash(_("Your password is changed. Every session was signed out: sign in with the new password."),
                  "success")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        error = Invalid("Your form has expired or was sent from elsewhere. Please reload the page and try again.")
    return render_template("auth/password.html", form=form, error=error), 422 if error else 200


@bp.route("/language", methods=["POST"])
@access(PUBLIC)
def set_language():
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            services.set_locale(current_user.id, lang, actor=actor())
    return redirect(_safe_next(request.form.get("next")))
