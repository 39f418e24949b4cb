"""Authentication (sessions, API tokens) and authorisation (roles, organisation scope)."""
