// The test page's use of Stripe.js, as a marketplace payment page would use it.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var data = app.dataset;
  var stripe = Stripe(data.pk);
  var elements = stripe.elements({ clientSecret: data.clientSecret, appearance: { theme: "stripe" } });
  var element = elements.create("payment", { layout: "tabs" });
  var message = document.getElementById("message");
  var events = [];
  window.sandboxEvents = events;
  element.on("ready", function () { app.setAttribute("data-ready", "1"); events.push("ready"); });
  element.on("change", function (event) { events.push("change:" + event.complete); });
  element.mount("#payment-element");
  document.getElementById("payment-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var confirmParams = { return_url: data.returnUrl };
    if (data.save) confirmParams.save_payment_method = true;
    var done;
    if (data.mode === "next_action") {
      done = stripe.handleNextAction({ clientSecret: data.clientSecret });
    } else if (data.mode === "saved_card") {
      done = stripe.confirmCardPayment(data.clientSecret, { payment_method: data.paymentMethod });
    } else {
      var call = data.mode === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
      done = call.call(stripe, { elements: elements, confirmParams: confirmParams, redirect: data.redirect });
    }
    done.then(function (result) {
      if (result.error) {
        message.textContent = "Error: " + result.error.type + " " + (result.error.code || "") + " " +
          (result.error.decline_code || "") + " | " + result.error.message;
      } else {
        var intent = result.paymentIntent || result.setupIntent;
        message.textContent = "Done: " + intent.id + " " + intent.status;
      }
    });
  });
})();
