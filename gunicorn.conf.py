"""gunicorn settings for TaskFlow: `gunicorn -c gunicorn.conf.py taskflow.wsgi:app`.

Every value can be set from the environment (docs/deploy.md lists them). The web workers never
run the scheduler: that is the single `flask scheduler run` process beside them.
"""

import multiprocessing
import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# Listen where nginx proxies to (a Unix socket path works too: "unix:/run/taskflow/web.sock").
bind = os.environ.get("TASKFLOW_BIND", "127.0.0.1:8000")
# Synchronous workers: 2 × cores + 1 by default, capped so a small VM is not overcommitted.
workers = _env_int("TASKFLOW_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9))
threads = _env_int("TASKFLOW_WEB_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# Uploads of evidence (up to TASKFLOW_MAX_UPLOAD_MB) over a slow intranet link need time.
timeout = _env_int("TASKFLOW_WEB_TIMEOUT", 120)
graceful_timeout = _env_int("TASKFLOW_WEB_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Restart workers now and then so a slow leak can never grow without bound.
max_requests = _env_int("TASKFLOW_WEB_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10 if max_requests else 0
# TASKFLOW_WEB_PRELOAD=1 loads the app once in the master, then forks (less memory); each worker
# then drops the connection pool it inherited (post_fork below), so no socket is shared.
preload_app = os.environ.get("TASKFLOW_WEB_PRELOAD", "0").lower() in {"1", "true", "yes", "on"}
# nginx in front sets X-Forwarded-*; TaskFlow trusts them via TASKFLOW_PROXY_COUNT (ProxyFix).
forwarded_allow_ips = os.environ.get("TASKFLOW_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs to stderr (journald under systemd). With TASKFLOW_LOG_FORMAT=json the app writes one
# structured line per request itself (logger taskflow.request), so gunicorn's access log is off;
# otherwise gunicorn writes a combined-style access line carrying the request id and duration.
errorlog = "-"
loglevel = os.environ.get("TASKFLOW_LOG_LEVEL", "info").lower()
if os.environ.get("TASKFLOW_LOG_FORMAT", "text") == "json":
    accesslog = None
else:
    accesslog = os.environ.get("TASKFLOW_ACCESS_LOG", "-")
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    "rid=%({x-request-id}o)s %(M)sms"
)
proc_name = "taskflow-web"


def post_fork(server, worker):
    """A forked worker must never use database connections opened in the master."""
    if not preload_app:
        return
    from taskflow.extensions import db
    from taskflow.wsgi import app

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
