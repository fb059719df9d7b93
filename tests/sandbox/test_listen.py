"""Webhooks to other programs: an endpoint on another port is posted to over HTTP (not into this
site), `manage.py sandbox_listen --forward-to` forwards every event and prints each delivery and
its answer, and deliveries to a program that is down are retried until it answers."""

from __future__ import annotations

import http.server
import io
import json
import threading
import time

import pytest
import stripe
from django.core.management import call_command

from sandbox import delivery, testing
from sandbox.models import Delivery, SandboxObject


class Receiver:
    """A tiny webhook receiver on 127.0.0.1 (another program, as far as the sandbox knows)."""

    def __init__(self, port: int = 0, answer: int = 200) -> None:
        self.got: list[tuple[dict, str]] = []
        self.answer = answer
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.got.append((json.loads(body), self.headers["Stripe-Signature"]))
                outer.bodies.append(body)
                self.send_response(outer.answer)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.bodies: list[str] = []
        self.server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def program():
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_endpoint_on_another_port_is_posted_over_http(db, settings, program):
    settings.SITE_URL = "http://127.0.0.1:8000"
    assert delivery.is_local("http://127.0.0.1:8000/stripe/webhook/")
    assert delivery.is_local("http://localhost:8000/stripe/webhook/")
    assert not delivery.is_local(program.url)
    assert not delivery.is_local("http://example.com/hook")
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    endpoint = testing.register_endpoint(program.url)
    sdk = testing.stripe_client()
    customer = sdk.v1.customers.create({"email": "a@example.com"})
    testing.deliver_pending()
    ((event, signature),) = program.got
    assert event["type"] == "customer.created" and event["data"]["object"]["id"] == customer.id
    assert stripe.Webhook.construct_event(program.bodies[0], signature, endpoint["secret"])


def test_sandbox_listen_forwards_every_event_and_prints_each_delivery(
    transactional_db, settings, program
):
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    out = io.StringIO()
    runner = threading.Thread(
        target=call_command,
        args=("sandbox_listen",),
        kwargs={"forward_to": program.url, "seconds": 4, "poll": 0.1, "stdout": out},
    )
    runner.start()
    deadline = time.monotonic() + 3
    while not SandboxObject.objects.filter(object="webhook_endpoint", deleted=False).exists():
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.05)
    sdk = testing.stripe_client()
    customer = sdk.v1.customers.create({"email": "a@example.com"})
    product = sdk.v1.products.create({"name": "Mug"})
    runner.join()
    printed = out.getvalue()
    secret = printed.split("signing secret is ")[1].split()[0]
    assert secret.startswith("whsec_")
    types = [event["type"] for event, _ in program.got]
    assert types == ["customer.created", "product.created"]
    for body, (_, signature) in zip(program.bodies, program.got, strict=True):
        stripe.Webhook.construct_event(body, signature, secret)
    assert f"--> customer.created [{program.got[0][0]['id']}]" in printed
    assert f"<--  [200] POST {program.url} [{program.got[1][0]['id']}]" in printed
    assert customer.id in program.bodies[0] and product.id in program.bodies[1]
    # the endpoint goes away with the listener
    assert not SandboxObject.objects.filter(object="webhook_endpoint", deleted=False).exists()


def test_a_program_that_is_down_gets_every_event_when_it_comes_back(db, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    settings.SANDBOX_WEBHOOK_TIMEOUT = 1
    probe = Receiver()
    port = probe.port
    probe.close()  # nothing listens on the port now
    testing.register_endpoint(f"http://127.0.0.1:{port}/webhook")
    sdk = testing.stripe_client()
    sdk.v1.customers.create({"email": "a@example.com"})
    sdk.v1.customers.create({"email": "b@example.com"})
    first = testing.deliver_pending()
    assert [d.status for d in first] == ["pending", "pending"]
    assert all("Connection refused" in d.last_error or d.last_error for d in first)
    assert all(d.next_attempt_at == d.last_attempt_at + delivery.RETRY_DELAYS[0] for d in first)
    # still down at the first retry: the next one is later, on the schedule
    testing.advance(seconds=delivery.RETRY_DELAYS[0])
    assert {d.attempts for d in Delivery.objects.all()} == {2}
    back = Receiver(port=port)
    try:
        testing.advance(seconds=delivery.RETRY_DELAYS[1])
        assert [e["type"] for e, _ in back.got] == ["customer.created", "customer.created"]
        assert {d.status for d in Delivery.objects.all()} == {"succeeded"}
    finally:
        back.close()
