"""The `flask audit` command group lives in asset_tracker/audit/cli.py (verify, keygen, checkpoint)."""

COMMANDS = []
