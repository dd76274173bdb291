// airless web UI: live parts refresh when the daemon's events say something
// changed; a running try's log grows as it is written. Nothing is fetched
// while the tab is hidden.
(function () {
  "use strict";
  var stream = document.body.getAttribute("data-events");
  var source = null;
  var timer = null;
  var busy = false;
  var again = false;

  function editing() {
    var el = document.activeElement;
    if (!el || !el.closest("[data-live]")) return false;
    return el.matches("input, select, textarea");
  }

  // what identifies a focused link or button across a refresh
  function focusKey(el) {
    if (!el || !el.closest || !el.closest("[data-live]")) return null;
    var label = el.getAttribute("aria-label") || el.getAttribute("href") || el.getAttribute("title");
    return label ? el.tagName + "|" + label : null;
  }

  function refocus(key) {
    if (!key) return;
    var tag = key.split("|")[0];
    var found = Array.prototype.find.call(document.querySelectorAll(tag), function (el) {
      return focusKey(el) === key;
    });
    if (found) found.focus();
  }

  function refresh() {
    if (document.hidden) return;
    if (busy) { again = true; return; }
    if (editing()) { schedule(1000); return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        // a keyboard user keeps their place: the focused link or button is
        // focused again in the new content
        var key = focusKey(document.activeElement);
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var next = el.id && fresh.getElementById(el.id);
          if (next && next.innerHTML !== el.innerHTML) el.innerHTML = next.innerHTML;
        });
        refocus(key);
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(150); }
      });
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  function open() {
    if (!stream || source || !window.EventSource) return;
    source = new EventSource(stream);
    source.addEventListener("change", function () { schedule(150); });
    // what changed between the page being drawn and the stream opening
    // (or while it was reconnecting) is caught up once
    source.addEventListener("open", function () { schedule(50); });
  }

  function close() {
    if (source) { source.close(); source = null; }
  }

  // the running try's log: ask for what was appended since the last read
  var log = document.getElementById("log");
  var tailing = log && log.getAttribute("data-running") === "1";
  var size = log ? Number(log.getAttribute("data-size")) || 0 : 0;
  var tailTimer = null;

  function tail() {
    if (!tailing || document.hidden) return;
    fetch(location.pathname + "?from=" + size, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        size = Number(r.headers.get("x-airless-log-size")) || size;
        var running = r.headers.get("x-airless-running") === "1";
        return r.text().then(function (text) { return { text: text, running: running }; });
      })
      .then(function (chunk) {
        if (chunk.text) {
          var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
          log.textContent += chunk.text;
          if (atEnd) log.scrollTop = log.scrollHeight;
          var empty = document.getElementById("log-empty");
          if (empty) empty.remove();
        }
        if (chunk.running) {
          tailTimer = setTimeout(tail, 1000);
        } else {
          tailing = false;
          // the try ended: show its final state and error
          location.reload();
        }
      })
      .catch(function () { tailTimer = setTimeout(tail, 3000); });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      close();
      clearTimeout(timer);
      clearTimeout(tailTimer);
    } else {
      open();
      schedule(50);
      if (tailing) tail();
    }
  });
  if (!document.hidden) {
    open();
    if (tailing) tailTimer = setTimeout(tail, 1000);
  }
})();
