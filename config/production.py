"""Production: PostgreSQL through DATABASE_URL, gunicorn, the scheduler as its own process."""
import os

SESSION_COOKIE_SECURE = os.environ.get("ASSET_TRACKER_INSECURE_COOKIES") != "1"
SCHEDULER_ENABLED = False


def check(config):
    """Refuse to start without the secrets production needs."""
    missing = []
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == "dev-only-secret-change-me":
        missing.append("a secret key (ASSET_TRACKER_SECRET_KEY)")
    if config.get("BENEFICIARY_HMAC_KEY") in (None, "", "dev-only-beneficiary-key-change-me"):
        missing.append("a beneficiary hash key (ASSET_TRACKER_BENEFICIARY_HMAC_KEY)")
    if not os.environ.get("DATABASE_URL") and not os.environ.get("ASSET_TRACKER_SQLALCHEMY_DATABASE_URI"):
        missing.append("a database URL (DATABASE_URL)")
    if missing:
        raise RuntimeError("production configuration refuses to start without " + " and ".join(missing))
