// On-site payment with Stripe.js and the Payment Element (buyers/onsite_views.py).
// The page's JSON config (#payment-config) gives the publishable key, the client secret of the
// purchase's PaymentIntent (or of a SetupIntent on "Add a card") and the return URL; amounts
// only ever come from the server. A second press of Pay while one is running does nothing.
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
    box.focus && box.setAttribute("tabindex", "-1");
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
    var form = document.getElementById("payment-form") || document.getElementById("setup-form");
    if (form) form.hidden = true;
  }

  function post(url, data, json) {
    var body = new URLSearchParams(data);
    var headers = { "X-CSRFToken": csrfToken() };
    if (json) headers.Accept = "application/json";
    return fetch(url, { method: "POST", body: body, headers: headers, credentials: "same-origin" });
  }

  function start() {
    var configNode = document.getElementById("payment-config");
    if (!configNode) return;
    var config = JSON.parse(configNode.textContent);
    if (typeof window.Stripe !== "function") { unavailable(); return; }
    var stripe;
    try {
      stripe = window.Stripe(config.publishableKey);
    } catch (err) { unavailable(); return; }
    var elements = stripe.elements({ clientSecret: config.clientSecret, appearance: { theme: "stripe" } });
    var paymentElement = elements.create("payment");
    paymentElement.mount("#payment-element");
    var loading = document.getElementById("payment-loading");
    if (loading) loading.hidden = true;
    var button = document.getElementById("pay-button");
    button.disabled = false;
    var busy = false;
    var presses = 0;

    function done() { busy = false; button.disabled = false; }

    var payForm = document.getElementById("payment-form");
    if (payForm) {
      payForm.addEventListener("submit", function (event) {
        event.preventDefault();
        if (busy) return;
        busy = true; button.disabled = true; clearError();
        presses += 1;
        var save = document.getElementById("save-card");
        elements.submit().then(function (result) {
          if (result && result.error) { showError(result.error.message); done(); return null; }
          return post(config.saveCardUrl, {
            save: save && save.checked ? "1" : "0",
            attempt: payForm.dataset.attempt + "-" + presses,
          }).then(function (response) {
            if (!response.ok) {
              return response.json().then(function (body) { throw new Error(body.error || "The payment could not start."); });
            }
            return stripe.confirmPayment({ elements: elements, confirmParams: { return_url: config.returnUrl } });
          }).then(function (result) {
            // Only reached when the payment did not redirect: a decline or an invalid card.
            if (result && result.error) showError(result.error.message + " Please try another card.");
            done();
          });
        }).catch(function (err) { showError(err.message || "The payment did not go through."); done(); });
      });
    }

    var setupForm = document.getElementById("setup-form");
    if (setupForm) {
      setupForm.addEventListener("submit", function (event) {
        event.preventDefault();
        if (busy) return;
        busy = true; button.disabled = true; clearError();
        elements.submit().then(function (result) {
          if (result && result.error) { showError(result.error.message); done(); return null; }
          return stripe.confirmSetup({ elements: elements, confirmParams: { return_url: config.returnUrl } })
            .then(function (result) {
              if (result && result.error) showError(result.error.message);
              done();
            });
        }).catch(function (err) { showError(err.message || "The card could not be saved."); done(); });
      });
    }

    // One click with a saved card: confirmed by our server; when the bank asks the buyer to
    // authenticate, Stripe.js shows the challenge (handleNextAction), then the return page.
    var oneClick = document.querySelectorAll("form[data-one-click]");
    Array.prototype.forEach.call(oneClick, function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (busy) return;
        busy = true; clearError();
        var formButton = form.querySelector("button");
        formButton.disabled = true;
        var data = {};
        new FormData(form).forEach(function (value, key) { data[key] = value; });
        post(form.action, data, true).then(function (response) {
          return response.json();
        }).then(function (body) {
          if (body.status === "requires_action") {
            return stripe.handleNextAction({ clientSecret: body.clientSecret }).then(function () {
              window.location.assign(body.next);
            });
          }
          if (body.next) { window.location.assign(body.next); return null; }
          showError((body.error || "The payment did not go through.") + " Please try another card.");
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
