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

  // Flash messages fade out after a while (they stay readable for screen readers).
  var flash = document.querySelector(".flash");
  if (flash) {
    window.setTimeout(function () { flash.classList.add("flash-quiet"); }, 6000);
  }
})();
