// Subscribing (or paying an open subscription invoice) on our own page with Stripe.js and the
// Payment Element (subscriptions/onsite_views.py), on payment_element.js. The page's JSON config
// (#subscription-payment-config) gives the publishable key, the client secret of the
// subscription's own intent and its kind: "payment" (the invoice's PaymentIntent,
// confirmPayment) or "setup" (a trial's SetupIntent, confirmSetup). Amounts only come from the
// server. A second press while one is running does nothing.
(function () {
  "use strict";
  var P = window.PaymentElementPage;
  var declined = " Please try again or use another card.";

  function start() {
    var page = P.mount("subscription-payment-config", ["subscription-form"]);
    if (!page) return;
    var stripe = page.stripe;
    var confirm = page.config.kind === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
    P.onSubmit(page, document.getElementById("subscription-form"), function () {
      return confirm.call(stripe, { elements: page.elements, confirmParams: { return_url: page.config.returnUrl } });
    }, declined, "The payment did not go through.");
    P.oneClick(page, declined);
  }

  P.ready(start);
})();
