"""Configuration layers and the production safety checks."""
import pytest

from asset_tracker import create_app


def test_layers_default_then_environment_then_variables_then_overrides(monkeypatch):
    monkeypatch.setenv("ASSET_TRACKER_PAGE_SIZE", "25")
    monkeypatch.setenv("ASSET_TRACKER_TAG_PREFIX", "LY")
    app = create_app("testing", TAG_PREFIX="ZZ", SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.config["TESTING"] is True  # environment file
    assert app.config["PAGE_SIZE"] == 25  # variable, typed
    assert app.config["TAG_PREFIX"] == "ZZ"  # override wins
    assert app.config["LANGUAGES"] == ["fr", "en"]  # default


def test_database_url_selects_the_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/reboot")
    app = create_app("testing")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/reboot"


def test_production_refuses_to_start_without_secret_and_database(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ASSET_TRACKER_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="secret key.*database URL"):
        create_app("production")
    monkeypatch.setenv("ASSET_TRACKER_SECRET_KEY", "s3cret-value-for-tests")
    monkeypatch.setenv("ASSET_TRACKER_BENEFICIARY_HMAC_KEY", "another-s3cret-for-tests")
    with pytest.raises(RuntimeError, match="database URL"):
        create_app("production")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/prod-check.db")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_unknown_environment_is_refused():
    with pytest.raises(RuntimeError, match="config/nowhere.py"):
        create_app("nowhere")
