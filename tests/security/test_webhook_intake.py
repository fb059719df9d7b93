"""Webhook intake under hostile, validly signed (or not) bodies: 400 or 200, never a 500, and a
400 stores nothing. The named cases are the bugs found by hand; the fuzz test looks for more."""

from __future__ import annotations

import json
import string

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.events import services
from marketplace.events.models import StripeEvent
from tests.events.signing import CONNECT_SECRET, PLATFORM_SECRET, make_event, sign

WEBHOOK_URL = "/stripe/webhook/"
CONNECT_URL = "/stripe/webhook/connect/"
FUZZ_EXAMPLES = 200


@pytest.fixture(autouse=True)
def stripe_test_mode(settings):
    settings.STRIPE_SANDBOX = False
    settings.STRIPE_MODE = "test"
    settings.STRIPE_WEBHOOK_SECRETS = [PLATFORM_SECRET]
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = [CONNECT_SECRET]
    services.sandbox_secrets_forget()
    yield
    services.sandbox_secrets_forget()


def post(body: bytes, *, url: str = WEBHOOK_URL, header: str | None = None):
    secret = CONNECT_SECRET if url == CONNECT_URL else PLATFORM_SECRET
    if header is None:
        header = sign(body, secret)
    return Client().post(
        url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def raw_event(**replace: str) -> bytes:
    """A platform event's JSON text with some values replaced by raw JSON text (not re-encoded,
    so NaN, \\u0000 and lone surrogates reach the intake exactly as written)."""
    event = make_event("payout.paid")
    marks = {key: f"@@{key}@@" for key in replace}
    for key in replace:
        if key == "data":
            event["data"] = {"object": marks[key]}
        else:
            event[key] = marks[key]
    text = json.dumps(event)
    for key, value in replace.items():
        text = text.replace(json.dumps(marks[key]), value)
    return text.encode()


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


HOSTILE: dict[str, tuple[bytes, str]] = {
    "created 10^20": (raw_event(created=str(10**20)), WEBHOOK_URL),
    "created 10^400": (raw_event(created="1" + "0" * 400), WEBHOOK_URL),
    "created NaN": (raw_event(created="NaN"), WEBHOOK_URL),
    "created Infinity": (raw_event(created="Infinity"), WEBHOOK_URL),
    "data -Infinity": (raw_event(data="-Infinity"), WEBHOOK_URL),
    "data 1e999": (raw_event(data="1e999"), WEBHOOK_URL),
    "data int 10^30": (raw_event(data=str(10**30)), WEBHOOK_URL),
    "NUL in data": (raw_event(data='"a\\u0000b"'), WEBHOOK_URL),
    "NUL in id": (raw_event(id='"evt_\\u0000"'), WEBHOOK_URL),
    "NUL in a key": (raw_event(data='{"k\\u0000": 1}'), WEBHOOK_URL),
    "NUL in type": (raw_event(type='"payout.paid\\u0000"'), WEBHOOK_URL),
    "raw NUL byte": (raw_event(data='"a\x00b"'), WEBHOOK_URL),
    "lone surrogate in data": (raw_event(data='"\\ud800"'), WEBHOOK_URL),
    "lone low surrogate in id": (raw_event(id='"evt_\\udc00"'), WEBHOOK_URL),
    "nesting 65": (raw_event(data=nested(65)), WEBHOOK_URL),
    "nesting 5000": (raw_event(data=nested(5000)), WEBHOOK_URL),
    "nesting 100000": (raw_event(data=nested(100_000)), WEBHOOK_URL),
    "not UTF-8": (raw_event(data='"\xff"').replace(b"\xc3\xbf", b"\xff"), WEBHOOK_URL),
    "UTF-16": (json.dumps(make_event()).encode("utf-16"), WEBHOOK_URL),
    "Connect event at the platform endpoint": (
        json.dumps(make_event("account.updated", account="acct_1")).encode(),
        WEBHOOK_URL,
    ),
    "platform event at the Connect endpoint": (
        json.dumps(make_event("payout.paid")).encode(),
        CONNECT_URL,
    ),
}

HOSTILE_HEADERS = {
    "t of 300 digits": "t=" + "9" * 300 + ",v1=" + "0" * 64,
    "t of 5000 digits": "t=" + "9" * 5000 + ",v1=" + "0" * 64,
    "t negative": "t=-1,v1=" + "0" * 64,
    "t with underscores": "t=1_700_000_000,v1=" + "0" * 64,
    "t unicode digits": "t=\u0661\u0667" + "\u0660" * 8 + ",v1=" + "0" * 64,
    "header 100 KB": "t=1," + ",".join(["v1=" + "0" * 64] * 1500),
    "no v1": "t=1700000000",
    "only commas": ",,,,",
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_signed_body_is_a_one_line_400_and_nothing_stored(name):
    body, url = HOSTILE[name]
    response = post(body, url=url)
    assert response.status_code == 400, (name, response.content[:200])
    assert response.content.decode().count("\n") == 1
    assert StripeEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_HEADERS))
