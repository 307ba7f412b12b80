// mrf's pages work without this script; it only adds: table sorting, the unlock countdown
// (revealed values turn back into "sealed" pills when it ends, without a reload), live sync
// progress, and focus on the error summary. No inline script: the CSP allows this file only.
"use strict";
(function () {
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      if (th.hasAttribute("data-nosort")) return;
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(b);
      var asc = true;
      b.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var num = th.classList.contains("num");
        rows.sort(function (x, y) {
          var a = x.cells[col] ? x.cells[col].textContent.trim() : "";
          var c = y.cells[col] ? y.cells[col].textContent.trim() : "";
          var r = num ? parseFloat(a.replace(/[^0-9.-]/g, "")) - parseFloat(c.replace(/[^0-9.-]/g, ""))
                      : a.localeCompare(c);
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        asc = !asc;
      });
    });
  }

  function seal() {
    document.querySelectorAll(".revealed").forEach(function (el) {
      var p = document.createElement("span");
      p.className = "pill sealed";
      p.textContent = "sealed";
      el.replaceWith(p);
    });
    document.querySelectorAll("input.revealed-value, textarea.revealed-value").forEach(function (el) {
      el.value = "";
    });
    var st = document.getElementById("lock-state");
    if (st) st.textContent = "Locked (timed out)";
  }

  function countdown(el) {
    var left = parseInt(el.getAttribute("data-seconds"), 10);
    function show() {
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
    }
    show();
    var t = setInterval(function () {
      left -= 1;
      if (left <= 0) { clearInterval(t); el.textContent = "0:00"; seal(); return; }
      show();
    }, 1000);
  }

  function progress(el) {
    var bar = el.querySelector("progress"), text = el.querySelector(".progress-text");
    function poll() {
      fetch(el.getAttribute("data-poll"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (!p.running) { window.location.reload(); return; }
          bar.max = Math.max(p.ops_total, 1);
          bar.value = p.ops_total > 0 ? p.ops_sent : 0;
          text.textContent = p.ops_sent + " of " + p.ops_total + " changes sent, " + p.changesets +
            " change sets, " + p.ops_pulled + " received, " + p.bytes_up + " bytes up, " +
            p.bytes_down + " bytes down";
          setTimeout(poll, 400);
        })
        .catch(function () { setTimeout(poll, 1000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(sortable);
    var cd = document.getElementById("lock-countdown");
    if (cd) countdown(cd);
    var pr = document.getElementById("sync-progress");
    if (pr) progress(pr);
    var es = document.getElementById("error-summary");
    if (es) es.focus();
  });
})();
