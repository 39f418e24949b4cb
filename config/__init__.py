"""Configuration files, layered by asset_tracker.config_loader."""
