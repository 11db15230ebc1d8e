"""WSGI entry point for gunicorn: `gunicorn taskflow.wsgi:app`."""

from taskflow import create_app

app = create_app()
