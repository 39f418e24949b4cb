"""Organisations: donors, workshops, partners, recyclers and programme owners."""
