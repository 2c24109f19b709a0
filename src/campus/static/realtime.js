// Campus real time: the notification bell and the course chat over the socket
// (/api/v1/ws, signed in with the page's session cookie). An enhancement only: the chat's
// form posts without it, and reloading a page shows everything.
(function () {
  "use strict";
  if (!("WebSocket" in window)) { return; }

  var bell = document.getElementById("bell-count");
  var chat = document.getElementById("chat");
  var log = document.getElementById("chat-log");
  var empty = document.getElementById("chat-empty");
  var form = document.getElementById("chat-form");
  var statusLine = document.getElementById("chat-status");
  var courseId = chat ? parseInt(chat.getAttribute("data-course-id"), 10) : 0;
  var me = chat ? parseInt(chat.getAttribute("data-user-id"), 10) : 0;
  var moderator = chat ? chat.getAttribute("data-can-moderate") === "1" : false;
  // Live updates belong to the latest page of the chat, not to "load older" pages.
  var live = Boolean(chat) && !/[?&]cursor=/.test(window.location.search);
  var socket = null;
  var subscribed = false;
  var attempts = 0;
  var openedBefore = false;
  var stopped = false;

  // What the chat page says in its language (its data-msg-* attributes).
  function said(name) { return chat ? chat.getAttribute("data-msg-" + name) || "" : ""; }

  function setStatus(text) {
    if (!statusLine) { return; }
    statusLine.textContent = text;
    statusLine.hidden = !text;
  }

  function setBell(count) {
    if (!bell) { return; }
    bell.textContent = String(count);
    bell.hidden = count <= 0;
    var link = bell.closest("a");
    var label = link ? link.getAttribute("data-label") : null;  // the page's "%(count)s unread"
    if (label) { link.setAttribute("aria-label", label.split("%(count)s").join(String(count))); }
  }

  function bellCount() { return bell ? parseInt(bell.textContent, 10) || 0 : 0; }

  function when(iso) {
    var date = new Date(iso);
    return date.toLocaleString(document.documentElement.lang || undefined, { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function csrfToken() {
    var input = form ? form.querySelector("input[name=csrf_token]") : null;
    return input ? input.value : "";
  }

  function deleteForm(message) {
    var f = document.createElement("form");
    f.method = "post";
    f.action = "/courses/" + courseId + "/chat/" + message.id + "/delete";
    f.className = "inline-form chat-delete";
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrfToken();
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "button button-text button-small";
    button.textContent = said("delete");
    f.appendChild(token);
    f.appendChild(button);
    f.addEventListener("submit", confirmDelete);
    return f;
  }

  function confirmDelete(event) {
    if (!window.confirm(said("confirm-delete"))) { event.preventDefault(); }
  }

  function render(message) {
    var mine = message.author && message.author.id === me;
    var item = document.createElement("li");
    item.className = "chat-msg" + (mine ? " chat-mine" : "");
    item.id = "m-" + message.id;
    item.setAttribute("data-id", String(message.id));
    var meta = document.createElement("div");
    meta.className = "chat-meta";
    var who = document.createElement("strong");
    who.textContent = message.author ? message.author.full_name : said("deleted-user");
    var time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = when(message.created_at);
    meta.appendChild(who);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    if (message.edited_at) {
      var edited = document.createElement("span");
      edited.className = "muted";
      edited.textContent = " " + said("edited");
      meta.appendChild(edited);
    }
    var body = document.createElement("p");
    body.className = "chat-body";
    body.textContent = message.body;  // text, never HTML
    item.appendChild(meta);
    item.appendChild(body);
    if (mine || moderator) { item.appendChild(deleteForm(message)); }
    return item;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
  }

  function addMessage(message) {
    if (!log || message.course_id !== courseId) { return; }
    var existing = document.getElementById("m-" + message.id);
    var item = render(message);
    if (existing) { existing.replaceWith(item); return; }
    var follow = nearBottom() || (message.author && message.author.id === me);
    log.appendChild(item);
    if (empty) { empty.hidden = true; }
    if (follow) { item.scrollIntoView({ block: "end" }); }
  }

  function removeMessage(frame) {
    var item = document.getElementById("m-" + frame.message_id);
    if (item && frame.course_id === courseId) { item.remove(); }
    if (empty && log && !log.children.length) { empty.hidden = false; }
  }

  function showFormError(text) {
    if (!form) { return; }
    var field = form.querySelector(".field");
    var textarea = form.querySelector("textarea");
    var error = document.getElementById("e-body");
    if (!text) {
      if (error) { error.remove(); }
      if (field) { field.classList.remove("field-invalid"); }
      if (textarea) { textarea.removeAttribute("aria-invalid"); textarea.removeAttribute("aria-describedby"); }
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.className = "error-text";
      error.id = "e-body";
      field.appendChild(error);
    }
    error.textContent = text;
    field.classList.add("field-invalid");
    textarea.setAttribute("aria-invalid", "true");
    textarea.setAttribute("aria-describedby", "e-body");
  }

  // After a reconnect, frames sent meanwhile are gone: reload the latest messages.
  function reloadLog() {
    if (!log) { return; }
    window.fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("chat-log");
        if (fresh) {
          log.replaceChildren.apply(log, Array.prototype.map.call(fresh.children, function (node) {
            return document.importNode(node, true);
          }));
          log.querySelectorAll("form.chat-delete").forEach(function (f) {
            f.addEventListener("submit", confirmDelete);
          });
          if (empty) { empty.hidden = log.children.length > 0; }
        }
      })
      .catch(function () { /* the next reconnect tries again */ });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function handle(frame) {
    switch (frame.type) {
      case "chat.message":
      case "chat.message_edited":
        addMessage(frame.message);
        break;
      case "chat.message_deleted":
        removeMessage(frame);
        break;
      case "subscribed":
        if (frame.course_id === courseId) {
          subscribed = true;
          setStatus("");
          if (chat) { chat.setAttribute("data-live", "1"); }
        }
        break;
      case "notification":
        setBell(bellCount() + 1);
        break;
      case "error":
        if (frame.code === "validation-error" || frame.code === "enrollment-required" || frame.code === "rate-limited") {
          showFormError(said(frame.code) || frame.detail);
        }
        break;
      default:
        break;
    }
  }

  function schedule() {
    if (stopped) { return; }
    subscribed = false;
    if (chat) { chat.removeAttribute("data-live"); }
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    if (chat) { setStatus(said("reconnecting")); }
    window.setTimeout(connect, delay);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + window.location.host + "/api/v1/ws");
    } catch (err) {
      schedule();
      return;
    }
    socket.addEventListener("open", function () {
      attempts = 0;
      if (live) { send({ type: "subscribe", course_id: courseId }); }
      if (openedBefore && live) { reloadLog(); }
      openedBefore = true;
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (err) { return; }
      handle(frame);
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === 1008) {  // session ended or refused: do not hammer the server
        stopped = true;
        if (chat) { setStatus(said("stopped")); }
        return;
      }
      schedule();
    });
  }

  if (form && live) {
    form.addEventListener("submit", function (event) {
      var textarea = form.querySelector("textarea[name=body]");
      var body = textarea ? textarea.value : "";
      if (!subscribed || !body.trim()) { return; }  // the form posts as usual
      if (send({ type: "chat.send", course_id: courseId, body: body })) {
        event.preventDefault();
        textarea.value = "";
        showFormError("");
      }
    });
  }

  connect();
})();
