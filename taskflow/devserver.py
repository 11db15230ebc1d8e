"""`make run`: the web app under gunicorn plus the single scheduler process, stopped together."""

import argparse
import os
import signal
import subprocess
import sys


def main() -> int:
    """Start the scheduler (when the app has one) and gunicorn; stop both on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5000")
    parser.add_argument("--workers", default=os.environ.get("TASKFLOW_WEB_WORKERS", "2"))
    args = parser.parse_args()

    bin_dir = os.path.dirname(sys.executable)
    children: list[subprocess.Popen] = []
    children.append(subprocess.Popen([os.path.join(bin_dir, "flask"), "scheduler", "run"]))
    config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gunicorn.conf.py")
    web = subprocess.Popen([
        os.path.join(bin_dir, "gunicorn"), "-c", config, "--bind", f"{args.host}:{args.port}",
        "--workers", str(args.workers), "taskflow.wsgi:app",
    ])
    children.append(web)
    print(f"TaskFlow is serving on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = web.wait()
    stop()
    for child in children:
        child.wait()
    return code


if __name__ == "__main__":
    sys.exit(main())
