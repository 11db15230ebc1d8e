"""The baseline: a bare Flask app with one route, served by gunicorn exactly like TaskFlow.

    gunicorn -w N -b 127.0.0.1:PORT benchmarks.bare_app:app
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    """A short string: the cost of Flask and gunicorn alone."""
    return "hello"
