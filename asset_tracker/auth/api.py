"""User and token routes of the JSON API (admins)."""
from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from ..auth.access import ROLES, access
from ..auth.session import actor
from ..errors import NotFound
from ..extensions import db
from . import services
from .models import User
from .schemas import TokenCreateIn, TokenListArgs, TokenSchema, UserCreateIn, UserSchema
from .services import PasswordPolicy

blp = Blueprint("api_users", __name__, url_prefix="/api/v1", description="Users and API tokens")
BLUEPRINTS = [blp]


@blp.route("/users", methods=["GET"])
@access("admin")
@blp.response(200, UserSchema(many=True))
def list_users():
    """Every user (admins)."""
    return db.session.execute(select(User).order_by(User.email)).scalars().all()


@blp.route("/users", methods=["POST"])
@access("admin")
@blp.arguments(UserCreateIn)
@blp.response(201, UserSchema)
def create_user(data):
    """Create a user with one role in one organisation (admins)."""
    return services.create_user(data.pop("email"), actor=actor(), policy=PasswordPolicy.of(current_app.config),
                                **data)


@blp.route("/me", methods=["GET"])
@access(*ROLES)
@blp.response(200, UserSchema)
def me():
    """The calling user."""
    return current_user


@blp.route("/tokens", methods=["POST"])
@access("admin")
@blp.arguments(TokenCreateIn)
@blp.response(201, TokenSchema)
def create_token(data):
    """Issue an API token for a user; the secret is in this response only."""
    user = db.session.get(User, data["user_id"])
    if user is None:
        raise NotFound("No user %(id)s.", id=data["user_id"])
    token, secret = services.create_token(user, actor=actor(), name=data["name"],
                                           days=current_app.config["TOKEN_LIFETIME_DAYS"])
    token.token = secret
    return token


@blp.route("/tokens", methods=["GET"])
@access(*ROLES)
@blp.arguments(TokenListArgs, location="query", as_kwargs=True)
@blp.response(200, TokenSchema(many=True))
def list_tokens(user_id):
    """Your API tokens with their expiry and last use (admins: everyone's, or one user's); never the secrets."""
    return services.list_tokens(actor=actor(), user_id=user_id)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@access(*ROLES)
@blp.response(200, TokenSchema)
def revoke_token(token_id):
    """Revoke a token (its owner or an admin; another user's token answers 404); requests with it answer 401."""
    return services.revoke_token(token_id, actor=actor())
