"""Recording helpers of the contract tests: which Stripe to talk to, vcrpy set-up, scrubbing
(keys, signatures, every object id mapped to a stable placeholder so a recording replays and two
recordings compare), and the structural comparison of two recordings (``make contract-diff``)."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import vcr

HERE = Path(__file__).resolve().parent
CASSETTES = HERE / "cassettes"
ID = re.compile(
    r"\b(?:acct|ba|btok|card|ch|cs|cus|dp|du|evt|fee|fr|in|ii|il|pi|pm|po|prod|price|py|pyr|re"
    r"|req|seti|sub|si|tok|tr|trr|txn|we|whsec)_[A-Za-z0-9]{6,}\b"
)
PLACEHOLDER = re.compile(r"\b[a-z]+_id-\d{4}\b")  # what the scrubber puts in an id's place
SECRET = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+|_secret_[A-Za-z0-9]+")


def real_key() -> str:
    """``sk_test_…`` to record against Stripe's test mode (``make contract`` passes
    ``STRIPE_SECRET_KEY`` here); empty for the sandbox."""
    key = os.environ.get("CONTRACT_STRIPE_KEY", "")
    if key and not key.startswith("sk_test_"):
        raise SystemExit("contract recordings take a test-mode key (sk_test_…) only")
    return key


def target() -> str:
    return "stripe" if real_key() else "sandbox"


def recording() -> bool:
    return os.environ.get("CONTRACT_RECORD") == "1"


class Scrubber:
    """Replaces every id with ``<prefix>_<n>`` (the same id, the same placeholder, in requests and
    responses) and every key or client secret with a fixed text."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def text(self, value: str) -> str:
        value = SECRET.sub("_scrubbed_", value)

        def placeholder(match: re.Match[str]) -> str:
            found = match.group(0)
            if found not in self.ids:
                prefix = found.split("_", 1)[0]
                # "<prefix>_id-0001": not itself an id (the pattern needs 6+ alphanumerics),
                # so replayed requests that carry it are left as they are and match.
                self.ids[found] = f"{prefix}_id-{len(self.ids) + 1:04d}"
            return self.ids[found]

        return ID.sub(placeholder, value)

    def request(self, request: Any) -> Any:
        # One canonical address whoever answered: Stripe, the sandbox (/sandbox/v1/...) or a replay.
        uri = re.sub(r"^https?://[^/]+(?:/sandbox)?/v1/", "https://api.stripe.com/v1/", request.uri)
        request.uri = self.text(uri)
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            request.body = self.text(body).encode()
        for name in list(request.headers):
            if name.lower() in ("authorization", "idempotency-key", "x-stripe-client-user-agent",
                                "user-agent"):  # fmt: skip
                request.headers[name] = "scrubbed"
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"].get("string", b"")
        if isinstance(body, bytes):
            body = body.decode(errors="replace")
        response["body"]["string"] = self.text(body).encode()
        keep = {"content-type", "stripe-version", "idempotent-replayed"}
        response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() in keep}
        return response


def _path_only(r1: Any, r2: Any) -> None:
    assert r1.path == r2.path, (r1.path, r2.path)


def folder() -> Path:
    """Where the recordings of the Stripe being talked to are (cassettes/sandbox or /stripe)."""
    return CASSETTES / target()


def run_numbers(name: str) -> dict[str, int]:
    """The numbers flow ``name``'s requests are made of: ``run`` (our ids are derived from it, so
    two recordings never share Stripe idempotency keys) and ``started`` (unix seconds: deadlines
    and the events listed). Chosen when recording and kept in ``run.json`` beside the cassettes,
    so that a replay sends exactly the recorded requests."""
    path = folder() / "run.json"
    kept: dict[str, dict[str, int]] = json.loads(path.read_text()) if path.exists() else {}
    if recording():
        now = int(time.time())
        kept[name] = {"run": now, "started": now - 1}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
    return kept.get(name, {"run": 0, "started": 0})


def cassette(name: str, scrubber: Scrubber) -> Any:
    """A vcrpy cassette for one flow: recorded (``CONTRACT_RECORD=1``) or replayed with the
    network blocked (any request not in the recording is an error)."""
    machine = vcr.VCR(
        cassette_library_dir=str(folder()),
        record_mode="all" if recording() else "none",
        match_on=["method", "path_only", "query", "body"],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    machine.register_matcher("path_only", _path_only)
    if recording():
        # vcrpy's "all" mode adds to what a cassette holds: a new recording starts empty.
        (folder() / f"{name}.yaml").unlink(missing_ok=True)
    return machine.use_cassette(f"{name}.yaml")


# --- structural comparison (make contract-diff) --------------------------------------------------
def _shape(value: Any, enums: bool, path: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _shape(v, enums, f"{path}.{k}") for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0], enums, f"{path}[]")] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if (
        isinstance(value, str)
        and enums
        and (
            path.endswith((".status", ".type", ".object", ".code", ".decline_code", ".reason"))
            or path.endswith(".failure_code")
        )
    ):
        return f"str:{value}"
    return type(value).__name__


