"""The append-only, hash-chained custody log."""
