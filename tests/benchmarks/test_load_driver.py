"""The load driver's comparison with the bare route (benchmarks/load.py), against two small real
HTTP servers on loopback: one fast route, one that sleeps."""

import threading
import time

import pytest
from flask import Flask
from werkzeug.serving import make_server

from benchmarks.load import Page, drive

SLOW_SECONDS = 0.02


def _serve(app: Flask):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def servers():
    fast, slow = Flask("fast"), Flask("slow")
    fast.add_url_rule("/", "hello", lambda: "hello")

    def sleepy():
        time.sleep(SLOW_SECONDS)
        return "slow"

    slow.add_url_rule("/slow", "slow", sleepy)
    slow.add_url_rule("/missing-ok", "missing", lambda: ("gone", 404))
    running = {"bare": _serve(fast), "taskflow": _serve(slow)}
    yield {name: server.server_port for name, server in running.items()}
    for server in running.values():
        server.shutdown()


def test_each_page_is_compared_with_the_bare_route_run_beside_it(servers):
    pages = [Page("bare route", "/", None, "bare"), Page("slow page", "/slow"),
             Page("broken page", "/missing-ok")]
    results = drive(pages, servers, clients=2, seconds=0.6, max_requests=10_000,
                    password="unused", rounds=3)
    assert [r.name for r in results] == ["bare route", "slow page", "broken page"]
    bare, slow, broken = results
    assert bare.ratio_to_bare == 1.0 and bare.errors == 0
    # Each page's ratio is over the bare windows beside it, which the bare row sums.
    for page in (slow, broken):
        assert page.bare_throughput and page.ratio_to_bare == pytest.approx(
            page.throughput / page.bare_throughput, abs=0.001)
    assert bare.requests > slow.requests
    # Two clients, each waiting SLOW_SECONDS per request: at most 100 requests a second.
    assert slow.throughput <= 2 / SLOW_SECONDS * 1.05
    assert slow.ratio_to_bare < 1.0 and slow.p50_ms >= SLOW_SECONDS * 1000
    assert broken.errors == broken.requests > 0 and broken.statuses == {"404": broken.requests}
    # Three windows of 0.2 s per page: the page ran about 0.6 s, not one 0.2 s burst.
    assert 0.5 <= slow.seconds <= 1.5
    # The bare route ran beside both pages: six windows in all.
    assert 1.0 <= bare.seconds <= 3.0