def _interactions(path: Path) -> list[dict[str, Any]]:
    """A cassette's requests and answers; a request repeated in a row (polling until Stripe's
    asynchronous step is done) counts once, with its last answer."""
    import yaml

    data = yaml.safe_load(path.read_text())
    out: list[dict[str, Any]] = []
    for item in data.get("interactions", []):
        body = item["response"]["body"].get("string") or ""
        if isinstance(body, bytes):
            body = body.decode(errors="replace")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        uri = item["request"]["uri"].split("://", 1)[-1].split("/", 1)[-1]
        uri = re.sub(r"=\d+", "=<n>", ID.sub("<id>", PLACEHOLDER.sub("<id>", uri)))
        request = f"{item['request']['method']} {uri}"
        entry = {"request": request, "status": item["response"]["status"]["code"], "body": parsed}
        if out and out[-1]["request"] == request:
            out[-1] = entry
        else:
            out.append(entry)
    return out


def event_types(interactions: list[dict[str, Any]]) -> list[str]:
    """The types of the events a flow listed (``GET /v1/events``), oldest first."""
    types: list[str] = []
    for item in interactions:
        body = item["body"]
        if item["request"].startswith("GET v1/events") and isinstance(body, dict):
            listed = [e.get("type") for e in body.get("data") or [] if isinstance(e, dict)]
            types += [str(t) for t in reversed(listed)]
    return types


def diff(left: Path, right: Path) -> list[str]:
    """What differs between two recordings, flow by flow: requests, status codes, keys, value
    types, enum values (status, type, code ...), event types and their order."""
    problems: list[str] = []
    for cassette_file in sorted(left.glob("*.yaml")):
        other = right / cassette_file.name
        if not other.exists():
            problems.append(f"{cassette_file.name}: only in {left}")
            continue
        a, b = _interactions(cassette_file), _interactions(other)
        if len(a) != len(b):
            problems.append(f"{cassette_file.name}: {len(a)} vs {len(b)} requests")
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            where = f"{cassette_file.name}#{index} {x['request']}"
            if x["request"] != y["request"]:
                problems.append(f"{where}: request differs: {y['request']}")
                continue
            if x["status"] != y["status"]:
                problems.append(f"{where}: status {x['status']} vs {y['status']}")
            if x["request"].startswith("GET v1/events"):
                continue  # events compare as a sequence below
            problems.extend(_compare(_shape(x["body"], True), _shape(y["body"], True), where))
        ea, eb = event_types(a), event_types(b)
        if ea != eb:
            name = cassette_file.name
            for missing in [t for t in dict.fromkeys(ea) if t not in eb]:
                problems.append(f"{name}: event {missing} only on the left")
            for extra in [t for t in dict.fromkeys(eb) if t not in ea]:
                problems.append(f"{name}: event {extra} only on the right")
            common_a = [t for t in ea if t in eb]
            common_b = [t for t in eb if t in ea]
            if sorted(common_a) != sorted(common_b):
                problems.append(f"{name}: events counted differently: {ea} vs {eb}")
            elif common_a != common_b:
                problems.append(f"{name}: events in another order: {common_a} vs {common_b}")
    for cassette_file in sorted(right.glob("*.yaml")):
        if not (left / cassette_file.name).exists():
            problems.append(f"{cassette_file.name}: only in {right}")
    return problems


def _compare(a: Any, b: Any, where: str, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in b:
                out.append(f"{where}: {path}.{key} only on the left")
            elif key not in a:
                out.append(f"{where}: {path}.{key} only on the right")
            else:
                out.extend(_compare(a[key], b[key], where, f"{path}.{key}"))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if a and b:
            return _compare(a[0], b[0], where, f"{path}[]")
        return []
    if a != b and "NoneType" not in (a, b):
        return [f"{where}: {path or '<body>'} {a} vs {b}"]
    return []


if __name__ == "__main__":
    left = Path(sys.argv[1]) if len(sys.argv) > 1 else CASSETTES / "sandbox"
    right = Path(sys.argv[2]) if len(sys.argv) > 2 else CASSETTES / "stripe"
    found = diff(left, right)
    print("\n".join(found) if found else f"no structural difference between {left} and {right}")
    sys.exit(1 if found else 0)
