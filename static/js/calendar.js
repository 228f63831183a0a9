// The desk's calendar: move a booked session by dragging it to another time or column.
// The move goes through the same form and booking rule as the session page's "Move session"
// (POST to its move URL); a refusal is shown where the session was dropped and nothing moves.
// Without JavaScript the calendar still reads, and each session links to its page.
(function () {
  "use strict";
  var dragged = null;
  var over = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  function dropCell(target) {
    return target && target.closest ? target.closest("table[data-calendar] td[data-start]") : null;
  }

  function mark(cell) {
    if (over === cell) return;
    if (over) over.classList.remove("drop-over");
    over = cell;
    if (over) over.classList.add("drop-over");
  }

  function clearRefusals() {
    document.querySelectorAll(".cal-refusal").forEach(function (node) { node.remove(); });
  }

  // The reasons, in a box over the cell the session was dropped on.
  function refuse(cell, html) {
    clearRefusals();
    var feedback = document.getElementById("cal-feedback");
    if (feedback) feedback.innerHTML = "";
    var scroll = cell.closest(".cal-scroll");
    var box = document.createElement("div");
    box.className = "cal-refusal";
    box.setAttribute("role", "alert");
    box.innerHTML = html;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "cal-refusal-close";
    close.textContent = "Close";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    scroll.appendChild(box);
    var cellBox = cell.getBoundingClientRect();
    var scrollBox = scroll.getBoundingClientRect();
    box.style.top = (cellBox.bottom - scrollBox.top + scroll.scrollTop) + "px";
    box.style.left = Math.max(0, cellBox.left - scrollBox.left + scroll.scrollLeft - 40) + "px";
  }

  function move(session, cell) {
    var body = new URLSearchParams();
    body.set("starts_at", cell.dataset.start);
    body.set("practitioner", cell.dataset.practitioner || session.dataset.practitioner);
    session.classList.add("moving");
    var table = cell.closest("table[data-calendar]");
    fetch(session.dataset.move, {
      method: "POST",
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() },
      body: body
    }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    }).then(function (answer) {
      session.classList.remove("moving");
      if (!answer.ok) {
        refuse(cell, answer.html);
        return;
      }
      var redraw = window.htmx
        ? window.htmx.ajax("GET", table.dataset.calendar, { target: "#day-grid", swap: "innerHTML" })
        : Promise.resolve(window.location.reload());
      redraw.then(function () {
        var feedback = document.getElementById("cal-feedback");
        if (feedback) feedback.innerHTML = answer.html;
      });
    }).catch(function () {
      session.classList.remove("moving");
      refuse(cell, "<p>The session could not be moved: the server did not answer. Nothing was changed.</p>");
    });
  }

  document.addEventListener("dragstart", function (event) {
    var session = event.target.closest ? event.target.closest("[data-move]") : null;
    if (!session) return;
    dragged = session;
    clearRefusals();
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", session.dataset.session);
    session.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    mark(null);
  });

  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var cell = dropCell(event.target);
    mark(cell);
    if (!cell) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  });

  document.addEventListener("drop", function (event) {
    var cell = dropCell(event.target);
    if (!dragged || !cell) return;
    event.preventDefault();
    var session = dragged;
    mark(null);
    move(session, cell);
  });
})();
