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

  // Live regions (data-refresh) re-render from the server when the event stream says something changed,
  // or, without a stream, every few seconds; a slow server is asked less often (interval + 2 × runtime).
  function liveRegion(region) {
    let busy = false, again = false, lastRuntime = 0;
    async function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      const started = performance.now();
      try {
        const response = await fetch(region.dataset.refresh, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (response.status === 410 && region.dataset.gone) { window.location.assign(region.dataset.gone); return; }
        if (response.redirected || response.status === 401) { window.location.reload(); return; }
        if (response.ok) {
          const html = await response.text();
          const template = document.createElement("template");
          template.innerHTML = html;
          const fresh = template.content.querySelector("#" + region.id);
          region.replaceChildren(...(fresh ? fresh.childNodes : template.content.childNodes));
          refreshTimes(region);
        }
      } catch (err) { /* offline for a moment: the next tick tries again */ }
      lastRuntime = performance.now() - started;
      busy = false;
      if (again) { again = false; refresh(); }
    }
    return { refresh, runtime: () => lastRuntime };
  }

  function startLive() {
    const regions = [...document.querySelectorAll("[data-refresh]")].map(liveRegion);
    if (!regions.length) { return; }
    const refreshAll = () => regions.forEach((r) => r.refresh());
    let streaming = false;
    const poll = () => {
      const runtime = Math.max(...regions.map((r) => r.runtime()));
      window.setTimeout(() => { if (!streaming) { refreshAll(); } poll(); }, 3000 + 2 * runtime);
    };
    poll();
    if (!window.EventSource) { return; }
    const guest = document.getElementById("guest-live");
    const url = "/events" + (guest ? "?guest=" + encodeURIComponent(guest.dataset.guest) : "");
    const source = new EventSource(url);
    let pending = null;
    source.addEventListener("open", () => { streaming = true; });
    source.addEventListener("guest", () => {
      if (pending) { return; }
      pending = window.setTimeout(() => { pending = null; refreshAll(); }, 150);
    });
    source.addEventListener("error", () => { streaming = false; });  // EventSource reconnects by itself
    source.addEventListener("ended", () => { source.close(); window.location.reload(); });
    window.controlplane.stream = source;
  }

  // A running run's log grows: ask for the lines after the last one shown.
  function followLog() {
    const log = document.getElementById("run-log");
    if (!log || log.dataset.live !== "yes") { return; }
    const tick = async () => {
      try {
        const response = await fetch(log.dataset.log + "?after=" + encodeURIComponent(log.dataset.after), { credentials: "same-origin" });
        if (response.ok) {
          const html = await response.text();
          if (html.trim()) {
            const template = document.createElement("template");
            template.innerHTML = html;
            const lines = template.content.querySelectorAll("[data-seq]");
            if (lines.length) { log.dataset.after = lines[lines.length - 1].dataset.seq; }
            const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
            log.append(template.content);
            if (atBottom) { log.scrollTop = log.scrollHeight; }
            const empty = document.getElementById("log-empty");
            if (empty) { empty.remove(); }
          }
          const state = response.headers.get("X-Run-State") || "";
          const badge = document.getElementById("run-state");
          if (badge && state) { badge.textContent = state; }
          if (state !== "pending" && state !== "running") { return; }
        }
      } catch (err) { /* try again */ }
      window.setTimeout(tick, 1000);
    };
    window.setTimeout(tick, 1000);
  }

  // The create form: show the chosen project's remaining quota, refuse early what would not fit.
  function quotaCheck() {
    const form = document.getElementById("guest-form");
    if (!form) { return; }
    const select = form.querySelector("#project_id");
    const show = () => {
      for (const p of form.querySelectorAll(".quota-of")) { p.hidden = p.dataset.project !== select.value; }
    };
    select.addEventListener("change", show);
    show();
    const warning = form.querySelector("#quota-warning");
    form.addEventListener("submit", (event) => {
      const option = select.selectedOptions[0];
      const profile = form.querySelector("input[name=profile]:checked");
      let asked;
      if (profile && profile.value !== "custom") {
        asked = { vcpus: +profile.dataset.cores, "memory-mb": +profile.dataset.memoryMb, "disk-gb": +profile.dataset.diskGb };
      } else {
        asked = { vcpus: +form.elements.cores.value, "memory-mb": Math.round(+form.elements.memory_gib.value * 1024),
          "disk-gb": +form.elements.disk_gb.value };
      }
      asked.guests = 1;
      const names = { vcpus: "vCPUs", "memory-mb": "memory (MiB)", "disk-gb": "disk (GiB)", guests: "guests" };
      const over = [];
      for (const key of Object.keys(asked)) {
        const left = option.getAttribute("data-" + key);
        if (left !== "" && left !== null && asked[key] > +left) { over.push(names[key] + ": " + asked[key] + " asked, " + left + " left"); }
      }
      if (over.length) {
        event.preventDefault();
        warning.textContent = "This would exceed the project's quota for " + over.join("; ") + ".";
        warning.hidden = false;
      } else { warning.hidden = true; }
    });
  }

  document.addEventListener("DOMContentLoaded", () => { startLive(); followLog(); quotaCheck(); });
  window.controlplane = { refreshTimes };
})();
