"""Organisation routes of the JSON API."""
from flask_smorest import Blueprint

from ..auth.access import ROLES, access
from ..auth.session import actor
from . import services
from .schemas import OrganisationCreateIn, OrganisationDetailSchema, OrganisationSchema, OrganisationUpdateIn

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
@blp.response(201, OrganisationDetailSchema)
def create_organisation(data):
    """Create an organisation (admins), with its legal identity if known."""
    return services.create_organisation(actor=actor(), **data)


@blp.route("/<int:org_id>", methods=["GET"])
@access("admin")
@blp.response(200, OrganisationDetailSchema)
def get_organisation(org_id):
    """One organisation with its legal identity: legal name, address, SIRET, legal nature and, for donors,
    the legal basis printed on their donation slips (admins)."""
    return services.get_organisation(org_id, actor=actor())


@blp.route("/<int:org_id>", methods=["PATCH"])
@access("admin")
@blp.arguments(OrganisationUpdateIn)
@blp.response(200, OrganisationDetailSchema)
def update_organisation(data, org_id):
    """Change an organisation's contact or legal identity (admins). The SIRET must have 14 digits and a valid
    Luhn key (La Poste's establishments: digit sum a multiple of 5); null clears a field."""
    return services.update_organisation(org_id, data, actor=actor())
