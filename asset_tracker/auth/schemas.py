"""User and token contracts."""
from marshmallow import Schema, fields, validate

from ..schemas import StrictSchema
from .models import Role


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    organisation_id = fields.Integer()
    active = fields.Boolean()


class UserCreateIn(StrictSchema):
    email = fields.Email(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    organisation_id = fields.Integer(required=True)
    password = fields.String(load_default=None, load_only=True, validate=validate.Length(max=200))
    locale = fields.String(load_default=None, validate=validate.OneOf(["fr", "en"]))


class TokenCreateIn(StrictSchema):
    user_id = fields.Integer(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=100))


class TokenListArgs(StrictSchema):
    user_id = fields.Integer(load_default=None, metadata={"description": "Admins: one user's tokens"})


class TokenSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime()
    last_used_at = fields.DateTime(
        allow_none=True, metadata={"description": "Last request made with it (to the minute)"}
    )
    token = fields.String(dump_only=True)
