"""Organisation routes of the JSON API."""
from flask_smorest import Blueprint

from ..auth.access import ROLES, access
from ..auth.session import actor
from . import services
from .schemas import OrganisationCreateIn, OrganisationSchema

blp = Blueprint("api_organisations", __name__, url_prefix="/api/v1/organisations", description="Organisations")
BLUEPRINTS = [blp]


@blp.route("", methods=["GET"])
@access(*ROLES)
@blp.response(200, OrganisationSchema(many=True))
def list_organisations():
    """Every organisation, by name."""
    return services.visible_organisations(actor())


@blp.route("", methods=["POST"])
@access("admin")
@blp.arguments(OrganisationCreateIn)
@blp.response(201, OrganisationSchema)
def create_organisation(data):
    """Create an organisation (admins)."""
    return services.create_organisation(actor=actor(), **data)
