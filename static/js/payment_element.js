// What our two payment pages share (onsite_payment.js: a purchase or "Add a card";
// subscription_payment.js: a subscription's first payment, trial card or open invoice): mount
// Stripe.js's Payment Element from the page's JSON config, confirm it on submit, show Stripe's
// errors in #payment-error, and pay with a saved card in one click. A static file loaded with
// `defer` before the page's own script (no inline script: CSP). A second press while one is
// running does nothing.
window.PaymentElementPage = (function () {
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

  function post(url, body, json) {
    var headers = { "X-CSRFToken": csrfToken() };
    if (json) headers.Accept = "application/json";
    return fetch(url, { method: "POST", body: new URLSearchParams(body), headers: headers, credentials: "same-origin" });
  }

  // Stripe.js did not load (blocked network or extension): say so, hide the card form.
  function unavailable(formIds) {
    var box = document.getElementById("stripe-unavailable");
    if (box) box.hidden = false;
    var loading = document.getElementById("payment-loading");
    if (loading) loading.hidden = true;
    for (var i = 0; i < formIds.length; i += 1) {
      var form = document.getElementById(formIds[i]);
      if (form) { form.hidden = true; return; }
    }
  }

  // The page's config (the JSON script #configId: publishableKey, clientSecret, returnUrl...),
  // the Payment Element mounted in #payment-element and #pay-button enabled. null when the page
  // has no config, or when Stripe.js is unavailable (then the first of formIds found is hidden).
  function mount(configId, formIds) {
    var configNode = document.getElementById(configId);
    if (!configNode) return null;
    var config = JSON.parse(configNode.textContent);
    if (typeof window.Stripe !== "function") { unavailable(formIds); return null; }
    var stripe;
    try {
      stripe = window.Stripe(config.publishableKey);
    } catch (err) { unavailable(formIds); return null; }
    var elements = stripe.elements({ clientSecret: config.clientSecret, appearance: { theme: "stripe" } });
    elements.create("payment").mount("#payment-element");
    var loading = document.getElementById("payment-loading");
    if (loading) loading.hidden = true;
    var button = document.getElementById("pay-button");
    button.disabled = false;
    return { config: config, stripe: stripe, elements: elements, button: button, busy: false };
  }

  // On submit of `form`: validate the Payment Element, then `confirm()` (a promise of Stripe.js's
  // confirmPayment/confirmSetup result). Stripe.js redirects to the return URL on success; what
  // comes back is a decline or a failed authentication, shown with `declined` after it; any
  // other failure shows its message, or `fallback`.
  function onSubmit(page, form, confirm, declined, fallback) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (page.busy) return;
      page.busy = true; page.button.disabled = true; clearError();
      page.elements.submit().then(function (result) {
        if (result && result.error) { showError(result.error.message); return null; }
        return confirm().then(function (result) {
          if (result && result.error) showError(result.error.message + declined);
        });
      }).catch(function (err) {
        showError(err.message || fallback);
      }).then(function () { page.busy = false; page.button.disabled = false; });
    });
  }

  // One click with a saved card (forms marked data-one-click): confirmed by our server; when the
  // bank asks the buyer to authenticate, Stripe.js shows the challenge (handleNextAction), then
  // the return page. A decline shows the server's error with `declined` after it.
  function oneClick(page, declined) {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-one-click]"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (page.busy) return;
        page.busy = true; clearError();
        var formButton = form.querySelector("button");
        formButton.disabled = true;
        post(form.action, new FormData(form), true).then(function (response) {
          return response.json();
        }).then(function (answer) {
          if (answer.status === "requires_action") {
            return page.stripe.handleNextAction({ clientSecret: answer.clientSecret }).then(function () {
              window.location.assign(answer.next);
            });
          }
          if (answer.next) { window.location.assign(answer.next); return null; }
          showError((answer.error || "The payment did not go through.") + declined);
          page.busy = false; formButton.disabled = false;
          return null;
        }).catch(function () {
          showError("The payment could not be confirmed; please try again.");
          page.busy = false; formButton.disabled = false;
        });
      });
    });
  }

  function ready(start) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }

  return { mount: mount, onSubmit: onSubmit, oneClick: oneClick, post: post, ready: ready };
})();
