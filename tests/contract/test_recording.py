"""The contract machinery itself: scrubbing, replay with the network blocked, and the structural
diff between two recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe
import vcr.errors
import yaml

from tests.contract.recording import Scrubber, diff


def test_ids_and_secrets_are_scrubbed_consistently():
    scrubber = Scrubber()
    text = scrubber.text(
        '{"id": "acct_1AbCdEfGhIjKlM", "client_secret": "pi_1Abcdef_secret_XyZ123", '
        '"again": "acct_1AbCdEfGhIjKlM", "key": "sk_test_abcdef123456"}'
    )
    assert "acct_1AbCdEfGhIjKlM" not in text and "sk_test_abcdef" not in text
    assert text.count("acct_id-0001") == 2
    assert scrubber.text("acct_id-0001") == "acct_id-0001"  # a replayed id stays as it is


def interaction(method: str, uri: str, status: int, body: dict) -> dict:
    return {
        "request": {"method": method, "uri": uri, "body": "", "headers": {}},
        "response": {"status": {"code": status, "message": ""}, "headers": {},
                     "body": {"string": json.dumps(body)}},
    }  # fmt: skip


def cassette_file(folder: Path, name: str, status: int, body: dict, events=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    interactions = [interaction("POST", "https://api.stripe.com/v1/refunds", status, body)]
    if events is not None:
        # Stripe lists the newest event first.
        listed = [{"id": f"evt_{i}", "object": "event", "type": t} for i, t in enumerate(events)]
        page = {"object": "list", "data": listed[::-1], "has_more": False}
        uri = "https://api.stripe.com/v1/events?created%5Bgte%5D=1700000000"
        interactions.append(interaction("GET", uri, 200, page))
    (folder / name).write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))


def test_diff_reports_status_keys_types_and_enum_values(tmp_path):
    refund = {"id": "re_1", "object": "refund", "amount": 2000, "status": "succeeded",
              "reason": None, "metadata": {}}  # fmt: skip
    cassette_file(tmp_path / "a", "flow.yaml", 200, refund)
    cassette_file(tmp_path / "b", "flow.yaml", 200, refund)
    assert diff(tmp_path / "a", tmp_path / "b") == []
    other = {**refund, "status": "pending", "amount": "2000", "extra": True}
    del other["metadata"]
    cassette_file(tmp_path / "c", "flow.yaml", 402, other)
    found = diff(tmp_path / "a", tmp_path / "c")
    assert any("status 200 vs 402" in line for line in found)
    assert any(".status str:succeeded vs str:pending" in line for line in found)
    assert any(".amount int vs str" in line for line in found)
    assert any(".metadata only on the left" in line for line in found)
    assert any(".extra only on the right" in line for line in found)


def test_replay_blocks_any_request_not_recorded(tmp_path):
    import vcr as vcrpy

    cassette_file(tmp_path, "flow.yaml", 200, {"id": "re_1", "object": "refund"})
    client = stripe.StripeClient(
        "sk_test_x", base_addresses={"api": "http://127.0.0.1:9"},
        http_client=stripe.RequestsClient(), max_network_retries=0,
    )  # fmt: skip
    with (
        vcrpy.use_cassette(str(tmp_path / "flow.yaml"), record_mode="none"),
        pytest.raises(
            (vcr.errors.CannotOverwriteExistingCassetteException, stripe.APIConnectionError)
        ),
    ):
        client.v1.customers.create({"email": "a@example.com"})


def test_diff_reports_event_types_and_their_order(tmp_path):
    refund = {"id": "re_1", "object": "refund", "status": "succeeded"}
    flow = ["charge.succeeded", "charge.refunded", "refund.created"]
    cassette_file(tmp_path / "a", "flow.yaml", 200, refund, events=flow)
    cassette_file(tmp_path / "b", "flow.yaml", 200, refund, events=flow)
    assert diff(tmp_path / "a", tmp_path / "b") == []
    # Another recording: one event missing, one more, two in another order.
    other = ["charge.refunded", "charge.succeeded", "charge.updated"]
    cassette_file(tmp_path / "c", "flow.yaml", 200, refund, events=other)
    found = diff(tmp_path / "a", tmp_path / "c")
    assert "flow.yaml: event refund.created only on the left" in found
    assert "flow.yaml: event charge.updated only on the right" in found
    assert (
        "flow.yaml: events in another order: ['charge.succeeded', 'charge.refunded'] vs "
        "['charge.refunded', 'charge.succeeded']" in found
    )
    assert not any("#1" in line for line in found)  # the list's shape is not reported per item


def test_polling_and_our_ids_do_not_count_as_differences(tmp_path):
    """Stripe is polled until an asynchronous step is done (the sandbox answers at once), and each
    recording has its own ids and times: neither is a structural difference."""
    body = {"id": "po_id-0001", "object": "payout", "status": "paid"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = [interaction("GET", "https://api.stripe.com/v1/payouts/po_id-0001", 200, body)]
    polled = [
        interaction("GET", "https://api.stripe.com/v1/payouts/po_id-0007", 200,
                    {**body, "status": "pending"}),
        interaction("GET", "https://api.stripe.com/v1/payouts/po_id-0007", 200, body),
    ]  # fmt: skip
    for folder, items in ((tmp_path / "a", one), (tmp_path / "b", polled)):
        (folder / "flow.yaml").write_text(yaml.safe_dump({"interactions": items, "version": 1}))
    assert diff(tmp_path / "a", tmp_path / "b") == []
