"""WSGI entry point: `flask --app wsgi …`, `gunicorn wsgi:app`."""
from asset_tracker import create_app

app = create_app()
