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


def cassette_file(folder: Path, name: str, status: int, body: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "interactions": [
            {
                "request": {"method": "POST", "uri": "http://x/v1/refunds", "body": "",
                            "headers": {}},
                "response": {"status": {"code": status, "message": ""}, "headers": {},
                             "body": {"string": json.dumps(body)}},
            }
        ],
        "version": 1,
    }  # fmt: skip
    (folder / name).write_text(yaml.safe_dump(data))


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
