// On-site payment with Stripe.js and the Payment Element (buyers/onsite_views.py), on
// payment_element.js. The page's JSON config (#payment-config) gives the publishable key, the
// client secret of the purchase's PaymentIntent (or of a SetupIntent on "Add a card") and the
// return URL; amounts only ever come from the server. A second press of Pay while one is running
// does nothing.
(function () {
  "use strict";
  var P = window.PaymentElementPage;

  function start() {
    var page = P.mount("payment-config", ["payment-form", "setup-form"]);
    if (!page) return;
    var stripe = page.stripe;
    var confirmParams = { return_url: page.config.returnUrl };
    var presses = 0;

    var payForm = document.getElementById("payment-form");
    if (payForm) {
      // Before confirming: tell our server whether to save the card (each press its own attempt).
      P.onSubmit(page, payForm, function () {
        presses += 1;
        var save = document.getElementById("save-card");
        return P.post(page.config.saveCardUrl, {
          save: save && save.checked ? "1" : "0",
          attempt: payForm.dataset.attempt + "-" + presses,
        }).then(function (response) {
          if (!response.ok) {
            return response.json().then(function (body) { throw new Error(body.error || "The payment could not start."); });
          }
          return stripe.confirmPayment({ elements: page.elements, confirmParams: confirmParams });
        });
      }, " Please try another card.", "The payment did not go through.");
    }

    var setupForm = document.getElementById("setup-form");
    if (setupForm) {
      P.onSubmit(page, setupForm, function () {
        return stripe.confirmSetup({ elements: page.elements, confirmParams: confirmParams });
      }, "", "The card could not be saved.");
    }

    P.oneClick(page, " Please try another card.");
  }

  P.ready(start);
})();
