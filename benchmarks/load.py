"""HTTP load driver: TaskFlow under gunicorn beside a bare Flask route served the same way.

`run_load(database_url, ...)` starts two gunicorn servers on loopback with the same worker count
(TaskFlow's `taskflow.wsgi:app` over the given database, and `benchmarks.bare_app:app`), then runs
the driver in a separate process (`python -m benchmarks.load drive ...`): for each page in turn,
CLIENTS threads each sign in once through the real login form (CSRF token from the login page)
as the role that uses the page, then request the page over keep-alive http.client connections
until the time or request budget of that page is spent. The budget is spent in ROUNDS windows
that alternate with windows of the bare route. Per page it reports throughput (req/s),
p50/p95/max latency, errors, and the ratio of the throughput to the bare route's in the windows
beside it.

Everything stays on 127.0.0.1; both servers are stopped (by their process id) at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')
# Each page runs in this many windows, alternating with windows of the bare route.
ROUNDS = 5


@dataclass
class Page:
    """A page to load: its label, path and the account that uses it (None: no sign-in)."""

    name: str
    path: str
    username: str | None = None
    server: str = "taskflow"  # or "bare"


@dataclass
class PageResult:
    name: str
    path: str
    requests: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    ratio_to_bare: float | None = None
    statuses: dict = field(default_factory=dict)
    bare_throughput: float | None = None  # the bare route's, in the windows beside this page


# ---------------------------------------------------------------- the client side


class Client:
    """One simulated user: a keep-alive connection and a cookie jar."""

    def __init__(self, port: int, timeout: float = 60.0):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, dict]:
        headers = {"Connection": "keep-alive", "Accept-Language": "zh-CN"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # The server closed the kept-alive connection (sync workers do): reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if response.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        return response.status, data, dict(response.headers)

    def sign_in(self, username: str, password: str) -> None:
        status, body, _ = self.request("GET", "/login")
        match = _CSRF.search(body.decode("utf-8", "replace"))
        if status != 200 or match is None:
            raise RuntimeError(f"login page answered {status} without a CSRF token")
        token = _VALUE.search(match.group(0)).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "username": username,
                                       "password": password})
        status, _body, headers = self.request("POST", "/login", form)
        if status != 302:
            raise RuntimeError(f"{username} could not sign in (HTTP {status})")

    def close(self) -> None:
        self.conn.close()


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def open_clients(page: Page, port: int, *, clients: int, password: str,
                 warmup: int = 2) -> list[Client]:
    """`clients` simulated users of a page, each signed in (when the page needs it) and warm."""
    sessions = []
    for _ in range(clients):
        client = Client(port)
        if page.username:
            client.sign_in(page.username, password)
        for _ in range(warmup):  # first requests of a worker load templates and caches
            client.request("GET", page.path)
        sessions.append(client)
    return sessions


@dataclass
class Window:
    """One timed stretch of load on one page: every request's latency and status."""

    latencies: list[float]
    statuses: dict[int, int]
    seconds: float


