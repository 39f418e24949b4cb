"""Audit: signed checkpoints of the custody chain, streamed exports, the auditor's pages."""
