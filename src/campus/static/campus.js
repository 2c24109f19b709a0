// Campus: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // "Go back" buttons (shown only when scripts run).
  document.querySelectorAll("[data-back]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { history.back(); });
  });

  // Ask before destructive actions: <form data-confirm="Delete this?">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // A quiz's time limit: count the seconds down (the server enforces the deadline anyway).
  document.querySelectorAll("time[data-countdown]").forEach(function (el) {
    var end = Date.now() + parseInt(el.getAttribute("data-countdown"), 10) * 1000;
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left <= 30 && el.parentElement) { el.parentElement.classList.add("ending"); }
      if (left > 0) { window.setTimeout(tick, 1000); }
    }
    tick();
  });

  // A code block or table wider than its box scrolls sideways: make it focusable, so that
  // a keyboard can scroll it too (WCAG 2.1.1); again when the window changes size.
  function keyboardScrollers() {
    document.querySelectorAll(".prose pre, .prose table, .table-wrap").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth) {
        if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); }
      } else if (el.getAttribute("tabindex") === "0") {
        el.removeAttribute("tabindex");
      }
    });
  }
  keyboardScrollers();
  window.addEventListener("resize", keyboardScrollers);
  // Scripts that replace part of a page (the lesson editor's preview) say so.
  document.addEventListener("campus:content", keyboardScrollers);

  // Flash messages fade out after a while (they stay readable for screen readers).
  var flash = document.querySelector(".flash");
  if (flash) {
    window.setTimeout(function () { flash.classList.add("flash-quiet"); }, 6000);
  }
})();
