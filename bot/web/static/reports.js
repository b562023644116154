/* Borderless reports page (admins). Plain JavaScript, no build step; charts by the vendored Chart.js
 * (/static/vendor/chart.umd.min.js). Every chart, bar, cell and reason opens the conversations behind it.
 * Anything from the server is rendered with textContent; no inline script or style (CSP without unsafe-inline). */
(() => {
  "use strict";
  const el = (id) => document.getElementById(id);
  const make = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text != null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const SESSION = "borderless.auth";    // common.js's sign-in (console, editor, users): one login serves all
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const pct = (v) => (v == null ? "–" : Math.round(v * 1000) / 10 + "%");
  const secs = (v) => (v == null ? "–" : v < 90 ? Math.round(v) + " s" : v < 5400 ? Math.round(v / 60) + " min"
    : (v / 3600).toFixed(1) + " h");
  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(SESSION) || "null"); } catch (e) { session = null; }
  const charts = {};
  window.borderlessReports = charts;    // tests and curious admins: the Chart.js instances

  function notify(text) {
    const box = el("toast");
    box.textContent = text; box.hidden = false;
    clearTimeout(notify.t); notify.t = setTimeout(() => { box.hidden = true; }, 4000);
  }
  async function call(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (session) init.headers.Authorization = "Bearer " + session.token;
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const res = await fetch(path, init);
    if (res.status === 401 && session && path !== "/api/auth/login") { signOut(false); throw new Error("signed out"); }
    return res;
  }
  async function problem(res) {
    try {
      const data = await res.json();
      const err = data.error || data.detail;
      return (err && (err.message || err.detail || err.code)) || (typeof err === "string" ? err : "HTTP " + res.status);
    } catch (e) { return "HTTP " + res.status; }
  }

  // ------------------------------------------------------------------------------------------ sign-in
  el("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = el("login-error"); box.hidden = true;
    const res = await call("POST", "/api/auth/login", { username: el("login-username").value.trim(),
                                                       password: el("login-password").value });
    if (!res.ok) { box.textContent = res.status === 401 ? "Wrong username or password." : await problem(res);
                   box.hidden = false; return; }
    session = await res.json();
    sessionStorage.setItem(SESSION, JSON.stringify(session));
    el("login-password").value = "";
    begin();
  });
  async function signOut(tellServer) {
    if (tellServer && session) { try { await call("POST", "/api/auth/logout"); } catch (e) { /* gone anyway */ } }
    session = null; sessionStorage.removeItem(SESSION);
    el("app-view").hidden = true; el("login-view").hidden = false;
  }
  el("logout").addEventListener("click", () => signOut(true));

  // ------------------------------------------------------------------------------------------ period
  const iso = (d) => d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" +
    String(d.getDate()).padStart(2, "0");
  function initialPeriod() {
    const q = new URLSearchParams(location.search);
    const today = new Date(), monthAgo = new Date(Date.now() - 29 * 864e5);
    el("from").value = q.get("from") || iso(monthAgo);
    el("to").value = q.get("to") || iso(today);
    el("tz").value = q.get("tz") || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const zones = (Intl.supportedValuesOf && Intl.supportedValuesOf("timeZone")) || [];
    zones.forEach((z) => { const o = document.createElement("option"); o.value = z; el("zones").appendChild(o); });
  }
  const period = () => new URLSearchParams({ from: el("from").value, to: el("to").value, tz: el("tz").value });
  el("range").addEventListener("submit", (ev) => {
    ev.preventDefault();
    history.replaceState(null, "", "?" + period().toString());
    load();
  });
  el("csv").addEventListener("click", async () => {
    const res = await call("GET", "/api/reports/conversations.csv?" + period());
    if (!res.ok) { notify(await problem(res)); return; }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await res.blob());
    link.download = "conversations-" + el("from").value + "-" + el("to").value + ".csv";
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });

  // ------------------------------------------------------------------------------------------ drawing
  function kpis(o) {
    const box = el("kpis"); box.textContent = "";
    [["Conversations", o.conversations], ["Bot-resolved", pct(o.bot_resolved_rate)],
     ["Handed off", pct(o.handoff_rate)], ["First response (median)", secs(o.first_response_seconds_p50)],
     ["Resolution (median)", secs(o.resolution_seconds_p50)],
     ["CSAT", o.csat_avg == null ? "–" : o.csat_avg.toFixed(2) + " (" + o.csat_count + ")"]]
      .forEach(([label, value]) => {
        const card = make("div", null, "kpi");
        card.append(make("div", value, "value"), make("div", label, "label"));
        box.appendChild(card);
      });
  }
  function chart(id, config, onPick) {
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({ responsive: true, animation: false, maintainAspectRatio: false,
      onClick: (ev, items) => { if (items.length) onPick(items[0].datasetIndex, items[0].index); },
      onHover: (ev, items) => { ev.native.target.style.cursor = items.length ? "pointer" : "default"; } },
      config.options || {});
    charts[id] = new Chart(el(id), config);
  }
  function links(boxId, items) {
    const box = el(boxId); box.textContent = "";
    items.forEach(([label, filters, title]) => {
      const b = make("button", label); b.type = "button";
      b.addEventListener("click", () => drill(title || label, filters));
      box.appendChild(b);
    });
  }
  function trend(o) {
    const days = o.by_day.map((d) => d.date);
    chart("trend", { type: "line", data: { labels: days, datasets: [
      { label: "Bot-resolved", data: o.by_day.map((d) => d.bot_resolved_rate), borderColor: "#059669",
        backgroundColor: "#059669", tension: 0.25 },
      { label: "Handed off", data: o.by_day.map((d) => d.handoff_rate), borderColor: "#2b59ff",
        backgroundColor: "#2b59ff", tension: 0.25 }] },
      options: { scales: { y: { min: 0, max: 1, ticks: { callback: (v) => Math.round(v * 100) + "%" } } } } },
    (set, i) => drill((set ? "handed off on " : "bot-resolved on ") + days[i],
                      set ? { day: days[i], handed_off: true } : { day: days[i], contained: true }));
    links("trend-links", days.flatMap((d) => [["✓ " + d, { day: d, contained: true }, "bot-resolved on " + d],
                                              ["→ " + d, { day: d, handed_off: true }, "handed off on " + d]]));
  }
  function csat(o) {
    const langs = Object.keys(o.by_language).filter((l) => o.by_language[l].csat_count);
    chart("csat", { type: "bar", data: { labels: langs.map((l) => l.toUpperCase()), datasets: [
      { label: "Average rating (1-5)", data: langs.map((l) => o.by_language[l].csat_avg), backgroundColor: "#7c3aed" }] },
      options: { scales: { y: { min: 0, max: 5 } } } },
    (set, i) => drill("rated, in " + langs[i], { lang: langs[i], rated: true }));
    links("csat-links", langs.map((l) => [l.toUpperCase() + " · " + o.by_language[l].csat_count + " ratings",
                                          { lang: l, rated: true }, "rated, in " + l]));
  }
  function heatmap(o) {
    const table = el("heatmap"); table.textContent = "";
    const head = table.insertRow(); head.appendChild(make("th"));
    for (let hour = 0; hour < 24; hour++) head.appendChild(make("th", hour));
    const top = Math.max(1, ...o.by_hour.flat());
    o.by_hour.forEach((row, day) => {
      const tr = table.insertRow(); tr.appendChild(make("th", DAYS[day]));
      row.forEach((n, hour) => {
        const b = make("button", n || ""); b.type = "button";
        b.title = DAYS[day] + " " + hour + ":00 · " + n + " conversations";
        b.setAttribute("aria-label", b.title);
        b.dataset.weekday = day; b.dataset.hour = hour;
        b.style.background = n ? "rgba(43, 89, 255, " + (0.2 + 0.8 * n / top).toFixed(2) + ")" : "#eef2ff";
        b.disabled = !n;
        b.addEventListener("click", () => drill(DAYS[day] + " " + hour + ":00", { weekday: day, hour: hour }));
        tr.insertCell().appendChild(b);
      });
    });
    el("tz-label").textContent = "(" + o.tz + ")";
  }
  function languages(o) {
    const table = el("languages"); table.textContent = "";
    const head = table.insertRow();
    ["Language", "Conversations", "Bot-resolved", "Handed off", "First response", "CSAT"].forEach((t) =>
      head.appendChild(make("th", t)));
    Object.entries(o.by_language).forEach(([lang, f]) => {
      const tr = table.insertRow();
      const b = make("button", lang.toUpperCase(), "linkish"); b.type = "button";
      b.addEventListener("click", () => drill("in " + lang, { lang: lang }));
      tr.insertCell().appendChild(b);
      [f.conversations, pct(f.bot_resolved_rate), pct(f.handoff_rate), secs(f.first_response_seconds_p50),
       f.csat_avg == null ? "–" : f.csat_avg.toFixed(2)].forEach((v) => { tr.insertCell().textContent = v; });
    });
  }
  function reasonsAndMissed(o) {
    links("reasons", Object.entries(o.handoff_reasons).map(([r, n]) =>
      [r.replace(/_/g, " ") + " · " + n, { handed_off: true, reason: r }, "handed off: " + r]));
    const list = el("missed"); list.textContent = "";
    o.top_missed.forEach((m) => list.appendChild(make("li", m.text + " (" + m.count + ", " +
      Object.keys(m.languages).join(", ") + ")")));
    if (!o.top_missed.length) list.appendChild(make("li", "No missed questions in this period.", "muted"));
  }

  // ------------------------------------------------------------------------------------------ click-through
  async function drill(title, filters) {
    const q = period();
    Object.entries(filters).forEach(([k, v]) => q.set(k, String(v)));
    const res = await call("GET", "/api/reports/conversations?" + q);
    if (!res.ok) { notify(await problem(res)); return; }
    const rows = await res.json();
    el("drill-title").textContent = title + " (" + rows.length + ")";
    const table = el("drill-table"); table.textContent = "";
    const cols = ["id", "started", "language", "handoff_reason", "agent", "first_response_seconds", "rating",
                  "contained"];
    const head = table.insertRow(); cols.forEach((c) => head.appendChild(make("th", c.replace(/_/g, " "))));
    rows.forEach((r) => {
      const tr = table.insertRow(); tr.dataset.id = r.id;
      cols.forEach((c) => { tr.insertCell().textContent = r[c] == null ? "" : String(r[c]); });
    });
    el("drill").hidden = false;
    el("drill").scrollIntoView({ block: "nearest" });
  }

  async function load() {
    const res = await call("GET", "/api/reports/overview?" + period());
    el("forbidden").hidden = res.status !== 403;
    if (!res.ok) { if (res.status !== 403) notify(await problem(res)); return; }
    const o = await res.json();
    kpis(o); trend(o); csat(o); heatmap(o); languages(o); reasonsAndMissed(o);
    el("drill").hidden = true;
    document.body.dataset.loaded = "true";
  }
  function begin() {
    el("login-view").hidden = true; el("app-view").hidden = false;
    el("me-name").textContent = session.name || session.username || "";
    load();
  }
  initialPeriod();
  if (session) begin(); else { el("login-view").hidden = false; el("login-username").focus(); }
})();
