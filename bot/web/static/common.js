/* Borderless staff pages (console, editor, users): the code they share. Plain JavaScript, no build step.
 * Loaded before the page's own script; everything hangs off one global, `Borderless`.
 * Everything a shopper, the bot or a colleague wrote is rendered with textContent, never innerHTML. */
(() => {
  "use strict";
  const AUTH_KEY = "borderless.auth";          // one sign-in per tab, shared by every staff page
  const PAGES = [                              // the header's links; `roles`: who may use that page
    { href: "/console", label: "Console", roles: ["agent", "admin"] },
    { href: "/editor", label: "Editor", roles: ["editor", "admin"] },
    { href: "/reports", label: "Reports", roles: ["admin"] },
    { href: "/users", label: "Users", roles: ["admin"] },
  ];

  const $ = (id) => document.getElementById(id);
  const h = (tag, cls, text) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  };
  const clear = (el) => { while (el.firstChild) el.removeChild(el.firstChild); };
  const langName = (code) => {
    try { return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code; } catch (e) { return code; }
  };

  let auth = null;
  try { auth = JSON.parse(sessionStorage.getItem(AUTH_KEY) || "null"); } catch (e) { auth = null; }
  let page = null;                             // the options the page passed to start()

  // ---------------------------------------------------------------- feedback
  function toast(text, kind) {
    let t = $("toast");
    if (!t) { t = h("div", "toast"); t.id = "toast"; t.setAttribute("role", "status"); t.setAttribute("aria-live", "polite"); document.body.append(t); }
    t.textContent = text; t.className = "toast " + (kind || ""); t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 4500);
  }

  /** The error object of a failed response: `{"error": {code, message, ...}}` (the server's one format), or
   * the older `{"detail": {...}}` / `{"detail": "text"}` / FastAPI's validation list, as `{code, message, ...}`. */
  function errBody(r) {
    const d = r && r.data;
    if (!d || typeof d !== "object") return { code: null, message: null };
    if (d.error && typeof d.error === "object") return Object.assign({ code: null, message: null }, d.error);
    const det = d.detail;
    if (typeof det === "string") return { code: null, message: det };
    if (det && typeof det === "object" && !Array.isArray(det)) {
      return Object.assign({}, det, { code: det.code || null, message: det.message || det.detail || null });
    }
    if (Array.isArray(det)) return { code: "validation", message: null, errors: det };
    return { code: d.code || null, message: d.message || null };
  }
  const errCode = (r) => errBody(r).code;
  function errText(r) {
    const e = errBody(r);
    if (e.message) return e.message;
    const list = e.errors || [];
    if (list[0] && list[0].msg) return ((list[0].loc || []).slice(1).join(".") + ": " + list[0].msg).replace(/^: /, "");
    return e.code ? e.code.replace(/_/g, " ") : "HTTP " + ((r && r.status) || "?");
  }

  // ---------------------------------------------------------------- API
  /** fetch() with the signed-in user's token. `opts.headers`: extra headers; `opts.raw`: send `body` as is. */
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (body !== undefined && !opts.raw) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = "Bearer " + auth.token;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : (opts.raw ? body : JSON.stringify(body)) });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401 && auth && path !== "/api/auth/login") { logout(false); throw new Error("Session expired"); }
    return { ok: res.ok, status: res.status, data, headers: res.headers };
  }

  // ---------------------------------------------------------------- login / logout, header
  function renderLogin() {
    const view = $("login-view"); clear(view);
    const form = h("form", "login-card"); form.id = "login-form"; form.autocomplete = "on";
    const field = (id, label, attrs) => {
      const l = h("label", null, label); l.htmlFor = id;
      const input = h("input"); input.id = id; input.required = true;
      for (const k in attrs) input.setAttribute(k, attrs[k]);
      form.append(l, input);
    };
    form.append(brand(), h("h1", null, page.title), h("p", "muted", page.intro));
    field("login-username", "Username", { name: "username", autocomplete: "username" });
    field("login-password", "Password", { name: "password", type: "password", autocomplete: "current-password" });
    const err = h("p", "error"); err.id = "login-error"; err.setAttribute("role", "alert"); err.hidden = true;
    const submit = h("button", "btn primary wide", "Sign in"); submit.type = "submit";
    form.append(err, submit);
    form.addEventListener("submit", (e) => { e.preventDefault(); signIn(submit, err); });
    view.append(form);
  }
  // The login card says "Borderless"; the header, where space is short, lets the logo say it (title only).
  function brand(title) {
    const b = h("div", "brand");
    const logo = h("span", "logo", "B"); logo.title = "Borderless"; logo.setAttribute("aria-hidden", "true");
    b.append(logo);
    if (title) b.append(h("span", null, title)); else b.append(document.createTextNode(" Borderless"));
    return b;
  }
  async function signIn(btn, err) {
    err.hidden = true; btn.disabled = true;
    try {
      const r = await api("POST", "/api/auth/login", { username: $("login-username").value.trim(), password: $("login-password").value });
      if (!r.ok) { err.textContent = r.status === 401 ? "Wrong username or password." : errText(r); err.hidden = false; return; }
      if (page.roles && !page.roles.includes(r.data.role)) {
        err.textContent = page.roleError || "This account cannot use this page."; err.hidden = false; return;
      }
      auth = r.data; sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
      $("login-password").value = "";
      enter();
    } catch (ex) {
      err.textContent = "Could not reach the server."; err.hidden = false;
    } finally { btn.disabled = false; }
  }
  /** The shared header: brand + page title, then what the page put in its <header> (tabs, status), then the
   * links to the other staff pages this user may open, the user's name and Sign out. */
  function renderHeader() {
    const bar = document.querySelector("header.topbar");
    if (!bar.querySelector(".brand")) bar.prepend(brand(page.title));
    let me = bar.querySelector(".me");
    if (!me) { me = h("div", "me"); bar.append(me); }
    me.querySelectorAll(".pages, .me-name, #logout").forEach((n) => n.remove());
    const links = h("nav", "pages"); links.setAttribute("aria-label", "Pages");
    PAGES.filter((p) => p.roles.includes(auth.role) && p.href !== location.pathname).forEach((p) => {
      const a = h("a", "page-link", p.label); a.href = p.href; links.append(a);
    });
    const name = h("span", "me-name", page.nameOf ? page.nameOf(auth) : (auth.name || auth.username)); name.id = "me-name";
    const out = h("button", "btn ghost", "Sign out"); out.type = "button"; out.id = "logout";
    out.addEventListener("click", () => logout(true));
    me.append(links, name, out);
  }
  function enter() {
    $("login-view").hidden = true; $("app-view").hidden = false;
    renderHeader();
    page.onStart(auth);
  }
  function showLogin() {
    $("app-view").hidden = true; $("login-view").hidden = false;
    $("login-username").focus();
  }
  async function logout(callServer) {
    if (callServer && auth) { try { await api("POST", "/api/auth/logout"); } catch (e) { /* signed out here anyway */ } }
    auth = null; sessionStorage.removeItem(AUTH_KEY);
    if (page && page.onLogout) page.onLogout();
    showLogin();
  }

  /** Boot a staff page: `{title, intro, roles, roleError, nameOf(auth), onStart(auth), onLogout()}`. */
  function start(options) {
    page = options;
    renderLogin();
    if (auth && auth.token && (!page.roles || page.roles.includes(auth.role))) enter(); else showLogin();
  }

  window.Borderless = {
    $, h, clear, langName, toast, api, errBody, errCode, errText, start, logout,
    get auth() { return auth; },
  };
})();
