"""Programmes, reservations, hand-over to beneficiaries, returns and recycling."""