def test_hostile_signature_header_is_a_400(name):
    # the t= is signed too where it parses, so only the header's shape is at fault
    body = json.dumps(make_event()).encode()
    response = post(body, header=HOSTILE_HEADERS[name])
    assert response.status_code == 400, (name, response.content[:200])
    assert StripeEvent.objects.count() == 0


@pytest.mark.django_db
def test_signed_event_with_large_timestamp_is_the_tolerance_400():
    body = json.dumps(make_event()).encode()
    response = post(body, header=sign(body, PLATFORM_SECRET, timestamp=10**12 - 1))
    assert response.status_code == 400
    assert b"tolerance" in response.content


@pytest.mark.django_db
def test_a_normal_event_with_unicode_is_still_stored():
    event = make_event("payout.paid")
    event["data"]["object"]["description"] = "Café ☕ 𝄞 \u2028 <script>"
    response = post(json.dumps(event).encode())
    assert response.status_code == 200
    assert StripeEvent.objects.get().payload == event


# --- fuzz ---------------------------------------------------------------------------------------

_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028", "\ufeff"]),
    ),
    max_size=20,
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=30,
)


@st.composite
def bodies(draw):
    """An event-like JSON document (a random value somewhere, random id/created/account), or
    random JSON, encoded in a random way, with a random depth wrapper."""
    if draw(st.booleans()):
        event = make_event(draw(st.sampled_from(["payout.paid", "account.updated", "x" * 300])))
        event["data"]["object"][draw(_text)] = draw(_json)
        for field in draw(st.lists(st.sampled_from(["id", "created", "account", "type"]))):
            event[field] = draw(_json)
        value = event
    else:
        value = draw(_json)
    depth = draw(st.sampled_from([0, 0, 0, 10, 70, 3000]))
    text = json.dumps(value, allow_nan=True, ensure_ascii=draw(st.booleans()))
    text = "[" * depth + text + "]" * depth
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


@st.composite
def headers(draw, body: bytes, secret: str):
    shape = draw(st.sampled_from(["valid", "valid", "valid", "wrong secret", "random"]))
    if shape == "valid":
        return sign(body, secret)
    if shape == "wrong secret":
        return sign(body, "whsec_wrong")
    return draw(
        st.one_of(
            st.text(alphabet=string.printable, max_size=200),
            st.builds(lambda t: f"t={t},v1={'0' * 64}", st.integers(-(10**400), 10**400)),
        )
    )


FUZZ_SEEN = {"inputs": 0, "200": 0, "400": 0, "500": 0}


@pytest.mark.django_db
@hsettings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@example(data=None)  # the event tests/events already accept, as a baseline
def test_webhook_intake_fuzz_200_inputs_400_or_200_never_500(data):
    if data is None:
        body, url, header = json.dumps(make_event()).encode(), WEBHOOK_URL, None
    else:
        body = data.draw(bodies())
        url = data.draw(st.sampled_from([WEBHOOK_URL, CONNECT_URL]))
        secret = CONNECT_SECRET if url == CONNECT_URL else PLATFORM_SECRET
        header = data.draw(headers(body, secret))
    before = StripeEvent.objects.count()
    response = post(body, url=url, header=header)
    FUZZ_SEEN["inputs"] += 1
    FUZZ_SEEN[str(response.status_code)] = FUZZ_SEEN.get(str(response.status_code), 0) + 1
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert StripeEvent.objects.count() == before


def test_fuzz_counts_reported():
    """Prints what the fuzz test above tried (run with -s or -rA to see it)."""
    print(f"webhook intake fuzz: {FUZZ_SEEN}")
    if FUZZ_SEEN["inputs"]:
        assert FUZZ_SEEN["500"] == 0
