"""The seller answers a dispute with text and files, through the sandbox: each file goes to
Stripe's files API (purpose dispute_evidence) and its id into the dispute's evidence; files
Stripe would refuse are refused here with a message, nothing sent, the text kept."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from buyers.models import Order
from marketplace import stripe_gateway
from payouts.models import Dispute
from tests.buyers.test_sandbox_payments import buy, buyer_client, pay, sandbox, shop  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n% delivery receipt\n" + b"0" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 500


@pytest.fixture
def disputed(shop, buyer_client):  # noqa: F811
    from sandbox import testing

    pay(buyer_client, buy(buyer_client, shop), "4000 0000 0000 0259")
    testing.advance(minutes=2)  # the bank opens the dispute
    order = Order.objects.get()
    assert order.dispute_status == "needs_response"
    return order


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_seller_answers_with_files(disputed, client):
    order = disputed
    client.force_login(order.seller.user)
    sale = client.get(f"/sales/{order.pk}/").content.decode()
    assert 'enctype="multipart/form-data"' in sale and 'name="shipping_documentation"' in sale
    url = f"/money/sales/{order.pk}/dispute/"
    text = "Shipped with La Poste 6A123, signed for on delivery."
    big = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024)
    for files, message in [
        ({"receipt": upload("notes.txt", b"just text")}, "not a PDF, JPEG or PNG file"),
        ({"shipping_documentation": upload("scan.pdf", big)}, "at most 5MB"),
        ({"uncategorized_file": upload("empty.png", b"")}, "empty"),
    ]:
        response = client.post(url, {"text": text, **files})
        body = response.content.decode()
        assert response.status_code == 400 and message in body, body[-3000:]
        assert text in body  # the text is kept
    assert Dispute.objects.get().evidence_submitted_at is None
    no_text = client.post(url, {"text": " ", "receipt": upload("r.pdf", PDF)})
    assert no_text.status_code == 400 and "Write what the bank should know" in (
        no_text.content.decode()
    )

    response = client.post(
        url,
        {
            "text": text,
            "receipt": upload("receipt.pdf", PDF),
            "shipping_documentation": upload("tracking.png", PNG),
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/sales/{order.pk}/"
    row = Dispute.objects.get()
    assert row.status == "under_review"
    by_field = {f["field"]: f for f in row.evidence_files}
    assert set(by_field) == {"receipt", "shipping_documentation"}
    assert by_field["receipt"]["filename"] == "receipt.pdf" and by_field["receipt"]["size"] == len(
        PDF
    )
    sdk = stripe_gateway.client()
    dispute = sdk.v1.disputes.retrieve(row.stripe_id)
    assert dispute.evidence.uncategorized_text == text
    assert dispute.evidence.receipt == by_field["receipt"]["file_id"]
    assert dispute.evidence.shipping_documentation == by_field["shipping_documentation"]["file_id"]
    stored = sdk.v1.files.retrieve(by_field["shipping_documentation"]["file_id"])
    assert (stored.purpose, stored.type, stored.size) == ("dispute_evidence", "png", len(PNG))


def test_sandbox_refuses_unknown_evidence_files_and_other_purposes(disputed):
    import io

    import stripe

    sdk = stripe_gateway.client()
    dispute_id = Dispute.objects.get().stripe_id
    with pytest.raises(stripe.InvalidRequestError, match="No such file upload"):
        sdk.v1.disputes.update(dispute_id, {"evidence": {"receipt": "file_nope"}})
    pdf = io.BytesIO(PDF)
    pdf.name = "id.pdf"
    with pytest.raises(stripe.InvalidRequestError, match="dispute evidence only"):
        sdk.v1.files.create({"purpose": "identity_document", "file": pdf})
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: file"):
        sdk.v1.files.create({"purpose": "dispute_evidence"})  # type: ignore[typeddict-item]
