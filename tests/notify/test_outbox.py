"""The notifications outbox against a real local HTTP receiver: a webhook delivery is signed (HMAC-SHA256
over the raw body, checked here as a receiver would) and numbered, sent once; a failing receiver is retried
after a doubling wait and the message is dead-lettered after the last attempt; the SMS-gateway sender
posts its form behind the same interface; a message exists only if its event committed; and with the
server delivering by itself, PostgreSQL killed and restarted mid-delivery loses no message and repeats at
most the one in flight, under the same delivery id."""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import psycopg
import pytest

from gridmap.access.accounts import add_key
from gridmap.access.rules import Principal, cli_principal
from gridmap.db.embedded import EmbeddedCluster, free_port
from gridmap.db.migrate import migrate
from gridmap.incidents.intake import NewReport, intake
from gridmap.io.importer import import_file
from gridmap.notify.outbox import Retry, deliver_due, outbox_status
from gridmap.notify.senders import DELIVERY_HEADER, SIGNATURE_HEADER, SmsGatewaySender, WebhookSender
from gridmap.settings import Settings
from tests.conftest import LiveServer
from tests.db.test_fault import _kill, _restart
from tests.support.helpers import small_city
from tests.support.incident_setup import CALENDAR, POLICY, WEDNESDAY_10, spots

SECRET = "shared webhook secret"
DESK = Principal("desk", "user", "dispatcher")


class Receiver:
    """A real HTTP server on 127.0.0.1 recording each POST (headers, raw body); it answers 500 to the first
    ``fail_first`` requests (or to all with ``fail_always``), each after ``delay_s``."""

    def __init__(self, fail_first: int = 0, fail_always: bool = False, delay_s: float = 0.0):
        self.got: list[tuple[dict, bytes]] = []
        self.fail_first, self.fail_always, self.delay_s = fail_first, fail_always, delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server name)
                data = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay_s)
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, data))
                failing = receiver.fail_always or len(receiver.got) <= receiver.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kw) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _filed(conn: psycopg.Connection, phone: str | None = "13812345678", **kw) -> int:
    lon, lat, _ = spots(conn, 1, offset=kw.pop("offset", 0))[0]
    report = NewReport(
        "noise", "夜间施工噪音", "hotline_12345", lon, lat, reporter_name="周八", reporter_phone=phone, **kw
    )
    return intake(conn, DESK, report, CALENDAR, POLICY, WEDNESDAY_10).incident_id


def _clock(at):
    return lambda: at[0]


def test_a_webhook_delivery_is_signed_numbered_and_sent_once(demo_db, receiver):
    hook = receiver()
    with psycopg.connect(demo_db, autocommit=True) as conn:
        incident_id = _filed(conn)
        (message_id,) = conn.execute("SELECT id FROM notification WHERE incident_id = %s", (incident_id,)).fetchone()
        now = [WEDNESDAY_10]
        sender = WebhookSender(hook.url, SECRET, 5)
        done = deliver_due(conn, sender, Retry(3, 30), _clock(now))
        assert (done.sent, done.retried, done.dead) == (1, 0, 0)
        assert deliver_due(conn, sender, Retry(3, 30), _clock(now)).sent == 0  # nothing twice
        assert outbox_status(conn)["sent"] == 1
    assert len(hook.got) == 1
    headers, raw = hook.got[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], expected)
    assert not hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], "sha256=" + hmac.new(
        b"another secret", raw, hashlib.sha256).hexdigest())  # fmt: skip
    assert headers[DELIVERY_HEADER.lower()] == str(message_id)
    payload = json.loads(raw)
    assert payload["id"] == message_id and payload["incident"] == incident_id and payload["event"] == "filed"
    assert payload["recipient"]["phone"] == "13812345678" and f"#{incident_id}" in payload["text"]
    assert payload["text"].startswith("【网格通】")


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(demo_db, receiver):
    flaky, down = receiver(fail_first=2), receiver(fail_always=True)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        first = _filed(conn)
        retry = Retry(max_attempts=4, backoff_s=60)
        now = [WEDNESDAY_10]
        sender = WebhookSender(flaky.url, SECRET, 5)
        assert deliver_due(conn, sender, retry, _clock(now)).retried == 1  # attempt 1 fails
        now[0] += timedelta(seconds=59)
        assert deliver_due(conn, sender, retry, _clock(now)).retried == 0  # not due yet
        now[0] += timedelta(seconds=1)
        assert deliver_due(conn, sender, retry, _clock(now)).retried == 1  # attempt 2 fails: wait 120 s
        now[0] += timedelta(seconds=119)
        assert deliver_due(conn, sender, retry, _clock(now)).sent == 0
        now[0] += timedelta(seconds=1)
        assert deliver_due(conn, sender, retry, _clock(now)).sent == 1
        attempts, error = conn.execute(
            "SELECT attempts, last_error FROM notification WHERE incident_id = %s", (first,)
        ).fetchone()
        assert attempts == 3 and error is None and len(flaky.got) == 3
        assert len({h[DELIVERY_HEADER.lower()] for h, _ in flaky.got}) == 1  # one id on every retry

        second = _filed(conn, offset=1)
        sender = WebhookSender(down.url, SECRET, 5)
        for _ in range(6):
            deliver_due(conn, sender, retry, _clock(now))
            now[0] += timedelta(days=1)
        attempts, dead_at, error = conn.execute(
            "SELECT attempts, dead_at, last_error FROM notification WHERE incident_id = %s", (second,)
        ).fetchone()
        assert attempts == 4 and dead_at is not None and "HTTP 500" in error and len(down.got) == 4
        assert outbox_status(conn)["dead"] == 1


