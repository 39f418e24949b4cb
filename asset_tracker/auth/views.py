"""Sign in, sign out, language choice."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from ..auth.access import AUTHENTICATED, PUBLIC, access
from ..extensions import db, limiter
from . import services

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("email", validators=[DataRequired()])
    password = PasswordField("password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
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
            login_user(user)
            session.permanent = True
            flash(_("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong e-mail or password."), "error")
    elif request.method == "POST":
        flash(_("Please give your e-mail and password."), "error")
    return render_template("auth/login.html", form=form), (200 if request.method == "GET" else 401 if form.is_submitted() else 200)


@bp.route("/logout", methods=["POST"])
@access(AUTHENTICATED)
def logout():
    logout_user()
    flash(_("You are signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
@access(PUBLIC)
def set_language():
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
