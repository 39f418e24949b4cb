"""The 0023 migration: existing programmes keep their target, accessories their meaning."""
from __future__ import annotations

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from asset_tracker import create_app
from asset_tracker.extensions import db as _db


@pytest.fixture
def old_database(tmp_path):
    """A database as it was before programme targets and tracked keys, with a little data in it."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        upgrade(revision="0022_admin")
        with _db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organisations (id, name, kind, locale, created_at) VALUES "
                              "(1, 'Métropole', 'programme_owner', 'fr', '2026-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO programmes (id, name, owner_organisation_id, target_count, target_unit, "
                "beneficiary_categories, created_at) VALUES "
                "(1, 'Collégiens', 1, 1000, 'device', '[]', '2026-01-01 00:00:00'), "
                "(2, 'Kits familles', 1, 2000, 'kit', '[]', '2026-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO accessories (id, kind, imei, status, created_at) VALUES "
                "(1, 'mobile_key', '490154203237518', 'handed_over', '2026-01-01 00:00:00'), "
                "(2, 'charger', NULL, 'missing', '2026-01-01 00:00:00'), "
                "(3, 'charger', NULL, 'in_stock', '2026-01-01 00:00:00')"))
        yield app


def test_existing_programmes_become_one_target_each_and_keys_keep_their_meaning(old_database):
    with old_database.app_context():
        upgrade()
        with _db.engine.connect() as conn:
            targets = conn.execute(text("SELECT programme_id, unit, count FROM programme_targets ORDER BY 1")).all()
            kinds = conn.execute(text("SELECT programme_id, code, accessory_kinds FROM kit_kinds")).all()
            policies = conn.execute(text("SELECT beneficiary_policy FROM programmes")).scalars().all()
            statuses = conn.execute(text("SELECT status FROM accessories ORDER BY id")).scalars().all()
        assert [tuple(t) for t in targets] == [(1, "device", 1000), (2, "kit", 2000)]
        assert [(p, c, json.loads(a)) for p, c, a in kinds] == [(2, "kit", ["mobile_key"])]
        assert policies == ["allow", "allow"]  # existing programmes behave as before
        assert statuses == ["with_beneficiary", "lost", "in_stock"]
        downgrade(revision="0022_admin")
        with _db.engine.connect() as conn:
            rows = conn.execute(text("SELECT target_count, target_unit FROM programmes ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1000, "device"), (2000, "kit")]
        _db.engine.dispose()


def test_the_migration_stops_naming_accessories_that_share_an_imei(old_database, caplog, capfd):
    with old_database.app_context():
        with _db.engine.begin() as conn:
            conn.execute(text("INSERT INTO accessories (id, kind, imei, status, created_at) VALUES "
                              "(4, 'mobile_key', '490154203237518', 'in_stock', '2026-01-01 00:00:00')"))
        with pytest.raises(SystemExit):
            upgrade()
        out = capfd.readouterr()
        assert "imei 490154203237518 (2 accessories)" in out.err + out.out + caplog.text
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0022_admin"
        _db.engine.dispose()
