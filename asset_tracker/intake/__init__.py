"""Collection batches, donor entry, bulk import and reception."""
