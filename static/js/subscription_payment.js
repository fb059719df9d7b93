// Subscribing (or paying an open subscription invoice) on our own page with Stripe.js and the
// Payment Element (subscriptions/onsite_views.py). The page's JSON config
// (#subscription-payment-config) gives the publishable key, the client secret of the
// subscription's own intent and its kind: "payment" (the invoice's PaymentIntent,
// confirmPayment) or "setup" (a trial's SetupIntent, confirmSetup). Amounts only come from the
// server. A second press while one is running does nothing.
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showError(message) {
    var box = document.getElementById("payment-error");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    box.setAttribute("tabindex", "-1");
  }

  function clearError() {
    var box = document.getElementById("payment-error");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  function unavailable() {
    var box = document.getElementById("stripe-unavailable");
    if (box) box.hidden = false;
    var loading = document.getElementById("payment-loading");
    if (loading) loading.hidden = true;
    var form = document.getElementById("subscription-form");
    if (form) form.hidden = true;
  }

  function start() {
    var configNode = document.getElementById("subscription-payment-config");
    if (!configNode) return;
    var config = JSON.parse(configNode.textContent);
    if (typeof window.Stripe !== "function") { unavailable(); return; }
    var stripe;
    try {
      stripe = window.Stripe(config.publishableKey);
    } catch (err) { unavailable(); return; }
    var elements = stripe.elements({ clientSecret: config.clientSecret, appearance: { theme: "stripe" } });
    elements.create("payment").mount("#payment-element");
    var loading = document.getElementById("payment-loading");
    if (loading) loading.hidden = true;
    var button = document.getElementById("pay-button");
    button.disabled = false;
    var busy = false;

    var form = document.getElementById("subscription-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true; button.disabled = true; clearError();
      var confirm = config.kind === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
      elements.submit().then(function (result) {
        if (result && result.error) { showError(result.error.message); return null; }
        return confirm.call(stripe, { elements: elements, confirmParams: { return_url: config.returnUrl } })
          .then(function (result) {
            // Only reached when Stripe.js did not redirect: a decline or a failed authentication.
            if (result && result.error) showError(result.error.message + " Please try again or use another card.");
          });
      }).catch(function (err) {
        showError(err.message || "The payment did not go through.");
      }).then(function () { busy = false; button.disabled = false; });
    });

    // One click with a saved card: confirmed by our server; when the bank asks the buyer to
    // authenticate, Stripe.js shows the challenge (handleNextAction), then the return page.
    Array.prototype.forEach.call(document.querySelectorAll("form[data-one-click]"), function (oneClick) {
      oneClick.addEventListener("submit", function (event) {
        event.preventDefault();
        if (busy) return;
        busy = true; clearError();
        var formButton = oneClick.querySelector("button");
        formButton.disabled = true;
        var body = new URLSearchParams(new FormData(oneClick));
        fetch(oneClick.action, {
          method: "POST",
          body: body,
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
          credentials: "same-origin"
        }).then(function (response) {
          return response.json();
        }).then(function (answer) {
          if (answer.status === "requires_action") {
            return stripe.handleNextAction({ clientSecret: answer.clientSecret }).then(function () {
              window.location.assign(answer.next);
            });
          }
          if (answer.next) { window.location.assign(answer.next); return null; }
          showError((answer.error || "The payment did not go through.") + " Please try again or use another card.");
          busy = false; formButton.disabled = false;
          return null;
        }).catch(function () {
          showError("The payment could not be confirmed; please try again.");
          busy = false; formButton.disabled = false;
        });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
