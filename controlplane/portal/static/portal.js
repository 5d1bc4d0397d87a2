// The portal's own script: progressive enhancement only; every page works without it.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // htmx requests carry the session's anti-forgery token as a header.
  document.addEventListener("htmx:configRequest", (event) => { event.detail.headers["X-CSRF-Token"] = csrf(); });

  // Forms with data-confirm ask first (the text names what is about to happen).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  }, true);

  // Relative dates stay current; the exact time is in the title.
  const units = [[31536000, "year"], [2592000, "month"], [604800, "week"], [86400, "day"], [3600, "hour"],
    [60, "minute"], [1, "second"]];
  function relative(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (Math.abs(seconds) < 10) { return "just now"; }
    for (const [size, unit] of units) {
      if (Math.abs(seconds) >= size) {
        const n = Math.floor(Math.abs(seconds) / size);
        const text = n + " " + unit + (n === 1 ? "" : "s");
        return seconds > 0 ? text + " ago" : "in " + text;
      }
    }
    return "just now";
  }
  function refreshTimes(root) {
    for (const el of (root || document).querySelectorAll("time[datetime]")) {
      const date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) { el.textContent = relative(date); }
    }
  }
  window.setInterval(refreshTimes, 30000);
  document.addEventListener("htmx:afterSwap", (event) => refreshTimes(event.target));
  window.controlplane = { refreshTimes };
})();
