// Site-wide behaviour, loaded with `defer` from base.html (a static file: no CSP nonce needed).
// 1. The phone menu: a real button with aria-expanded; Escape closes it and returns focus.
// 2. Table cell labels: on a phone, tables with a header stack each row as a card, and every
//    cell shows its column's name from data-label (filled here from the <th> where a template
//    did not set it).
(function () {
  "use strict";

  function setUpMenu() {
    var button = document.querySelector(".nav-toggle");
    if (!button) return;
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    if (!nav) return;
    document.documentElement.classList.add("has-menu-button");
    button.hidden = false;

    function setOpen(open, returnFocus) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
      if (open) {
        var first = nav.querySelector("a, button");
        if (first) first.focus();
      } else if (returnFocus) {
        button.focus();
      }
    }

    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true", false);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false, true);
      }
    });
    // Focus leaving the open menu (Tab past its last link) closes it, as a click outside does.
    nav.addEventListener("focusout", function (event) {
      var to = event.relatedTarget;
      if (to && !nav.contains(to) && to !== button && button.getAttribute("aria-expanded") === "true") {
        setOpen(false, false);
      }
    });
    document.addEventListener("click", function (event) {
      if (button.getAttribute("aria-expanded") === "true" && !nav.contains(event.target) && !button.contains(event.target)) {
        setOpen(false, false);
      }
    });
  }

  function labelTables(root) {
    var tables = root.querySelectorAll("table");
    tables.forEach(function (table) {
      var head = table.tHead;
      if (!head || !head.rows.length) return;
      var names = [];
      Array.prototype.forEach.call(head.rows[head.rows.length - 1].cells, function (cell) {
        var span = cell.colSpan || 1;
        var name = cell.getAttribute("data-label") || cell.textContent.replace(/\s+/g, " ").trim();
        for (var i = 0; i < span; i++) names.push(name);
      });
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            if (!cell.hasAttribute("data-label") && names[column]) {
              cell.setAttribute("data-label", names[column]);
            }
            column += cell.colSpan || 1;
          });
        });
      });
    });
  }

  function start() {
    setUpMenu();
    labelTables(document);
    document.body.addEventListener("htmx:afterSettle", function () {
      labelTables(document);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
