// Campus course editor: reorder lessons by dragging them. An enhancement only: the ↑ / ↓
// buttons (plain forms, keyboard-accessible) do the same without this file. A drop sends
// the same request as a button, to the same move endpoint (the lesson position update of
// API.md §4), asking for a JSON answer instead of a reload.
(function () {
  "use strict";
  var list = document.getElementById("lesson-order");
  var status = document.getElementById("order-status");
  if (!list || !window.fetch || !("draggable" in document.createElement("li"))) { return; }
  var items = function () { return Array.prototype.slice.call(list.children); };
  if (items().length < 2) { return; }

  var dragged = null;
  var before = null;  // the order when the drag started, to undo a refused move
  var busy = false;

  function say(text) { if (status) { status.textContent = text; } }
  // What the page says in its language (data-msg-* of the status line).
  function message(name) { return status ? status.getAttribute("data-msg-" + name) || "" : ""; }

  function token() {
    var input = list.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // Numbers, the ↑ / ↓ forms' target positions, and which of them show, from the order.
  function renumber() {
    var all = items();
    all.forEach(function (li, i) {
      var num = li.querySelector(".lesson-num");
      if (num) { num.textContent = String(i + 1); }
      var up = li.querySelector("form.tt-up");
      var down = li.querySelector("form.tt-down");
      if (up) { up.hidden = i === 0; up.querySelector("input[name=position]").value = String(i); }
      if (down) { down.hidden = i === all.length - 1; down.querySelector("input[name=position]").value = String(i + 2); }
    });
  }

  function restore() {
    before.forEach(function (li) { list.appendChild(li); });
    renumber();
  }

  function save(li) {
    var position = items().indexOf(li) + 1;
    if (position === before.indexOf(li) + 1) { return; }
    busy = true;
    list.classList.add("tt-busy");
    var body = new URLSearchParams();
    body.set("position", String(position));
    window.fetch(li.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token(), "Accept": "application/json" },
      body: body
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (moved) {
      renumber();
      say(moved.message);
    }).catch(function () {
      restore();
      say(message("failed"));
    }).then(function () {
      busy = false;
      list.classList.remove("tt-busy");
    });
  }

  items().forEach(function (li) {
    li.draggable = true;
    var handle = li.querySelector(".tt-handle");
    if (handle) { handle.hidden = false; }
    li.addEventListener("dragstart", function (event) {
      if (busy) { event.preventDefault(); return; }
      dragged = li;
      before = items();
      li.classList.add("tt-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", li.getAttribute("data-lesson-id"));
    });
    li.addEventListener("dragend", function () {
      li.classList.remove("tt-dragging");
      if (dragged) { dragged = null; save(li); }
    });
  });

  list.addEventListener("dragover", function (event) {
    if (!dragged) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    var target = event.target.closest ? event.target.closest("li") : null;
    if (!target || target === dragged || target.parentNode !== list) { return; }
    var box = target.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? target.nextSibling : target);
  });
  list.addEventListener("drop", function (event) { event.preventDefault(); });
  list.classList.add("tt-dnd");
})();
