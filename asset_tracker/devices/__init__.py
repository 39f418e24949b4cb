"""Devices: identity, descriptive fields, storage media and state changes."""
