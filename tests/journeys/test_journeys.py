"""The five journeys of the three roles, end to end in headless Chromium through the sandbox, at
a desktop and a phone width; every page on the way must fit the window (nothing scrolls
sideways), and the sandbox's clock moves where the journey needs time to pass:

- a new seller signs up, onboards on the sandbox's hosted pages, publishes, sells, and days
  later sees the first payout paid;
- a buyer searches, buys, gets the order shipped, and reviews it (the listing shows it);
- a buyer asks for a refund of part of an order and the seller grants it;
- the bank disputes a payment, the seller answers with a file, and the dispute is lost;
- staff sign in with their second factor and run the reconciliation from its page.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.buyers.test_browser import (  # noqa: F401  (fixtures)
    _unhashed_static,
    log_in,
    pay_on_sandbox_page,
    sandbox_live,
    sandbox_shop,
)
from tests.factories import StaffFactory, UserFactory, log_in_with_totp_in_browser
from tests.journeys.test_browser import WIDTHS, fits

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sandbox_live"),
]

PDF = b"%PDF-1.4\n% La Poste proof of delivery, signed\n" + b"0" * 4000


def buy_and_pay(page, live_server, listing, card="4242 4242 4242 4242"):
    """The signed-in buyer searches for the listing, buys it and pays on the sandbox page."""
    from buyers.models import Order

    page.goto(live_server.url + "/?q=" + listing.title.split()[0].lower())
    page.locator("#results").get_by_role("link", name=listing.title).click()
    fits(page)
    page.get_by_role("button", name="Buy now").click()
    pay_on_sandbox_page(page, card)
    page.wait_for_url(re.compile(rf"{live_server.url}/orders/\d+/.*"))
    page.locator(".order-state").get_by_text("Paid").wait_for()
    fits(page)
    return Order.objects.latest("pk")


@pytest.mark.parametrize("width", WIDTHS)
def test_seller_onboards_sells_and_gets_the_first_payout(page, live_server, width):
    from sandbox import testing
    from sellers.models import Listing

    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + "/accounts/signup/")
    page.fill("input[name=email]", "potter@example.com")
    page.fill("input[name=password1]", "a-long-browser-pass-1")
    page.fill("input[name=password2]", "a-long-browser-pass-1")
    fits(page)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/confirm-email/.*"))
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body)
    page.goto(live_server.url + link.group(1))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + "/")

    page.goto(live_server.url + "/sell/start/")
    fits(page)
    page.fill("input[name=display_name]", "Potter's Wheel")
    page.fill("input[name=slug]", "potters-wheel")
    page.select_option("select[name=country]", "FR")
    page.select_option("select[name=default_currency]", "eur")
    page.get_by_role("button", name="Continue to Stripe").click()
    page.wait_for_url(re.compile(r".*/sandbox/onboarding/.*"))
    fits(page)
    page.fill("input[name=business_name]", "Potter's Wheel")
    page.check("input[name=outcome][value=complete]")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r".*/sell/\?from=stripe$"))
    assert "Your account is ready" in page.content()
    fits(page)
    page.get_by_role("link", name="New listing").click()
    page.fill("input[name=title]", "Stoneware bowl")
    page.locator("input[name=price]").press_sequentially("40")
    page.locator("#fee-preview").get_by_text("Buyer pays").wait_for()
    page.fill("input[name=stock]", "2")
    fits(page)
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_url(live_server.url + "/sell/")
    listing = Listing.objects.get(title="Stoneware bowl")
    seller_user = listing.seller.user

    # A buyer buys it.
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    order = buy_and_pay(page, live_server, listing)

    # Days pass on Stripe's clock: the funds become available, are paid out, and arrive.
    for _ in range(10):
        testing.advance(days=1)
    log_in(page, live_server, seller_user)
    page.goto(live_server.url + "/money/balance/")
    payouts = page.locator("section", has=page.get_by_role("heading", name="Payouts"))
    row = payouts.locator("tbody tr").first
    assert "Paid" in row.inner_text(), payouts.inner_text()
    assert order.seller_share.format() in row.inner_text()
    fits(page)
    page.goto(live_server.url + "/sell/")
    fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_buyer_searches_buys_receives_and_reviews(page, live_server, width):
    from sandbox import testing

    page.set_viewport_size({"width": width, "height": 900})
    listing = sandbox_shop()
    buyer = UserFactory(email="buyer@example.com")
    log_in(page, live_server, buyer)
    order = buy_and_pay(page, live_server, listing)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert "once it has been shipped" in page.content()

    log_in(page, live_server, listing.seller.user)
    page.goto(f"{live_server.url}/sales/{order.pk}/")
    page.fill("input[name=carrier]", "La Poste")
    page.fill("input[name=tracking_number]", "6A12345678901")
    page.get_by_role("button", name="Mark as shipped").click()
    page.get_by_text("Marked as shipped").wait_for()
    fits(page)

    testing.advance(days=3)  # the parcel travels
    log_in(page, live_server, buyer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    page.get_by_role("link", name="Rate and review this order").click()
    fits(page)
    # An empty review is refused and the rating is kept.
    page.get_by_label("4 stars").check()
    page.fill("textarea[name=body]", "  ")
    page.locator("textarea[name=body]").evaluate("el => el.removeAttribute('required')")
    page.get_by_role("button", name="Publish the review").click()
    page.get_by_text("Write a few words about the order.").wait_for()
    assert page.get_by_label("4 stars").is_checked()
    fits(page)
    page.fill("textarea[name=body]", "Lovely glaze, well packed.")
    page.get_by_role("button", name="Publish the review").click()
    page.get_by_text("your review is published").wait_for()
    fits(page)

    page.goto(f"{live_server.url}/listing/{listing.pk}/")
    reviews = page.locator("#reviews")
    assert "4.0 out of 5" in reviews.inner_text()
    assert "Lovely glaze, well packed." in reviews.inner_text()
    fits(page)
    page.goto(f"{live_server.url}/shop/{listing.seller.slug}/")
    assert "Lovely glaze, well packed." in page.locator("#reviews").inner_text()
    fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_buyer_asks_for_a_refund_and_the_seller_grants_it(page, live_server, width):
    from buyers.models import Order

    page.set_viewport_size({"width": width, "height": 900})
    listing = sandbox_shop()
    buyer = UserFactory(email="buyer@example.com")
    log_in(page, live_server, buyer)
    order = buy_and_pay(page, live_server, listing)

    page.get_by_role("link", name="Report a problem or ask for a refund").click()
    fits(page)
    page.get_by_label("It arrived damaged").check()
    page.fill("textarea[name=message]", "The handle came off in the box.")
    page.fill("input[name=amount]", "99")
    page.get_by_role("button", name="Send to the seller").click()
    page.get_by_text("At most €25.00 can be refunded on this order.").wait_for()
    # Nothing typed is lost.
    assert page.locator("textarea[name=message]").input_value() == (
        "The handle came off in the box."
    )
    fits(page)
    page.fill("input[name=amount]", "10")
    page.get_by_role("button", name="Send to the seller").click()
    page.get_by_text("Sent to the seller").wait_for()
    assert "Waiting for the seller" in page.content()
    fits(page)
    # The seller writes a message too.
    page.fill("textarea[name=body]", "Photo attached to my email, if needed.")
    page.get_by_role("button", name="Send message").click()
    page.get_by_text("Message sent").wait_for()

    log_in(page, live_server, listing.seller.user)
    page.goto(f"{live_server.url}/sales/{order.pk}/")
    assert "The handle came off in the box." in page.content()
    assert "Photo attached to my email" in page.content()
    fits(page)
    page.get_by_role("link", name=re.compile("Answer the request")).click()
    fits(page)
    assert page.locator("input[name=amount]").input_value() == "10.00"
    page.fill("textarea[name=answer]", "Sorry! Here is 10 euros back.")
    page.get_by_role("button", name="Refund and close the request").click()
    page.get_by_text("Refunded €10.00; the buyer has been emailed.").wait_for()
    fits(page)

    log_in(page, live_server, buyer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    problem = page.locator("#problem")
    assert "Refunded €10.00" in problem.inner_text()
    assert "Sorry! Here is 10 euros back." in problem.inner_text()
    order.refresh_from_db()
    assert order.refunded_amount == 1000 and order.status == Order.Status.PAID
    fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_seller_answers_a_dispute_with_a_file_and_it_is_lost(page, live_server, width, tmp_path):
    from payouts.models import Dispute
    from sandbox import testing

    page.set_viewport_size({"width": width, "height": 900})
    listing = sandbox_shop()
    buyer = UserFactory(email="buyer@example.com")
    log_in(page, live_server, buyer)
    order = buy_and_pay(page, live_server, listing, card="4000 0000 0000 0259")
    testing.advance(minutes=2)  # the buyer's bank opens a dispute

    log_in(page, live_server, listing.seller.user)
    page.goto(f"{live_server.url}/sales/{order.pk}/")
    assert "disputed this payment" in page.content()
    fits(page)
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a document the bank takes")
    proof = tmp_path / "delivery.pdf"
    proof.write_bytes(PDF)
    # Stripe's test evidence that makes the bank decide against the seller.
    page.fill("textarea[name=text]", "losing_evidence")
    page.set_input_files("input[name=uncategorized_file]", str(wrong))
    page.get_by_role("button", name="Send to the bank").click()
    page.get_by_text("not a PDF, JPEG or PNG file").wait_for()
    assert page.locator("textarea[name=text]").input_value() == "losing_evidence"
    fits(page)
    page.set_input_files("input[name=shipping_documentation]", str(proof))
    page.get_by_role("button", name="Send to the bank").click()
    page.get_by_text("Your answer went to the buyer's bank").wait_for()
    dispute = Dispute.objects.get()
    assert dispute.status == "under_review"
    assert [f["filename"] for f in dispute.evidence_files] == ["delivery.pdf"]
    fits(page)

    testing.advance(days=1)  # the bank decides
    page.goto(f"{live_server.url}/sales/{order.pk}/")
    assert "The dispute was lost" in page.content()
    assert page.get_by_role("button", name="Mark as shipped").count() == 0
    fits(page)
    log_in(page, live_server, buyer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert "decided the dispute in your favour" in page.content()
    fits(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_run_the_reconciliation_from_its_page(page, live_server, width):
    from sandbox import testing

    page.set_viewport_size({"width": width, "height": 900})
    listing = sandbox_shop()
    log_in(page, live_server, UserFactory(email="buyer@example.com"))
    buy_and_pay(page, live_server, listing)
    testing.advance(days=1)  # yesterday's sales are reconciled today

    page.context.clear_cookies()
    log_in_with_totp_in_browser(page, live_server.url, StaffFactory(email="ops@example.com"))
    page.goto(live_server.url + "/money/reconciliation/")
    fits(page)
    page.get_by_role("button", name="Run reconciliation").click()
    page.get_by_text("Reconciliation queued").wait_for()
    run = page.locator("#runs section.run").first
    run.locator(".badge", has_text="Clean").wait_for(timeout=20_000)
    assert "without ledger entries" in run.inner_text()
    fits(page)