def run_window(sessions: list[Client], path: str, *, seconds: float,
               max_requests: int) -> Window:
    """All sessions request `path` in a loop until `seconds` or `max_requests` is spent."""
    latencies: list[list[float]] = [[] for _ in sessions]
    statuses: list[dict[int, int]] = [{} for _ in sessions]
    budget = threading.Semaphore(max_requests)
    start_gate = threading.Barrier(len(sessions) + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        client = sessions[i]
        start_gate.wait()
        while time.perf_counter() < deadline[0] and budget.acquire(blocking=False):
            t0 = time.perf_counter()
            try:
                status, _body, _h = client.request("GET", path)
            except (OSError, http.client.HTTPException):
                status = -1
            latencies[i].append(time.perf_counter() - t0)
            statuses[i][status] = statuses[i].get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    begun = time.perf_counter()
    deadline[0] = begun + seconds
    start_gate.wait()
    for thread in threads:
        thread.join(seconds + 120)
    merged: dict[int, int] = {}
    for per in statuses:
        for status, n in per.items():
            merged[status] = merged.get(status, 0) + n
    return Window([x for per in latencies for x in per], merged, time.perf_counter() - begun)


def summarise(page: Page, windows: list[Window]) -> PageResult:
    """Throughput and latency percentiles over a page's windows."""
    flat = sorted(x for w in windows for x in w.latencies)
    elapsed = sum(w.seconds for w in windows)
    merged: dict[int, int] = {}
    for window in windows:
        for status, n in window.statuses.items():
            merged[status] = merged.get(status, 0) + n
    errors = sum(n for status, n in merged.items() if status != 200)
    return PageResult(
        name=page.name, path=page.path, requests=len(flat), errors=errors, seconds=round(elapsed, 2),
        throughput=round(len(flat) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(_percentile(flat, 0.50) * 1000, 1), p95_ms=round(_percentile(flat, 0.95) * 1000, 1),
        max_ms=round(flat[-1] * 1000, 1) if flat else float("nan"),
        statuses={str(k): v for k, v in sorted(merged.items())},
    )


def drive(pages: list[Page], ports: dict[str, int], *, clients: int, seconds: float,
          max_requests: int, password: str, rounds: int = ROUNDS) -> list[PageResult]:
    """Every page in turn, each in `rounds` windows that alternate with windows of the bare
    route, so a page and the bare route it is compared with run under the same conditions
    (the machine's other load moves from second to second). A page's ratio is its throughput
    over the bare route's in the windows beside it; the bare route's own row sums them all."""
    bare = next(p for p in pages if p.server == "bare")
    bare_sessions = open_clients(bare, ports["bare"], clients=clients, password=password)
    bare_windows: list[Window] = []
    results = []
    try:
        for page in pages:
            if page is bare:
                continue
            sessions = open_clients(page, ports[page.server], clients=clients, password=password)
            page_windows, beside = [], []
            try:
                for _ in range(rounds):
                    beside.append(run_window(bare_sessions, bare.path, seconds=seconds / rounds,
                                             max_requests=max(1, max_requests // rounds)))
                    page_windows.append(run_window(sessions, page.path, seconds=seconds / rounds,
                                                   max_requests=max(1, max_requests // rounds)))
            finally:
                for client in sessions:
                    client.close()
            result = summarise(page, page_windows)
            bare_beside = summarise(bare, beside)
            result.bare_throughput = bare_beside.throughput
            if bare_beside.throughput:
                result.ratio_to_bare = round(result.throughput / bare_beside.throughput, 3)
            bare_windows.extend(beside)
            results.append(result)
            print(f"  {page.name:28} {result.throughput:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
                  f"p95 {result.p95_ms:7.1f} ms  errors {result.errors}  "
                  f"(bare route beside it {bare_beside.throughput:.1f} req/s)",
                  file=sys.stderr, flush=True)
    finally:
        for client in bare_sessions:
            client.close()
    bare_result = summarise(bare, bare_windows)
    bare_result.ratio_to_bare = 1.0
    bare_result.bare_throughput = bare_result.throughput
    return [bare_result, *results]


# ---------------------------------------------------------------- the server side


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(database_url: str, instance_dir: Path) -> dict[str, str]:
    """TaskFlow's production settings for the benchmark server (plain HTTP on loopback)."""
    from benchmarks.run import SECRET, field_key

    env = dict(os.environ)
    env.update({
        "TASKFLOW_ENV": "production",
        "TASKFLOW_SECRET_KEY": SECRET,
        "TASKFLOW_FIELD_KEY": field_key(),
        "TASKFLOW_DATABASE_URL": database_url,
        "TASKFLOW_COOKIE_SECURE": "0",  # no TLS on loopback: the cookie must travel over http
        # The load driver signs in with a password only: with the production default (a second
        # factor for office, supervisor, admin and leader) the cockpit and the review queue would
        # answer every request with a redirect to the authenticator step. The pages' own work is
        # the same either way; the second factor costs one check at sign-in.
        "TASKFLOW_TOTP_REQUIRED_ROLES": "",
        "TASKFLOW_INSTANCE_DIR": str(instance_dir / "instance"),
        "TASKFLOW_DATA_DIR": str(instance_dir / "data"),
        "PYTHONPATH": str(ROOT),
    })
    return env


def start_gunicorn(app_path: str, port: int, workers: int, env: dict, log_path: Path) -> subprocess.Popen:
    """gunicorn with the project's gunicorn.conf.py, `workers` sync workers, on 127.0.0.1:port."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers),
         "-b", f"{HOST}:{port}", "--max-requests", "0", app_path],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_ready(port: int, path: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn on port {port} did not answer {path} within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a gunicorn master we started (and so its workers), by its process id."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


def run_load(database_url: str, pages: list[Page], *, workers: int, clients: int, seconds: float,
             max_requests: int, password: str, log_dir: Path) -> list[PageResult]:
    """Serve both apps, drive them from a separate process, stop them; the results per page."""
    env = server_env(database_url, log_dir.parent)
    ports = {"taskflow": free_port(), "bare": free_port()}
    procs = {
        "taskflow": start_gunicorn("taskflow.wsgi:app", ports["taskflow"], workers, env,
                                   log_dir / "taskflow-gunicorn.log"),
        "bare": start_gunicorn("benchmarks.bare_app:app", ports["bare"], workers, env,
                               log_dir / "bare-gunicorn.log"),
    }
    try:
        wait_ready(ports["taskflow"], "/healthz", procs["taskflow"])
        wait_ready(ports["bare"], "/", procs["bare"])
        spec = json.dumps({"pages": [asdict(p) for p in pages], "ports": ports,
                           "clients": clients, "seconds": seconds,
                           "max_requests": max_requests, "password": password})
        done = subprocess.run([sys.executable, "-m", "benchmarks.load", "drive"], input=spec,
                              capture_output=True, text=True, cwd=ROOT, env={**os.environ,
                              "PYTHONPATH": str(ROOT)}, timeout=len(pages) * (seconds + 300))
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"the load driver failed ({done.returncode})")
        return [PageResult(**row) for row in json.loads(done.stdout)]
    finally:
        for proc in procs.values():
            stop(proc)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="TaskFlow load driver")
    parser.add_argument("command", choices=["drive"], help="drive: read a JSON spec on stdin")
    parser.parse_args(argv)
    spec = json.loads(sys.stdin.read())
    results = drive([Page(**p) for p in spec["pages"]], spec["ports"], clients=spec["clients"],
                    seconds=spec["seconds"], max_requests=spec["max_requests"],
                    password=spec["password"])
    print(json.dumps([asdict(r) for r in results]))


if __name__ == "__main__":
    main()
