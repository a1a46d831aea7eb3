// Live supervision: new yellow and red cards arrive over server-sent events from the same
// feed as Window.Watch and are added to the tables without reloading. Everything else in
// the console works without script.
(function () {
  var feed = document.querySelector("[data-live]");
  if (!feed || !window.EventSource) return;
  var source = new EventSource(feed.getAttribute("data-live"));
  function row(card) {
    var tr = document.createElement("tr");
    tr.className = "fresh " + card.kind;
    tr.setAttribute("data-project", card.project);
    tr.setAttribute("data-item", card.item);
    [card.project, card.item_name, card.department_name, card.due, card.card].forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 0) {
        var a = document.createElement("a");
        a.href = "/console/supervision/projects/" + encodeURIComponent(card.project);
        a.textContent = text;
        td.appendChild(a);
      } else {
        td.textContent = text;
      }
      if (i === 3) td.className = "due";
      tr.appendChild(td);
    });
    return tr;
  }
  function removeRow(body, card, counter) {
    Array.prototype.slice.call(body.rows).forEach(function (tr) {
      if (tr.getAttribute("data-project") === card.project && tr.getAttribute("data-item") === card.item) {
        tr.remove();
        var count = counter && document.getElementById(counter);
        if (count) count.textContent = String(Math.max(0, Number(count.textContent) - 1));
      }
    });
  }
  source.addEventListener("card", function (e) {
    var card = JSON.parse(e.data);
    var table = document.getElementById(card.kind === "overdue" ? "red-cards" : "yellow-cards");
    if (!table) return;
    var body = table.tBodies[0];
    // A task turning red leaves the yellow cards; a card already listed is not repeated.
    if (card.kind === "overdue") {
      var yellow = document.getElementById("yellow-cards");
      if (yellow) removeRow(yellow.tBodies[0], card, "yellow-count");
    }
    removeRow(body, card, null);
    var empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.insertBefore(row(card), body.firstChild);
    var count = document.getElementById(card.kind === "overdue" ? "red-count" : "yellow-count");
    if (count) count.textContent = String(body.rows.length);
  });
  source.addEventListener("open", function () { feed.setAttribute("data-connected", "yes"); });
  // The stream ends with the session (logout, expiry, a revoked token): the browser cannot
  // reconnect, and the page says so instead of going quietly stale.
  source.addEventListener("error", function () {
    if (source.readyState !== EventSource.CLOSED) return;
    feed.setAttribute("data-connected", "no");
    var note = document.createElement("p");
    note.className = "error";
    note.setAttribute("role", "alert");
    note.appendChild(document.createTextNode("实时推送已停止：会话已结束。 Live updates stopped: the session has ended. "));
    var a = document.createElement("a");
    a.href = "/console/login";
    a.textContent = "重新登录 Log in again";
    note.appendChild(a);
    feed.appendChild(note);
  });
})();
