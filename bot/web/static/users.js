/* Borderless users page (admins): list accounts, deactivate/reactivate them, change role, languages and name;
 * see the translation pairs. API: GET /api/users, PATCH /api/users/{id} {active?, role?, languages?, name?},
 * GET /api/translation/pairs, POST /api/translation/refresh (OpenAPI at /docs). */
(() => {
  "use strict";
  const { $, h, clear, toast, api, errText } = Borderless;
  const ROLES = ["agent", "editor", "admin"];
  let me = null;

  async function load() {
    const r = await api("GET", "/api/users");
    if (!r.ok) { toast("Could not load users: " + errText(r), "err"); return; }
    const body = $("users-body"); clear(body);
    r.data.forEach((u) => body.append(row(u)));
  }

  function row(u) {
    const tr = h("tr", u.active ? "" : "inactive"); tr.dataset.username = u.username;
    const self = me && u.username === me.username;
    const name = h("input", "name-in"); name.value = u.name; name.maxLength = 120; name.setAttribute("aria-label", "Name of " + u.username);
    const role = h("select", "role-in"); role.setAttribute("aria-label", "Role of " + u.username);
    ROLES.forEach((x) => { const o = h("option", null, x); o.value = x; o.selected = x === u.role; role.append(o); });
    role.disabled = self;                      // the server refuses demoting yourself too; say it here first
    const langs = h("input", "langs-in"); langs.value = u.languages.join(", "); langs.placeholder = "all languages";
    langs.setAttribute("aria-label", "Languages of " + u.username);
    const status = h("span", "status" + (u.active ? "" : " off"), u.active ? "active" : "deactivated");
    const save = h("button", "btn small save", "Save"); save.type = "button";
    save.addEventListener("click", () => change(u, {
      name: name.value.trim(), role: role.value,
      languages: langs.value.split(",").map((x) => x.trim()).filter(Boolean),
    }, "Saved " + u.username + "."));
    const toggle = h("button", "btn small toggle" + (u.active ? " danger" : ""), u.active ? "Deactivate" : "Reactivate");
    toggle.type = "button"; toggle.disabled = self;
    toggle.addEventListener("click", () => change(u, { active: !u.active },
      u.active ? u.username + " is deactivated and signed out." : u.username + " can sign in again."));
    const who = h("td"); who.append(name);
    const user = h("td", "mono", u.username); if (self) user.append(h("span", "you", "(you)"));
    const cell = (...nodes) => { const td = h("td"); td.append(...nodes); return td; };
    const actions = h("td"); const box = h("div", "actions"); box.append(save, toggle); actions.append(box);
    tr.append(who, user, cell(role), cell(langs), cell(status), actions);
    return tr;
  }

  async function change(u, patch, done) {
    const r = await api("PATCH", "/api/users/" + encodeURIComponent(u.id), patch);
    if (!r.ok) { toast("Could not change " + u.username + ": " + errText(r), "err"); return; }
    toast(done, "ok");
    load();
  }

  // Translation pairs (issue 11): what the console can translate, and a re-read after installing models.
  async function loadPairs(method) {
    const r = await api(method, method === "POST" ? "/api/translation/refresh" : "/api/translation/pairs");
    if (!r.ok) { toast("Could not load translation pairs: " + errText(r), "err"); return; }
    const body = $("pairs-body"); clear(body);
    r.data.pairs.forEach((p) => {
      const tr = h("tr");
      [p.source.toUpperCase(), p.target.toUpperCase(), p.engine, p.via ? p.via.toUpperCase() : "direct"]
        .forEach((x) => tr.append(h("td", null, x)));
      body.append(tr);
    });
    $("pairs-empty").hidden = r.data.pairs.length > 0;
  }

  $("users-refresh").addEventListener("click", load);
  $("pairs-refresh").addEventListener("click", () => loadPairs("POST"));
  Borderless.start({
    title: "Users", intro: "Sign in as an admin to manage accounts.", roles: ["admin"],
    roleError: "Only admins can manage users.",
    onStart: (auth) => { me = auth; load(); loadPairs("GET"); }, onLogout: () => { me = null; },
  });
})();
