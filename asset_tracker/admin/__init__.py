"""Administration pages: users, organisations, API tokens and programme partners (admins only)."""