def test_the_sms_gateway_sender_and_only_committed_events(demo_db, receiver):
    gateway = receiver()
    with psycopg.connect(demo_db, autocommit=True) as conn:
        incident_id = _filed(conn, phone="0755-8888 6666")
        # A report refused (a bad phone) writes no message; neither does one without a phone.
        with pytest.raises(Exception, match="电话号码无效"):
            _filed(conn, phone="8888", offset=1)
        _filed(conn, phone=None, offset=2)
        assert conn.execute("SELECT count(*) FROM notification").fetchone()[0] == 1
        # An event rolled back takes its message with it.
        with pytest.raises(RuntimeError), conn.transaction():
            _filed(conn, offset=3)
            raise RuntimeError("the caller's transaction fails after intake")
        assert conn.execute("SELECT count(*) FROM notification").fetchone()[0] == 1
        done = deliver_due(conn, SmsGatewaySender(gateway.url, "gateway-key", 5), Retry(), _clock([WEDNESDAY_10]))
        assert done.sent == 1
    headers, raw = gateway.got[0]
    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    assert headers["authorization"] == "Bearer gateway-key"
    assert form["phone"] == "0755-88886666" and f"#{incident_id}" in form["text"] and form["id"]


def test_the_outbox_survives_a_killed_database(tmp_path, receiver):
    hook = receiver(delay_s=0.1)
    cluster = EmbeddedCluster(Path(tempfile.mkdtemp(prefix="gridmap-outbox-")) / "pg")
    port = free_port()
    url = cluster.start(port).url()
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            for level, path in small_city(tmp_path).items():
                assert import_file(conn, level, path, commit=True).committed
            settings = Settings(database_url=url, rate_limit_anonymous=0, pool_timeout_s=1, escalate_every_s=0,
                                notify_sender="webhook", notify_webhook_url=hook.url, notify_webhook_secret=SECRET,
                                notify_every_s=0.2, notify_backoff_s=0.2)  # fmt: skip
            key = add_key(conn, cli_principal(), settings.security.secret_key.get_secret_value(), "desk", "admin", [])
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=10) as client:

            def report(n: int) -> None:
                body = {"category": "noise", "description": f"噪音 {n}", "channel": "hotline_12345",
                        "lon": 114.0302 + n * 0.00003, "lat": 22.6005, "join_repeat": False,
                        "reporter": {"name": "市民", "phone": f"1380013{n:04d}"}}  # fmt: skip
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        answer = client.post("/api/v1/incidents", json=body, headers={
                            "Authorization": f"Bearer {key}", "Idempotency-Key": f"outbox-{n}"})  # fmt: skip
                    except httpx.TransportError:
                        answer = None
                    if answer is not None and answer.status_code in (200, 201):
                        return
                    time.sleep(0.2)
                raise AssertionError(f"report {n} was never taken in")

            for n in range(20):
                report(n)
            deadline = time.monotonic() + 30
            while len(hook.got) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            _kill(cluster)
            time.sleep(1.0)
            _restart(cluster, port)
            for n in range(20, 30):
                report(n)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with psycopg.connect(url) as conn:
                    waiting = conn.execute("SELECT count(*) FROM notification WHERE sent_at IS NULL").fetchone()[0]
                if not waiting:
                    break
                time.sleep(0.3)
        with psycopg.connect(url) as conn:
            ids = {i for (i,) in conn.execute("SELECT id FROM notification WHERE sent_at IS NOT NULL")}
            total = conn.execute("SELECT count(*) FROM notification").fetchone()[0]
    finally:
        cluster.destroy()
    assert total == 30 and len(ids) == 30, (total, len(ids))
    delivered = Counter(int(h[DELIVERY_HEADER.lower()]) for h, _ in hook.got)
    assert set(delivered) == ids  # nothing lost
    assert sum(c - 1 for c in delivered.values()) <= 1, delivered  # at most the one in flight, same id
