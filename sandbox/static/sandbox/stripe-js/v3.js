/*
 * The Stripe sandbox's stand-in for Stripe.js v3 (served at /sandbox/js/v3/).
 *
 * The subset of Stripe.js the marketplace calls, with the same names and promise results:
 * Stripe(pk, {stripeAccount}), stripe.elements({clientSecret, appearance}), elements.create('payment'),
 * element.mount(), element.on('ready' | 'change' | 'focus' | 'blur'), elements.submit(),
 * stripe.confirmPayment(), stripe.confirmSetup(), stripe.confirmCardPayment(),
 * stripe.retrievePaymentIntent(), stripe.retrieveSetupIntent(), stripe.handleNextAction().
 *
 * It talks to the sandbox API (/sandbox/v1/ on the origin it was loaded from) with the publishable
 * key, through the endpoints Stripe opens to publishable keys. The Payment Element is a plain
 * SANDBOX card form rendered inside the mount node (no iframe, no inline script or style, no eval:
 * it runs under a strict Content-Security-Policy); 3-D Secure is an in-page SANDBOX challenge.
 * Card numbers go to the sandbox only, never anywhere else. No dependencies.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var ORIGIN = new URL(script && script.src ? script.src : window.location.href, window.location.href).origin;
  var API = ORIGIN + "/sandbox/v1";
  var CSS = ORIGIN + "/sandbox/js/v3/elements.css";
  var uid = 0;

  function IntegrationError(message) {
    var error = new Error(message);
    error.name = "IntegrationError";
    return error;
  }

  function ensureStyles() {
    if (document.querySelector("link[data-sandbox-stripe]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = CSS;
    link.setAttribute("data-sandbox-stripe", "");
    document.head.appendChild(link);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // --- form encoding (Stripe's a[b][0]=c) --------------------------------------------------------
  function encode(params, prefix, out) {
    out = out || [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      var name = prefix ? prefix + "[" + key + "]" : key;
      if (value === undefined || value === null) return;
      if (Array.isArray(value)) {
        value.forEach(function (item, index) {
          if (item !== null && typeof item === "object") encode(item, name + "[" + index + "]", out);
          else out.push(encodeURIComponent(name + "[" + index + "]") + "=" + encodeURIComponent(String(item)));
        });
      } else if (typeof value === "object") {
        encode(value, name, out);
      } else {
        out.push(encodeURIComponent(name) + "=" + encodeURIComponent(String(value)));
      }
    });
    return out;
  }

  function intentId(clientSecret) {
    var text = String(clientSecret || "");
    var at = text.indexOf("_secret_");
    if (at <= 0 || !/^(pi|seti)_[A-Za-z0-9_]+_secret_[A-Za-z0-9]+$/.test(text)) {
      throw IntegrationError(
        "Invalid value for clientSecret: value should be a client secret of the form ${id}_secret_${secret}."
      );
    }
    return text.slice(0, at);
  }

  function errorFrom(body, status) {
    var source = (body && body.error) || {};
    var error = {
      type: source.type || "api_error",
      message: source.message || "An unexpected error occurred (HTTP " + status + ")."
    };
    ["code", "decline_code", "param", "doc_url", "charge", "payment_intent", "setup_intent", "payment_method"].forEach(
      function (key) {
        if (source[key] !== undefined && source[key] !== null) error[key] = source[key];
      }
    );
    return error;
  }

  // --- the Payment Element -------------------------------------------------------------------
  var TEST_CARDS = [
    ["4242 4242 4242 4242", "succeeds"],
    ["4000 0000 0000 0002", "declined"],
    ["4000 0000 0000 9995", "declined, insufficient funds"],
    ["4000 0025 0000 3155", "asks for 3-D Secure"],
    ["4000 0000 0000 0259", "succeeds, then disputed"]
  ];

  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var digit = parseInt(digits.charAt(digits.length - 1 - i), 10);
      if (i % 2 === 1) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    return digits.length > 0 && sum % 10 === 0;
  }

  function PaymentElement(elements, type, options) {
    this._elements = elements;
    this._type = type;
    this._options = options || {};
    this._handlers = {};
    this._root = null;
    this._id = "sandbox-stripe-" + ++uid;
  }

  PaymentElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };
  PaymentElement.prototype.once = function (event, handler) {
    var self = this;
    function wrapper(payload) {
      self.off(event, wrapper);
      handler(payload);
    }
    return this.on(event, wrapper);
  };
  PaymentElement.prototype.off = function (event, handler) {
    var list = this._handlers[event] || [];
    this._handlers[event] = handler ? list.filter(function (h) { return h !== handler; }) : [];
    return this;
  };
  PaymentElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).slice().forEach(function (handler) {
      handler(payload);
    });
  };

  PaymentElement.prototype.mount = function (target) {
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (!node || !node.appendChild) {
      throw IntegrationError("The selector you specified (" + target + ") applies to no DOM elements that are currently on the page.");
    }
    if (this._root) this.unmount();
    ensureStyles();
    var id = this._id;
    var self = this;
    function field(name, label, attrs) {
      var input = el("input", Object.assign({
        id: id + "-" + name,
        name: name,
        type: "text",
        spellcheck: "false",
        "aria-describedby": id + "-error",
        className: "sandbox-stripe-input"
      }, attrs));
      return el("div", { className: "sandbox-stripe-field sandbox-stripe-field-" + name }, [
        el("label", { for: id + "-" + name, text: label }),
        input
      ]);
    }
    var cards = el("ul", { className: "sandbox-stripe-cards" }, TEST_CARDS.map(function (card) {
      return el("li", {}, [el("code", { text: card[0] }), " " + card[1]]);
    }));
    var root = el("div", { className: "sandbox-stripe-element", role: "group", "aria-labelledby": id + "-title" }, [
      el("p", { className: "sandbox-stripe-banner", id: id + "-title" }, [
        el("strong", { text: "SANDBOX" }),
        " card form: test cards only, no real payment"
      ]),
      field("number", "Card number", {
        inputmode: "numeric",
        autocomplete: "cc-number",
        placeholder: "1234 1234 1234 1234",
        maxlength: "23"
      }),
      el("div", { className: "sandbox-stripe-row" }, [
        field("expiry", "Expiry (MM / YY)", {
          inputmode: "numeric",
          autocomplete: "cc-exp",
          placeholder: "MM / YY",
          maxlength: "7"
        }),
        field("cvc", "CVC", { inputmode: "numeric", autocomplete: "cc-csc", placeholder: "123", maxlength: "4" })
      ]),
      el("p", { className: "sandbox-stripe-error", id: id + "-error", role: "alert" }),
      el("details", { className: "sandbox-stripe-help" }, [el("summary", { text: "Test cards" }), cards])
    ]);
    this._root = root;
    this._inputs = {
      number: root.querySelector("[name=number]"),
      expiry: root.querySelector("[name=expiry]"),
      cvc: root.querySelector("[name=cvc]")
    };
    this._error = root.querySelector(".sandbox-stripe-error");
    this._inputs.number.addEventListener("input", function () {
      var digits = self._inputs.number.value.replace(/\D/g, "").slice(0, 19);
      var formatted = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
      if (formatted !== self._inputs.number.value) self._inputs.number.value = formatted;
    });
    this._inputs.expiry.addEventListener("input", function (event) {
      var digits = self._inputs.expiry.value.replace(/\D/g, "").slice(0, 4);
      var deleting = event.inputType && event.inputType.indexOf("delete") === 0;
      var formatted = digits.length > 2 || (digits.length === 2 && !deleting) ? digits.slice(0, 2) + " / " + digits.slice(2) : digits;
      if (formatted !== self._inputs.expiry.value) self._inputs.expiry.value = formatted;
    });
    Object.keys(this._inputs).forEach(function (name) {
      var input = self._inputs[name];
      input.addEventListener("input", function () {
        input.removeAttribute("aria-invalid");
        self._showError("");
        var state = self._state();
        self._emit("change", {
          elementType: self._type,
          empty: state.empty,
          complete: state.complete,
          collapsed: false,
          value: { type: "card" }
        });
      });
      input.addEventListener("focus", function () { self._emit("focus", { elementType: self._type }); });
      input.addEventListener("blur", function () { self._emit("blur", { elementType: self._type }); });
    });
    node.appendChild(root);
    setTimeout(function () { self._emit("ready", { elementType: self._type }); }, 0);
    return this;
  };

  PaymentElement.prototype.unmount = function () {
    if (this._root && this._root.parentNode) this._root.parentNode.removeChild(this._root);
    this._root = null;
  };
  PaymentElement.prototype.destroy = function () {
    this.unmount();
    this._elements._element = null;
  };
  PaymentElement.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };
  PaymentElement.prototype.focus = function () {
    if (this._root) this._inputs.number.focus();
  };
  PaymentElement.prototype.blur = function () {
    if (this._root && document.activeElement && this._root.contains(document.activeElement)) document.activeElement.blur();
  };
  PaymentElement.prototype.clear = function () {
    if (!this._root) return;
    var inputs = this._inputs;
    Object.keys(inputs).forEach(function (name) { inputs[name].value = ""; });
    this._showError("");
  };
  PaymentElement.prototype.collapse = function () { return this; };

  PaymentElement.prototype._showError = function (message, field) {
    if (!this._root) return;
    this._error.textContent = message || "";
    var inputs = this._inputs;
    Object.keys(inputs).forEach(function (name) {
      if (name === field) inputs[name].setAttribute("aria-invalid", "true");
      else inputs[name].removeAttribute("aria-invalid");
    });
  };

  PaymentElement.prototype._setDisabled = function (disabled) {
    if (!this._root) return;
    var inputs = this._inputs;
    Object.keys(inputs).forEach(function (name) { inputs[name].disabled = disabled; });
  };

  PaymentElement.prototype._state = function () {
    var values = this._values();
    var empty = !values.number && !values.expiry && !values.cvc;
    return { empty: empty, complete: !this._validate(values) };
  };

  PaymentElement.prototype._values = function () {
    var inputs = this._inputs;
    return {
      number: inputs.number.value.replace(/\D/g, ""),
      expiry: inputs.expiry.value.replace(/\D/g, ""),
      cvc: inputs.cvc.value.replace(/\D/g, "")
    };
  };

  // Stripe.js's validation errors of the card fields.
  PaymentElement.prototype._validate = function (values) {
    function problem(code, message, field) {
      return { type: "validation_error", code: code, message: message, field: field };
    }
    if (values.number.length < 13) return problem("incomplete_number", "Your card number is incomplete.", "number");
    if (!luhn(values.number)) return problem("invalid_number", "Your card number is invalid.", "number");
    if (values.expiry.length < 4) return problem("incomplete_expiry", "Your card's expiration date is incomplete.", "expiry");
    var month = parseInt(values.expiry.slice(0, 2), 10);
    var year = 2000 + parseInt(values.expiry.slice(2, 4), 10);
    var now = new Date();
    if (month < 1 || month > 12) return problem("invalid_expiry_month", "Your card's expiration date is invalid.", "expiry");
    if (year < now.getFullYear()) return problem("invalid_expiry_year_past", "Your card's expiration year is in the past.", "expiry");
    if (year === now.getFullYear() && month < now.getMonth() + 1) {
      return problem("invalid_expiry_month_past", "Your card's expiration date is in the past.", "expiry");
    }
    var cvcLength = /^3[47]/.test(values.number) ? 4 : 3;
    if (values.cvc.length < cvcLength) return problem("incomplete_cvc", "Your card's security code is incomplete.", "cvc");
    return null;
  };

  // --- Elements --------------------------------------------------------------------------------
  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._element = null;
    this._pending = null;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "payment") {
      throw IntegrationError("The Stripe sandbox's Stripe.js implements only the Payment Element ('payment'), not '" + type + "'.");
    }
    if (this._element) throw IntegrationError("Can only create one Element of type payment.");
    this._element = new PaymentElement(this, type, options);
    return this._element;
  };
  Elements.prototype.getElement = function (type) {
    return type === "payment" ? this._element : null;
  };
  Elements.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };
  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };
  Elements.prototype.submit = function () {
    var element = this._element;
    if (!element || !element._root) {
      return Promise.resolve({
        error: { type: "validation_error", code: "incomplete", message: "The Payment Element is not mounted." }
      });
    }
    var problem = element._validate(element._values());
    if (problem) {
      element._showError(problem.message, problem.field);
      var error = { type: problem.type, code: problem.code, message: problem.message };
      return Promise.resolve({ error: error });
    }
    element._showError("");
    return Promise.resolve({ selectedPaymentMethod: "card" });
  };

  // --- the in-page 3-D Secure challenge ---------------------------------------------------------
  // An amount in minor units, with the currency's own number of decimals (JPY has none).
  function formatAmount(minor, currency) {
    var lang = document.documentElement.lang || undefined;
    try {
      var format = new Intl.NumberFormat(lang, { style: "currency", currency: currency.toUpperCase() });
      var digits = format.resolvedOptions().maximumFractionDigits;
      return format.format(minor / Math.pow(10, digits));
    } catch (error) {
      return minor + " " + currency.toUpperCase() + " (minor units)";
    }
  }

  function challenge(intent) {
    ensureStyles();
    return new Promise(function (resolve) {
      var id = "sandbox-stripe-3ds-" + ++uid;
      var previous = document.activeElement;
      var amount = intent.amount !== undefined && intent.currency ? formatAmount(intent.amount, intent.currency) : null;
      var complete = el("button", { type: "button", className: "sandbox-stripe-button", text: "Complete" });
      var fail = el("button", { type: "button", className: "sandbox-stripe-button sandbox-stripe-button-secondary", text: "Fail" });
      var dialog = el("div", {
        className: "sandbox-stripe-dialog",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": id + "-title",
        "aria-describedby": id + "-text"
      }, [
        el("h2", { id: id + "-title", text: "SANDBOX 3-D Secure" }),
        el("p", { id: id + "-text", text: (amount ? "Authenticate the payment of " + amount + ". " : "Authenticate this card. ") +
          "This stands in for the bank's challenge: no real bank is asked." }),
        el("div", { className: "sandbox-stripe-actions" }, [complete, fail])
      ]);
      var overlay = el("div", { className: "sandbox-stripe-overlay" }, [dialog]);
      function done(outcome) {
        document.removeEventListener("keydown", onKey, true);
        if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
        if (previous && previous.focus) previous.focus();
        resolve(outcome);
      }
      function onKey(event) {
        if (event.key === "Escape") {
          event.preventDefault();
          done("fail");
        } else if (event.key === "Tab") {
          event.preventDefault();
          (document.activeElement === complete ? fail : complete).focus();
        }
      }
      complete.addEventListener("click", function () { done("complete"); });
      fail.addEventListener("click", function () { done("fail"); });
      document.addEventListener("keydown", onKey, true);
      document.body.appendChild(overlay);
      complete.focus();
    });
  }

  // --- Stripe ----------------------------------------------------------------------------------
  function Stripe(key, options) {
    if (!(this instanceof Stripe)) return new Stripe(key, options);
    if (typeof key !== "string" || !key) {
      throw IntegrationError("Please call Stripe() with your publishable key. You used an empty string.");
    }
    if (/^(sk|rk)_/.test(key)) {
      throw IntegrationError("You are using a secret key with Stripe.js, instead of the publishable one.");
    }
    if (key.indexOf("pk_") !== 0) throw IntegrationError("Invalid value for Stripe(): apiKey should be a publishable key.");
    this._key = key;
    this._options = options || {};
  }

  Stripe.prototype._request = function (method, path, params) {
    var headers = { Authorization: "Bearer " + this._key };
    if (this._options.stripeAccount) headers["Stripe-Account"] = this._options.stripeAccount;
    var url = API + path;
    var body = encode(params || {}).join("&");
    var init = { method: method, headers: headers, credentials: "omit" };
    if (method === "GET") {
      if (body) url += "?" + body;
    } else {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = body;
    }
    return fetch(url, init).then(
      function (response) {
        return response.json().then(
          function (json) {
            return response.ok ? { ok: json } : { error: errorFrom(json, response.status) };
          },
          function () {
            return { error: errorFrom(null, response.status) };
          }
        );
      },
      function () {
        return {
          error: { type: "api_connection_error", message: "We could not reach the payment service. Check your connection and try again." }
        };
      }
    );
  };

  Stripe.prototype.elements = function (options) {
    var elements = new Elements(this, options);
    if (options && options.clientSecret) intentId(options.clientSecret);
    return elements;
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = intentId(clientSecret);
    return this._request("GET", "/payment_intents/" + id, { client_secret: clientSecret }).then(function (result) {
      return result.error ? { error: result.error } : { paymentIntent: result.ok };
    });
  };

  Stripe.prototype.retrieveSetupIntent = function (clientSecret) {
    var id = intentId(clientSecret);
    return this._request("GET", "/setup_intents/" + id, { client_secret: clientSecret }).then(function (result) {
      return result.error ? { error: result.error } : { setupIntent: result.ok };
    });
  };

  // kind: "payment_intent" | "setup_intent"
  function resource(kind) {
    return kind === "payment_intent" ? "/payment_intents/" : "/setup_intents/";
  }
  function resultKey(kind) {
    return kind === "payment_intent" ? "paymentIntent" : "setupIntent";
  }

  // An intent that needs the customer: the in-page challenge, then its answer to the sandbox.
  Stripe.prototype._authenticate = function (kind, intent, clientSecret) {
    var self = this;
    return challenge(intent).then(function (outcome) {
      return self._request("POST", resource(kind) + intent.id + "/test_authentication", {
        client_secret: clientSecret,
        outcome: outcome
      });
    });
  };

  // After a confirm: authenticate when asked, then the result Stripe.js resolves with (or the
  // redirect to return_url).
  Stripe.prototype._finish = function (kind, result, clientSecret, returnUrl, redirect) {
    var self = this;
    if (result.error) return Promise.resolve({ error: result.error });
    var intent = result.ok;
    if (intent.status === "requires_action") {
      return this._authenticate(kind, intent, clientSecret).then(function (answer) {
        return self._finish(kind, answer, clientSecret, returnUrl, redirect);
      });
    }
    if (intent.status === "requires_payment_method" && intent.last_payment_error) {
      var error = Object.assign({}, intent.last_payment_error);
      error[kind] = intent;
      return Promise.resolve({ error: error });
    }
    if (redirect !== "if_required" && returnUrl) {
      var query = kind === "payment_intent"
        ? { payment_intent: intent.id, payment_intent_client_secret: clientSecret }
        : { setup_intent: intent.id, setup_intent_client_secret: clientSecret };
      query.redirect_status = intent.status === "processing" ? "processing" : "succeeded";
      var target = new URL(returnUrl, window.location.href);
      Object.keys(query).forEach(function (key) { target.searchParams.set(key, query[key]); });
      window.location.assign(target.href);
      return new Promise(function () {});  // the page is going away, as with Stripe.js
    }
    var out = {};
    out[resultKey(kind)] = intent;
    return Promise.resolve(out);
  };

  Stripe.prototype._confirm = function (kind, options) {
    var self = this;
    options = options || {};
    var elements = options.elements;
    var confirmParams = options.confirmParams || {};
    var redirect = options.redirect || "always";
    var name = kind === "payment_intent" ? "confirmPayment" : "confirmSetup";
    if (!elements || !(elements instanceof Elements)) {
      return Promise.reject(IntegrationError("stripe." + name + "(): the `elements` argument is required."));
    }
    if (redirect !== "always" && redirect !== "if_required") {
      return Promise.reject(IntegrationError("stripe." + name + "(): `redirect` must be 'always' or 'if_required'."));
    }
    if (redirect === "always" && !confirmParams.return_url) {
      return Promise.reject(IntegrationError(
        "stripe." + name + "(): the `confirmParams.return_url` argument is required unless passing `redirect: 'if_required'`."
      ));
    }
    var clientSecret = options.clientSecret || elements._options.clientSecret;
    var id;
    try {
      id = intentId(clientSecret);
    } catch (error) {
      return Promise.reject(error);
    }
    if (elements._pending) return elements._pending;  // a second click confirms once
    var element = elements._element;
    var pending = elements.submit().then(function (submitted) {
      if (submitted.error) return { error: submitted.error };
      var values = element._values();
      var card = {
        number: values.number,
        exp_month: parseInt(values.expiry.slice(0, 2), 10),
        exp_year: 2000 + parseInt(values.expiry.slice(2, 4), 10),
        cvc: values.cvc
      };
      var pmData = confirmParams.payment_method_data || {};
      element._setDisabled(true);
      return self._request("POST", "/payment_methods", {
        type: "card",
        card: card,
        billing_details: pmData.billing_details
      }).then(function (created) {
        if (created.error) return { error: created.error };
        var params = { client_secret: clientSecret, payment_method: created.ok.id };
        if (confirmParams.return_url) params.return_url = confirmParams.return_url;
        if (kind === "payment_intent") {
          if (confirmParams.setup_future_usage) params.setup_future_usage = confirmParams.setup_future_usage;
          else if (confirmParams.save_payment_method) params.setup_future_usage = "off_session";
          if (confirmParams.receipt_email) params.receipt_email = confirmParams.receipt_email;
          if (confirmParams.shipping) params.shipping = confirmParams.shipping;
        }
        return self._request("POST", resource(kind) + id + "/confirm", params).then(function (result) {
          return self._finish(kind, result, clientSecret, confirmParams.return_url, redirect);
        });
      });
    });
    elements._pending = pending;
    return pending.then(
      function (result) {
        elements._pending = null;
        element._setDisabled(false);
        return result;
      },
      function (error) {
        elements._pending = null;
        element._setDisabled(false);
        throw error;
      }
    );
  };

  Stripe.prototype.confirmPayment = function (options) {
    return this._confirm("payment_intent", options);
  };

  Stripe.prototype.confirmSetup = function (options) {
    return this._confirm("setup_intent", options);
  };

  // A saved card (payment_method: "pm_...") or the intent's own payment method.
  Stripe.prototype.confirmCardPayment = function (clientSecret, data, options) {
    var self = this;
    var id = intentId(clientSecret);
    var params = { client_secret: clientSecret };
    if (data && typeof data.payment_method === "string") params.payment_method = data.payment_method;
    if (data && data.return_url) params.return_url = data.return_url;
    if (data && data.setup_future_usage) params.setup_future_usage = data.setup_future_usage;
    var handleActions = !options || options.handleActions !== false;
    return this._request("POST", "/payment_intents/" + id + "/confirm", params).then(function (result) {
      if (!handleActions && !result.error) return { paymentIntent: result.ok };
      return self._finish("payment_intent", result, clientSecret, null, "if_required");
    });
  };

  // The next action of an intent confirmed elsewhere (the server, a saved card): 3-D Secure.
  Stripe.prototype.handleNextAction = function (options) {
    var self = this;
    var clientSecret = options && options.clientSecret;
    var id = intentId(clientSecret);
    var kind = id.indexOf("seti_") === 0 ? "setup_intent" : "payment_intent";
    return this._request("GET", resource(kind) + id, { client_secret: clientSecret }).then(function (result) {
      if (result.error) return { error: result.error };
      if (result.ok.status !== "requires_action") {
        var out = {};
        out[resultKey(kind)] = result.ok;
        return out;
      }
      return self._finish(kind, result, clientSecret, null, "if_required");
    });
  };
  Stripe.prototype.handleCardAction = function (clientSecret) {
    return this.handleNextAction({ clientSecret: clientSecret });
  };

  Stripe.version = 3;
  Stripe.sandbox = true;
  window.Stripe = Stripe;
})();
