/* Borderless knowledge editor. Plain JavaScript, no build step. API: /api/editor/... (OpenAPI at /docs).
 * Everything an editor, a shopper or an agent wrote is rendered with textContent, never innerHTML. */
(() => {
  "use strict";
  const { $, h, clear, langName, toast, errBody, errCode, errText } = Borderless;
  const STATUS_LABEL = { draft: "Draft", published: "Published", changed: "Unpublished changes" };
  const CELL_LABEL = {
    ok: "complete", missing: "missing", no_answer: "no answer yet", no_questions: "no questions",
    few_questions: "fewer than 3 questions", unpublished: "not live yet",
  };
  const REASON_LABEL = { clarify: "asked to clarify", low_confidence: "handed off (unsure)", bad_rating: "rated badly" };
  const when = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  };

  let locales = [];          // from GET /api/i18n (then the completeness grid): one list for every page
  let rtl = [];              // right-to-left languages, from GET /api/i18n
  let current = null;        // {id, version, status, base: {topic, locales}} of the entry in the form; null: new
  let activeLocale = null;
  let statusTimer = null, searchTimer = null;

  // ---------------------------------------------------------------- helpers
  // common.js's api() takes extra headers and raw bodies as options; here they come positionally.
  const api = (method, path, body, extraHeaders, raw) => Borderless.api(method, path, body, { headers: extraHeaders, raw });
  const ifMatch = () => ({ "If-Match": '"' + current.version + '"' });

  // ---------------------------------------------------------------- navigation
  function showView(name) {
    document.querySelectorAll(".nav-tab").forEach((b) => {
      const on = b.dataset.view === name;
      b.classList.toggle("active", on); b.setAttribute("aria-selected", on ? "true" : "false");
    });
    ["entries", "completeness", "missed", "transfer"].forEach((v) => { $("view-" + v).hidden = v !== name; });
    if (name === "completeness") loadGrid();
    if (name === "missed") loadMissed();
    if (name === "entries") loadList();
  }
  document.querySelectorAll(".nav-tab").forEach((b) => b.addEventListener("click", () => showView(b.dataset.view)));

  // ---------------------------------------------------------------- live status
  async function loadStatus() {
    try {
      const r = await api("GET", "/api/editor/status");
      if (!r.ok) return;
      const s = r.data, el = $("live-status");
      if (s.engine !== "ready") { el.textContent = "Bot starting…"; el.className = "live"; return; }
      el.textContent = `Live: ${s.entries} entries` + (s.classifier_fresh ? "" : " · updating");
      el.title = `What shoppers get right now: ${s.entries} entries, ${s.variants} questions` + (s.classifier_fresh ? "" : " (classifier updating)");
      el.className = "live " + (s.classifier_fresh ? "ok" : "busy");
    } catch (e) { /* offline for a moment */ }
  }

  // ---------------------------------------------------------------- entry list
  async function loadList() {
    const params = new URLSearchParams();
    const q = $("search").value.trim();
    if (q) params.set("q", q);
    if ($("status-filter").value) params.set("status", $("status-filter").value);
    const r = await api("GET", "/api/editor/entries?" + params.toString());
    if (!r.ok) { toast(errText(r), "err"); return; }
    const list = $("entry-list");
    clear(list);
    $("list-total").textContent = r.data.total === 1 ? "1 entry" : r.data.total + " entries";
    for (const it of r.data.items) {
      const li = h("li", "item" + (current && current.id === it.id ? " selected" : ""));
      li.tabIndex = 0; li.dataset.id = it.id;
      const top = h("div", "row spread");
      top.append(h("span", "mono strong", it.id), h("span", "badge " + it.status, STATUS_LABEL[it.status] || it.status));
      const sub = h("div", "muted small", `${it.topic} · ${it.locales.join(" ")}`);
      li.append(top, sub);
      li.addEventListener("click", () => openEntry(it.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") openEntry(it.id); });
      list.append(li);
    }
  }
  $("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadList, 200); });
  $("status-filter").addEventListener("change", loadList);

  // ---------------------------------------------------------------- the edit form
  function cloneLocales(l) {
    const out = {};
    for (const [k, v] of Object.entries(l || {})) out[k] = { title: v.title || "", answer: v.answer || "", questions: (v.questions || []).slice() };
    return out;
  }
  function fillForm(entry) {
    $("placeholder").hidden = true; $("entry-form").hidden = false; $("history").hidden = true;
    $("conflict").hidden = true;
    $("entry-id").value = entry ? entry.id : "";
    $("entry-id").readOnly = !!entry;
    $("entry-topic").value = entry ? entry.topic : "general";
    const st = $("entry-status");
    st.textContent = entry ? (STATUS_LABEL[entry.status] || entry.status) : "New";
    st.className = "badge " + (entry ? entry.status : "draft");
    $("entry-version").textContent = entry ? "version " + entry.version : "";
    $("entry-meta").textContent = entry
      ? `Last changed ${when(entry.updated_at)} by ${entry.updated_by || "?"}` + (entry.published_at ? ` · published ${when(entry.published_at)} by ${entry.published_by || "?"}` : " · never published")
      : "Not saved yet. New entries start as drafts; shoppers see them once published.";
    const locs = entry ? cloneLocales(entry.locales) : { en: { answer: "", questions: [] } };
    renderLocales(locs, Object.keys(locs)[0]);
    renderProblems(entry ? entry.problems : []);
    $("publish").disabled = !entry || entry.status === "published";
    $("unpublish").disabled = !entry || entry.status === "draft";
    $("delete").disabled = !entry; $("show-history").disabled = !entry;
    document.querySelectorAll("#entry-list .item").forEach((li) => li.classList.toggle("selected", !!entry && li.dataset.id === entry.id));
  }
  function renderProblems(problems) {
    const ul = $("problems");
    clear(ul);
    ul.hidden = !problems || !problems.length;
    if (ul.hidden) return;
    ul.append(h("li", "strong", "Before this can be published:"));
    for (const p of problems) ul.append(h("li", null, p));
  }
  function readLocales() {
    const out = {};
    document.querySelectorAll("#locale-panels .locale-panel").forEach((panel) => {
      const loc = panel.dataset.locale;
      const title = panel.querySelector("input.title").value.trim();
      const answer = panel.querySelector("textarea.answer").value.trim();
      const questions = panel.querySelector("textarea.questions").value.split("\n").map((q) => q.trim()).filter(Boolean);
      out[loc] = { title, answer, questions };
    });
    return out;
  }
  function formValue() {
    return { id: $("entry-id").value.trim(), topic: $("entry-topic").value.trim() || "general", locales: readLocales() };
  }
  function renderLocales(locs, active) {
    const tabs = $("locale-tabs"), panels = $("locale-panels");
    clear(tabs); clear(panels);
    const codes = Object.keys(locs);
    activeLocale = codes.includes(active) ? active : codes[0] || null;
    for (const loc of codes) {
      const tab = h("button", "tab" + (loc === activeLocale ? " active" : ""), loc.toUpperCase());
      tab.type = "button"; tab.id = "tab-" + loc; tab.setAttribute("role", "tab"); tab.title = langName(loc);
      tab.setAttribute("aria-selected", loc === activeLocale ? "true" : "false");
      tab.addEventListener("click", () => selectLocale(loc));
      tabs.append(tab);

      const panel = h("div", "locale-panel"); panel.dataset.locale = loc; panel.id = "panel-" + loc;
      panel.hidden = loc !== activeLocale;
      const dir = rtl.includes(loc.split("-")[0]) ? "rtl" : "auto";
      const aLabel = h("label", "lbl", `Answer (${langName(loc)})`); aLabel.htmlFor = "answer-" + loc;
      const answer = h("textarea", "answer"); answer.id = "answer-" + loc; answer.rows = 5; answer.maxLength = 4000;
      answer.lang = loc; answer.dir = dir; answer.value = locs[loc].answer || "";
      const qLabel = h("label", "lbl", "Questions shoppers ask (one per line)"); qLabel.htmlFor = "questions-" + loc;
      const questions = h("textarea", "questions"); questions.id = "questions-" + loc; questions.rows = 6;
      questions.lang = loc; questions.dir = dir; questions.value = (locs[loc].questions || []).join("\n");
      const remove = h("button", "btn ghost small", `Remove ${langName(loc)}`); remove.type = "button";
      remove.addEventListener("click", () => {
        const now = readLocales(); delete now[loc];
        renderLocales(now, Object.keys(now)[0]);
      });
      // The question shoppers see in suggestions; empty: the best-written question below.
      const tLabel = h("label", "lbl", "Question shown to shoppers (empty: the best-written question)");
      tLabel.htmlFor = "title-" + loc;
      const title = h("input", "title"); title.id = "title-" + loc; title.maxLength = 300;
      title.lang = loc; title.dir = dir; title.value = locs[loc].title || "";
      panel.append(tLabel, title, aLabel, answer, qLabel, questions, remove);
      panels.append(panel);
    }
    const add = $("add-locale");
    clear(add);
    const first = h("option", null, "+ Add language"); first.value = ""; add.append(first);
    for (const loc of locales) {
      if (codes.includes(loc)) continue;
      const o = h("option", null, `${loc} · ${langName(loc)}`); o.value = loc; add.append(o);
    }
  }
  function selectLocale(loc) {
    activeLocale = loc;
    document.querySelectorAll("#locale-tabs .tab").forEach((t) => {
      const on = t.id === "tab-" + loc;
      t.classList.toggle("active", on); t.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll("#locale-panels .locale-panel").forEach((p) => { p.hidden = p.dataset.locale !== loc; });
  }
  $("add-locale").addEventListener("change", (e) => {
    const loc = e.target.value;
    if (!loc) return;
    const now = readLocales();
    now[loc] = { answer: "", questions: [] };
    renderLocales(now, loc);
    $("answer-" + loc).focus();
  });

  async function openEntry(id) {
    const r = await api("GET", "/api/editor/entries/" + encodeURIComponent(id));
    if (!r.ok) { toast(errText(r), "err"); return; }
    setCurrent(r.data);
    fillForm(r.data);
    showView("entries");
    showMachine();
  }
  function setCurrent(entry) {
    current = { id: entry.id, version: entry.version, status: entry.status,
                base: { topic: entry.topic, locales: cloneLocales(entry.locales) } };
  }
  $("new-entry").addEventListener("click", () => {
    current = null;
    fillForm(null);
    $("entry-id").focus();
  });

  // The knowledge-base lint's findings for what was just saved or imported (bot/nlu/lint.py).
  function renderWarnings(warnings, list) {
    if (!warnings || !warnings.length) return;
    list.append(h("li", "strong", "Warnings:"));
    for (const w of warnings) list.append(h("li", "warning", (w.line ? `Line ${w.line}: ` : "") + `${w.entry_id}/${w.locale}: ${w.message}`));
    list.hidden = false;
  }
  function afterChange(r, message) {
    if (r.ok) {
      setCurrent(r.data);
      fillForm(r.data);
      renderWarnings(r.data.warnings, $("problems"));
      toast(message, "ok");
      loadList(); loadStatus();
      return true;
    }
    if (r.status === 409 && errCode(r) === "version_conflict") {
      $("conflict-text").textContent = errText(r);
      $("conflict").hidden = false;
      return false;
    }
    const d = errBody(r);
    if (Array.isArray(d.problems)) renderProblems(d.problems);
    toast(errText(r), "err");
    return false;
  }
  $("entry-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = formValue();
    let r;
    if (!current) r = await api("POST", "/api/editor/entries", v);
    else r = await api("PUT", "/api/editor/entries/" + encodeURIComponent(current.id), { topic: v.topic, locales: v.locales }, ifMatch());
    afterChange(r, current ? "Saved (draft). Publish to make it live." : "Created as a draft.");
  });
  async function entryAction(action, message, method) {
    if (!current) return;
    const path = "/api/editor/entries/" + encodeURIComponent(current.id) + (action ? "/" + action : "");
    const r = await api(method || "POST", path, undefined, ifMatch());
    return afterChange(r, message);
  }
  $("publish").addEventListener("click", async () => {
    if (current && formChanged()) {
      toast("Save your changes first, then publish.", "err");
      return;
    }
    await entryAction("publish", "Published: shoppers get it now.");
  });
  $("unpublish").addEventListener("click", () => entryAction("unpublish", "Unpublished: shoppers no longer get it."));
  // Machine translation (issue 11): fill missing locales as a draft; say which locales are machine-made or stale.
  $("machine-translate").addEventListener("click", async () => {
    if (current && formChanged()) { toast("Save your changes first.", "err"); return; }
    await entryAction("machine-translate", "Missing languages a translator covers were added as a draft: review, then publish.");
    showMachine();
  });
  async function showMachine() {
    const p = $("entry-mt"); p.hidden = true;
    if (!current) return;
    const r = await api("GET", "/api/editor/entries/" + encodeURIComponent(current.id) + "/machine-translations");
    if (!r.ok || !r.data.length) return;
    p.textContent = "Machine-translated: " + r.data.map((m) => m.locale + (m.stale ? " (stale: the " + m.source_locale + " answer changed)" : m.edited ? " (reviewed)" : "")).join(", ");
    p.hidden = false;
  }
  $("delete").addEventListener("click", async () => {
    if (!current || !confirm(`Delete ${current.id}? It can be restored from its history.`)) return;
    const r = await api("DELETE", "/api/editor/entries/" + encodeURIComponent(current.id), undefined, ifMatch());
    if (r.ok) {
      toast("Deleted.", "ok");
      current = null; $("entry-form").hidden = true; $("placeholder").hidden = false; $("history").hidden = true;
      loadList(); loadStatus();
    } else afterChange(r, "");
  });
  function formChanged() {
    if (!current) return true;
    const v = formValue();
    return v.topic !== current.base.topic || JSON.stringify(v.locales) !== JSON.stringify(current.base.locales);
  }

  // Someone else saved first: load their version and re-apply what I changed (per language, three-way).
  $("conflict-merge").addEventListener("click", async () => {
    if (!current) return;
    const mine = formValue(), base = current.base;
    const r = await api("GET", "/api/editor/entries/" + encodeURIComponent(current.id));
    if (!r.ok) { toast(errText(r), "err"); return; }
    const theirs = r.data;
    const merged = {};
    const all = new Set([...Object.keys(base.locales), ...Object.keys(mine.locales), ...Object.keys(theirs.locales)]);
    for (const loc of all) {
      const b = JSON.stringify(base.locales[loc] || null), m = JSON.stringify(mine.locales[loc] || null);
      const pick = m !== b ? mine.locales[loc] : theirs.locales[loc];
      if (pick) merged[loc] = pick;
    }
    const topic = mine.topic !== base.topic ? mine.topic : theirs.topic;
    setCurrent(theirs);
    fillForm(theirs);
    $("entry-topic").value = topic;
    renderLocales(merged, activeLocale);
    toast(`Loaded ${theirs.updated_by || "their"} changes (version ${theirs.version}) and kept yours. Review and save.`, "ok");
  });

  // ---------------------------------------------------------------- history
  async function loadHistory() {
    if (!current) return;
    const r = await api("GET", `/api/editor/entries/${encodeURIComponent(current.id)}/versions`);
    if (!r.ok) { toast(errText(r), "err"); return; }
    const ol = $("history-list");
    clear(ol); $("version-view").hidden = true; $("history").hidden = false;
    for (const v of r.data) {
      const li = h("li", "version");
      const head = h("div", "row spread");
      head.append(h("span", "strong", `v${v.version} · ${v.action.replace(/_/g, " ")}`), h("span", "muted small", `${v.username} · ${when(v.created_at)}`));
      const changes = h("ul", "changes");
      for (const c of v.changes || []) changes.append(h("li", null, c));
      const tools = h("div", "row");
      const view = h("button", "btn ghost small", "View"); view.type = "button";
      view.addEventListener("click", async () => {
        const rv = await api("GET", `/api/editor/entries/${encodeURIComponent(current.id)}/versions/${v.version}`);
        if (!rv.ok) { toast(errText(rv), "err"); return; }
        const pre = $("version-view");
        pre.textContent = JSON.stringify(rv.data.snapshot, null, 2); pre.hidden = false;
      });
      tools.append(view);
      if (v.version !== current.version) {
        const restore = h("button", "btn small", "Restore this version"); restore.type = "button";
        restore.dataset.version = String(v.version);
        restore.addEventListener("click", async () => {
          const rr = await api("POST", `/api/editor/entries/${encodeURIComponent(current.id)}/restore`, { restore: v.version }, ifMatch());
          if (afterChange(rr, `Restored version ${v.version} as a draft. Publish to make it live.`)) loadHistory();
        });
        tools.append(restore);
      }
      li.append(head, changes, tools);
      ol.append(li);
    }
  }
  $("show-history").addEventListener("click", loadHistory);
  $("close-history").addEventListener("click", () => { $("history").hidden = true; });

  // ---------------------------------------------------------------- test your change
  function renderDecision(el, d) {
    clear(el);
    const top = h("div", "row");
    top.append(h("span", "badge action-" + d.action, d.action), h("span", "muted small", `${d.reason} · ${Math.round(d.confidence * 100)}% · ${d.lang}`));
    if (d.faq_id) top.append(h("span", "mono small", d.faq_id));
    const reply = h("p", "reply", d.reply);
    reply.dir = "auto";
    el.append(top, reply);
    if (d.suggestions && d.suggestions.length) {
      const ul = h("ul", "suggestions");
      for (const s of d.suggestions) ul.append(h("li", null, `${s.question} (${s.faq_id})`));
      el.append(ul);
    }
    if (d.candidates && d.candidates.length) {
      el.append(h("p", "muted small", "Closest: " + d.candidates.map((c) => `${c.faq_id} ${Math.round(c.score * 100)}%`).join(", ")));
    }
  }
  $("test-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("test-text").value.trim();
    if (!text) return;
    const scope = $("test-scope").value;
    const body = { text, locale: $("test-locale").value || null, scope };
    if (scope === "entry") {
      const v = formValue();
      if (!$("entry-form").hidden && v.id) body.entry = v;
    }
    $("test-run").disabled = true;
    try {
      const r = await api("POST", "/api/editor/preview", body);
      if (!r.ok) { toast(errText(r), "err"); return; }
      renderDecision($("test-draft"), r.data.draft);
      renderDecision($("test-published"), r.data.published);
    } finally { $("test-run").disabled = false; }
  });
  function fillTestLocales() {
    const sel = $("test-locale");
    clear(sel);
    const auto = h("option", null, "any locale"); auto.value = ""; sel.append(auto);
    for (const loc of locales) { const o = h("option", null, loc); o.value = loc; sel.append(o); }
  }

  // ---------------------------------------------------------------- completeness
  async function loadGrid() {
    const r = await api("GET", "/api/editor/completeness");
    if (!r.ok) { toast(errText(r), "err"); return; }
    const g = r.data, table = $("grid");
    clear(table);
    const thead = h("thead"), hr = h("tr");
    hr.append(h("th", null, "Entry"));
    for (const loc of g.locales) { const th = h("th", null, loc); th.title = langName(loc); hr.append(th); }
    thead.append(hr);
    const tbody = h("tbody");
    for (const e of g.entries) {
      const tr = h("tr");
      const name = h("th", "rowhead");
      const link = h("button", "linkish mono", e.id); link.type = "button";
      link.addEventListener("click", () => openEntry(e.id));
      name.append(link, h("span", "badge small " + e.status, STATUS_LABEL[e.status] || e.status));
      tr.append(name);
      for (const loc of g.locales) {
        const state = e.cells[loc];
        const td = h("td", "cell " + state, state === "ok" ? "✓" : state === "missing" ? "—" : "!");
        td.title = `${e.id} · ${langName(loc)}: ${CELL_LABEL[state] || state}`;
        td.dataset.state = state; td.dataset.locale = loc; td.dataset.entry = e.id;
        tr.append(td);
      }
      tbody.append(tr);
    }
    const tfoot = h("tfoot"), fr = h("tr");
    fr.append(h("th", null, `Complete (of ${g.total})`));
    for (const loc of g.locales) fr.append(h("td", "total", g.complete[loc]));
    tfoot.append(fr);
    table.append(thead, tbody, tfoot);
  }

  // ---------------------------------------------------------------- missed questions
  async function loadMissed() {
    const r = await api("GET", "/api/editor/missed/groups");
    if (!r.ok) { toast(errText(r), "err"); return; }
    const ul = $("missed-groups");
    clear(ul);
    $("missed-empty").hidden = r.data.length > 0;
    const count = $("missed-count");
    count.hidden = !r.data.length; count.textContent = String(r.data.length);
    for (const g of r.data) ul.append(groupCard(g));
  }
  function groupCard(g) {
    const li = h("li", "group"); li.dataset.group = g.id;
    const head = h("div", "row spread");
    const title = h("div", "row");
    title.append(h("span", "count big", g.count));
    const langs = h("span", "chips");
    for (const [lang, n] of Object.entries(g.languages)) langs.append(h("span", "chip", `${lang} ${n}`));
    title.append(langs);
    const reasons = h("span", "muted small", Object.entries(g.reasons).map(([k, n]) => `${REASON_LABEL[k] || k} ×${n}`).join(" · "));
    head.append(title, reasons);
    const ex = h("ul", "examples");
    for (const m of g.examples) {
      const item = h("li");
      item.append(h("span", "chip lang", m.lang), h("span", null, " " + m.text));
      ex.append(item);
    }
    li.append(head, ex);
    if (g.agent_answers.length) {
      const box = h("div", "agent-answers");
      box.append(h("p", "muted small", "What agents answered in these conversations (used as draft answers):"));
      for (const a of g.agent_answers) {
        const p = h("p", "agent-answer");
        p.append(h("span", "chip lang", a.lang), h("span", null, " " + a.text), h("span", "muted small", a.agent ? " — " + a.agent : ""));
        box.append(p);
      }
      li.append(box);
    }
    // actions
    const actions = h("div", "group-actions");
    const newForm = h("form", "row");
    const idIn = h("input", "mono"); idIn.placeholder = "new-entry-id"; idIn.maxLength = 80; idIn.setAttribute("aria-label", "New entry id");
    idIn.className = "mono new-id";
    const topicIn = h("input"); topicIn.placeholder = "topic"; topicIn.maxLength = 80; topicIn.setAttribute("aria-label", "Topic");
    topicIn.className = "new-topic";
    const newBtn = h("button", "btn primary small to-entry", "Create draft entry"); newBtn.type = "submit";
    newForm.append(idIn, topicIn, newBtn);
    newForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await api("POST", "/api/editor/missed/to-entry", { missed_ids: g.missed_ids, id: idIn.value.trim(), topic: topicIn.value.trim() || "general" });
      if (!r.ok) { toast(errText(r), "err"); return; }
      toast(`Draft ${r.data.id} created with ${r.data.questions} questions. Add the answers and publish.`, "ok");
      refreshMissedCount();
      setCurrent(r.data); fillForm(r.data); showView("entries");
    });
    const addForm = h("form", "row");
    const target = h("input", "mono add-target"); target.placeholder = "existing-entry-id"; target.maxLength = 80;
    target.setAttribute("aria-label", "Existing entry id");
    if (g.suggested_entry && g.suggested_entry.score >= 0.9) target.value = g.suggested_entry.id;  // only when close
    const addBtn = h("button", "btn small to-variants", "Add as questions of this entry"); addBtn.type = "submit";
    addForm.append(target, addBtn);
    if (g.suggested_entry) addForm.append(h("span", "muted small", `closest: ${g.suggested_entry.id} (${Math.round(g.suggested_entry.score * 100)}%)`));
    addForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const id = target.value.trim();
      const cur = await api("GET", "/api/editor/entries/" + encodeURIComponent(id));
      if (!cur.ok) { toast(errText(cur), "err"); return; }
      const r = await api("POST", "/api/editor/missed/to-variants", { missed_ids: g.missed_ids, entry_id: id }, { "If-Match": '"' + cur.data.version + '"' });
      if (!r.ok) { toast(errText(r), "err"); return; }
      toast(`Added to ${id} (draft). Publish it to go live.`, "ok");
      refreshMissedCount();
      setCurrent(r.data); fillForm(r.data); showView("entries");
    });
    const dismiss = h("button", "btn ghost small dismiss", "Dismiss"); dismiss.type = "button";
    dismiss.addEventListener("click", async () => {
      const r = await api("POST", "/api/editor/missed/dismiss", { missed_ids: g.missed_ids });
      if (!r.ok) { toast(errText(r), "err"); return; }
      loadMissed();
    });
    actions.append(newForm, addForm, dismiss);
    li.append(actions);
    return li;
  }
  $("missed-refresh").addEventListener("click", loadMissed);
  function refreshMissedCount() {
    api("GET", "/api/editor/missed/groups").then((r) => {
      if (!r.ok) return;
      const c = $("missed-count");
      c.hidden = !r.data.length; c.textContent = String(r.data.length);
    }).catch(() => {});
  }

  // ---------------------------------------------------------------- import / export
  $("import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("import-file").files[0];
    if (!file) return;
    const fmt = file.name.toLowerCase().endsWith(".json") ? "json" : "csv";
    const text = await file.text();
    const errs = $("import-errors"), result = $("import-result");
    clear(errs); errs.hidden = true; result.textContent = "Importing…";
    const r = await api("POST", `/api/editor/import?format=${fmt}&publish=${$("import-publish").checked}`, text,
      { "Content-Type": fmt === "json" ? "application/json" : "text/csv" }, true);
    if (r.ok) {
      const s = r.data;
      result.textContent = `Imported: ${s.created.length} new, ${s.updated.length} updated, ${s.unchanged.length} unchanged, ${s.published.length} published.`;
      renderWarnings(s.warnings, errs);
      loadList(); loadStatus();
      return;
    }
    result.textContent = "Nothing was imported.";
    const issues = errBody(r).issues || [{ line: null, message: errText(r) }];
    for (const i of issues) errs.append(h("li", null, (i.line ? `Line ${i.line}: ` : "") + i.message));
    errs.hidden = false;
  });
  document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", async () => {
    const fmt = b.dataset.export, which = b.dataset.which;
    const res = await fetch(`/api/editor/export?format=${fmt}&which=${which}`, { headers: { Authorization: "Bearer " + Borderless.auth.token } });
    if (!res.ok) { toast("Export failed (HTTP " + res.status + ")", "err"); return; }
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `knowledge-${which}.${fmt}`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }));

  // ---------------------------------------------------------------- start
  async function start() {
    try {
      const lists = await api("GET", "/api/i18n");
      if (lists.ok) { locales = lists.data.locales; rtl = lists.data.rtl; }
      const r = await api("GET", "/api/editor/completeness");
      if (r.ok && r.data.locales) locales = r.data.locales;
    } catch (e) { /* keep what arrived */ }
    fillTestLocales();
    loadList();
    loadStatus();
    clearInterval(statusTimer); statusTimer = setInterval(loadStatus, 5000);
    refreshMissedCount();
  }
  Borderless.start({
    title: "Knowledge editor", intro: "Sign in to edit what the bot answers, in every language.",
    roles: ["editor", "admin"], roleError: "This account cannot edit the knowledge base (needs the editor or admin role).",
    onStart: start, onLogout: () => clearInterval(statusTimer),
  });
})();
