// Campus lesson editor: a live Markdown preview beside the form. An enhancement only:
// without this file the form's "Preview" button shows the same preview after a reload.
// The preview is rendered by the server (the lesson page's renderer and sanitiser), so
// what the pane shows is what learners will see.
(function () {
  "use strict";
  var form = document.getElementById("lesson-form");
  var pane = document.getElementById("preview-pane");
  var status = document.getElementById("preview-status");
  if (!form || !pane || !status || !window.fetch) { return; }
  var content = form.querySelector("textarea[name=content]");
  var token = form.querySelector("input[name=csrf_token]");
  var url = form.getAttribute("data-preview-url");
  if (!content || !token || !url) { return; }

  var DEBOUNCE_MS = 700;
  var timer = null;
  var inFlight = false;
  var again = false;
  var pausedUntil = 0;
  var shown = null;  // the text the pane shows

  // What the page says, in its language: the status line's data-msg-* attributes, with
  // their %(name)s filled in.
  function say(name, values) {
    var text = status.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("%(" + key + ")s").join(String(values[key]));
    });
    status.textContent = text;
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(send, delay);
  }

  function send() {
    var text = content.value;
    if (text === shown) { return; }
    if (inFlight) { again = true; return; }  // one request at a time; the latest text next
    var wait = pausedUntil - Date.now();
    if (wait > 0) { schedule(wait); return; }
    inFlight = true;
    var body = new URLSearchParams();
    body.set("content", text);
    window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token.value, "Accept": "text/html" },
      body: body
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (response.status === 429) {
        var seconds = parseInt(response.headers.get("retry-after"), 10) || 10;
        pausedUntil = Date.now() + seconds * 1000;
        say("paused", { seconds: seconds });
        again = true;
        return;
      }
      if (response.redirected || !response.ok || type.indexOf("text/html") !== 0) {
        say(response.status === 422 ? "too-long" : "unavailable");
        return;
      }
      return response.text().then(function (html) {
        pane.innerHTML = html;  // sanitised by the server, like the lesson page
        document.dispatchEvent(new CustomEvent("campus:content"));
        shown = text;
        say(text.trim() ? "live" : "empty");
      });
    }).catch(function () {
      say("unreachable");
    }).then(function () {
      inFlight = false;
      if (again) { again = false; schedule(Math.max(DEBOUNCE_MS, pausedUntil - Date.now())); }
    });
  }

  form.classList.add("tt-live");
  content.addEventListener("input", function () { schedule(DEBOUNCE_MS); });
  if (pane.innerHTML.trim()) { shown = content.value; } else { send(); }
})();
