"""flask import batch FILE --batch ID."""
from __future__ import annotations

from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.intake import services as intake
from tests.intake_helpers import csv_rows


def test_import_batch_command_imports_and_reports_bad_rows(runner, users, tmp_path, db):
    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="CLI")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_rows(3, bad={2: {"imei": "999"}}))
    result = runner.invoke(args=["import", "batch", str(bad), "--batch", str(batch.id)])
    assert result.exit_code == 1
    assert "row 4, column IMEI (E)" in result.output and "nothing imported" in result.output
    assert db.session.scalar(select(func.count()).select_from(Device)) == 0

    good = tmp_path / "good.csv"
    good.write_bytes(csv_rows(3))
    result = runner.invoke(args=["import", "batch", str(good), "--batch", str(batch.id), "--user", "donor@example.org"])
    assert result.exit_code == 0, result.output
    assert "3 devices imported" in result.output
    again = runner.invoke(args=["import", "batch", str(good), "--batch", str(batch.id)])
    assert again.exit_code == 0 and "already imported" in again.output
    assert db.session.scalar(select(func.count()).select_from(Device)) == 3


def test_import_batch_command_refuses_an_unknown_batch(runner, users, tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(csv_rows(1))
    result = runner.invoke(args=["import", "batch", str(f), "--batch", "999"])
    assert result.exit_code == 1 and "No batch 999" in result.output
