"""Data-wiping evidence: records per storage medium, log imports and certificates."""
