"""The project's benchmark: a realistic dataset, the app served as in production, scenarios against SPEC targets."""
