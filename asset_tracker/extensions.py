"""Flask extensions, created unbound and initialised by create_app."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from .db import Base
from .schemas import ErrorSchema

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class _Api(Api):
    # The documented error body is the envelope errors.py sends, not flask-smorest's own.
    ERROR_SCHEMA = ErrorSchema


api = _Api()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
