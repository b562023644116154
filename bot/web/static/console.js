/* Borderless agent console. Plain JavaScript, no build step. API: docs/protocol.md.
 * Everything a shopper, the bot or an agent wrote is rendered with textContent, never innerHTML. */
(() => {
  "use strict";
  const { $, h, langName, toast, api, errCode, errText } = Borderless;
  const MINE_KEY = "borderless.mine";
  const timeOf = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  };
  const waited = (s) => {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  };
  // Why a conversation reached a person, said honestly: what the shopper asked for is not a bot failure.
  // kind "asked": the shopper's choice (neutral pill); "urgent": needs care; "bot": the bot could not answer.
  const REASONS = {
    human_request: ["asked for a person", "asked"], complaint: ["complaint", "urgent"],
    complaint_urgent: ["urgent complaint", "urgent"], low_confidence: ["bot unsure", "bot"],
    repeated_unresolved: ["bot did not resolve it", "bot"], unresolved: ["bot did not resolve it", "bot"],
    out_of_scope: ["outside what the bot knows", "bot"], agent_released: ["released by an agent", "asked"],
  };
  const reasonOf = (r) => REASONS[r] || [String(r || "handoff").replace(/_/g, " "), "bot"];
  const reasonLabel = (r) => reasonOf(r)[0];
  const reasonChip = (r) => h("span", "chip reason reason-" + reasonOf(r)[1], reasonOf(r)[0]);

  let auth = null;
  let mine = new Map();            // id -> {id, lang, state, unread}
  try { (JSON.parse(sessionStorage.getItem(MINE_KEY) || "[]")).forEach((c) => mine.set(c.id, c)); } catch (e) { /* */ }
  let queue = [], queueAt = Date.now(), current = null, shown = new Set();
  let ws = null, wsAttempt = 0, wsTimer = null, mode = "reply", lastTyping = 0;
  const drafts = new Map();        // conversation id -> unsent reply, kept across switches

  const saveMine = () => sessionStorage.setItem(MINE_KEY, JSON.stringify([...mine.values()]));

  // ---------------------------------------------------------------- sign-in (common.js) and start
  function signedOut() {
    auth = null; current = null; mine.clear();
    sessionStorage.removeItem(MINE_KEY); sessionStorage.removeItem("borderless.current");
    if (ws) { const s = ws; ws = null; s.close(); }
    clearTimeout(wsTimer);
    $("conv").hidden = true; $("placeholder").hidden = false; $("timeline").textContent = "";
  }

  function start(who) {
    auth = who;
    const langs = $("me-langs"); langs.textContent = "";
    const list = auth.languages && auth.languages.length ? auth.languages : ["all"];
    list.forEach((l) => { const b = h("span", "lang", l.toUpperCase()); b.title = l === "all" ? "All languages" : langName(l); langs.appendChild(b); });
    renderMine(); loadQueue(); loadMine(); connectWs();
    const last = sessionStorage.getItem("borderless.current");
    if (last && mine.has(last)) openConversation(last);
  }

  // ---------------------------------------------------------------- queue
  async function loadQueue() {
    const r = await api("GET", "/api/queue");
    if (r.ok) { setQueue(Array.isArray(r.data) ? r.data : (r.data && r.data.items) || []); }
  }
  function setQueue(items) { queue = items; queueAt = Date.now(); renderQueue(); }
  function renderQueue() {
    const ul = $("queue"); ul.textContent = "";
    $("queue-count").textContent = String(queue.length);
    $("queue-empty").hidden = queue.length > 0;
    const elapsed = (Date.now() - queueAt) / 1000;
    queue.forEach((item) => {
      const li = h("li", "card queue-item"); li.dataset.id = item.id;
      const top = h("div", "row-top");
      const lang = h("span", "lang big", (item.lang || "?").toUpperCase()); lang.title = langName(item.lang);
      const title = h("span", "qtitle", "Shopper · " + item.id.slice(0, 6));
      const wait = h("span", "wait", waited((item.waiting_seconds || 0) + elapsed));
      wait.dataset.base = String(item.waiting_seconds || 0); wait.setAttribute("aria-label", "waiting " + wait.textContent);
      top.append(lang, title, wait);
      const chips = h("div", "chips");
      chips.appendChild(reasonChip(item.reason));
      chips.appendChild(h("span", "chip", langName(item.lang)));
      if (item.topic) chips.appendChild(h("span", "chip", "topic: " + item.topic.replace(/[-_]/g, " ")));
      if (item.availability && item.availability !== "online") chips.appendChild(h("span", "chip warn", item.availability.replace(/_/g, " ")));
      if (item.has_email) chips.appendChild(h("span", "chip", "email left"));
      if (item.translated) { const tc = h("span", "chip translated", "translated"); tc.title = "You read and answer this chat through machine translation"; chips.appendChild(tc); }
      li.append(top, chips);
      if (item.last_message) {
        const q = h("p", "last", "“" + (item.last_message_translation || item.last_message) + "”"); q.dir = "auto";
        if (item.last_message_translation) q.title = "Original: " + item.last_message;
        li.appendChild(q);
      }
      const claim = h("button", "btn primary small claim", "Claim");
      claim.type = "button"; claim.setAttribute("aria-label", "Claim conversation in " + langName(item.lang));
      claim.addEventListener("click", () => claimConversation(item, claim));
      li.appendChild(claim);
      ul.appendChild(li);
    });
  }
  setInterval(() => {
    const elapsed = (Date.now() - queueAt) / 1000;
    document.querySelectorAll("#queue .wait").forEach((w) => { w.textContent = waited(Number(w.dataset.base) + elapsed); });
  }, 1000);

  async function claimConversation(item, btn) {
    btn.disabled = true;
    const r = await api("POST", "/api/conversations/" + encodeURIComponent(item.id) + "/claim");
    btn.disabled = false;
    if (r.status === 409) {
      if (errCode(r) === "not_queued") { toast("This conversation is no longer waiting.", "warn"); loadQueue(); return; }
      toast("Taken by someone else — this conversation was claimed by another agent.", "warn");
      queue = queue.filter((q) => q.id !== item.id); renderQueue(); loadQueue();
      return;
    }
    if (!r.ok) { toast("Could not claim: " + errText(r), "error"); return; }
    mine.set(item.id, { id: item.id, lang: item.lang, topic: item.topic, state: "agent", unread: 0 });
    saveMine();
    queue = queue.filter((q) => q.id !== item.id); renderQueue();
    renderMine();
    openConversation(item.id);
  }

  async function loadMine() {
    const r = await api("GET", "/api/conversations?scope=mine");
    if (!r.ok || !Array.isArray(r.data)) return;
    r.data.forEach((c) => {
      const old = mine.get(c.id) || {};
      mine.set(c.id, { id: c.id, lang: c.lang, topic: old.topic, state: c.state, unread: old.unread || 0 });
    });
    saveMine(); renderMine();
  }

  function renderMine() {
    const ul = $("mine"); ul.textContent = "";
    $("mine-empty").hidden = mine.size > 0;
    mine.forEach((c) => {
      const li = h("li");
      const b = h("button", "card mine-item" + (current && current.id === c.id ? " active" : ""));
      b.type = "button";
      if (current && current.id === c.id) b.setAttribute("aria-current", "true");
      b.appendChild(h("span", "lang big", (c.lang || "?").toUpperCase()));
      b.appendChild(h("span", "qtitle", "Shopper · " + c.id.slice(0, 6)));
      b.appendChild(h("span", "state state-" + c.state, c.state === "closed" ? "resolved" : c.state));
      if (c.unread) b.appendChild(h("span", "unread", String(c.unread)));
      b.addEventListener("click", () => openConversation(c.id));
      li.appendChild(b); ul.appendChild(li);
    });
  }

  // ---------------------------------------------------------------- conversation view
  async function openConversation(id) {
    const r = await api("GET", "/api/conversations/" + encodeURIComponent(id));
    if (!r.ok) { toast("Could not load the conversation: " + errText(r), "error"); return; }
    const conv = r.data, switched = !current || current.id !== id;
    // Keep an unsent reply for when the agent comes back; never a note (it would come back in Reply mode).
    if (switched && current && mode === "reply") drafts.set(current.id, $("compose-text").value);
    const handoff = (conv.handoffs || [])[(conv.handoffs || []).length - 1] || {};
    conv.topic = conv.topic || handoff.topic; conv.reason = conv.reason || handoff.reason;
    current = { id, lang: conv.lang, state: conv.state, topic: conv.topic, data: conv, reading: conv.reading_lang || null };
    sessionStorage.setItem("borderless.current", id);
    const entry = mine.get(id);
    if (entry) { entry.unread = 0; entry.state = conv.state; entry.lang = conv.lang; entry.topic = conv.topic; saveMine(); }
    renderMine();
    $("placeholder").hidden = true; $("conv").hidden = false;
    renderHeader();
    // A new conversation always starts in Reply mode: a note mode carried over would turn a reply into a note.
    if (switched) { setMode("reply", false); $("compose-text").value = drafts.get(id) || ""; drafts.delete(id); }
    const tl = $("timeline"); tl.textContent = ""; shown = new Set();
    const items = [];
    (conv.messages || []).forEach((m) => items.push(m.role === "note" || m.internal ? { note: m } : { msg: m }));
    (conv.notes || []).forEach((n) => items.push({ note: n }));
    items.sort((a, b) => {
      const x = a.msg || a.note, y = b.msg || b.note;
      const t = String(x.created_at || "").localeCompare(String(y.created_at || ""));
      return t || ((x.seq || 0) - (y.seq || 0));
    });
    items.forEach((it) => (it.msg ? appendMessage(it.msg) : appendNote(it.note)));
    scrollEnd();
    $("compose-text").focus();
  }
  function renderHeader() {
    const c = current.data;
    $("conv-title").textContent = "Shopper · " + current.id.slice(0, 6);
    const meta = $("conv-meta"); meta.textContent = "";
    const add = (label, value, cls) => {
      const s = h("span", "kv " + (cls || "")); s.appendChild(h("span", "k", label)); s.appendChild(h("span", "v", value)); meta.appendChild(s);
    };
    add("Language", (current.lang || "?").toUpperCase() + " · " + langName(current.lang));
    add("State", current.state === "closed" ? "resolved" : current.state, "state-" + current.state);
    if (c.reason) add("Reason", reasonLabel(c.reason), "reason-" + reasonOf(c.reason)[1]);
    if (c.topic) add("Topic", c.topic.replace(/[-_]/g, " "));
    if (c.contact_email) add("Email", c.contact_email);
    if (c.rating) add("Rating", "★".repeat(c.rating));
    if (c.locale_hint) add("Browser", c.locale_hint);
    if (current.reading) add("Translated", current.lang.toUpperCase() + " → " + current.reading.toUpperCase(), "translated");
    $("translate-row").hidden = !current.reading || mode === "note";
    $("translate-lang").textContent = langName(current.lang);
    $("preview-out").hidden = true;
    const held = current.state === "agent";
    $("resolve").disabled = !held; $("handback").disabled = !held; $("release").disabled = !held;
    $("compose-send").disabled = false;
  }
  function appendMessage(m) {
    if (m.id && shown.has(m.id)) return;
    if (m.id) shown.add(m.id);
    const role = m.role || "system";
    const row = h("div", "msg " + role);
    if (role === "system") {
      row.appendChild(h("div", "sys", m.text));
      $("timeline").appendChild(row); return;
    }
    const head = h("div", "msg-head");
    const who = role === "shopper" ? "Shopper" : role === "bot" ? "Bot" : (m.agent_name || m.author_name || "Agent");
    head.appendChild(h("span", "who", who));
    if (m.lang) { const l = h("span", "lang", m.lang.toUpperCase()); l.title = "Detected language: " + langName(m.lang); head.appendChild(l); }
    head.appendChild(h("span", "time", timeOf(m.created_at)));
    const bubble = h("div", "bubble", m.text);
    bubble.dir = "auto";
    row.append(head, bubble);
    translationView(m, row, bubble);
    if (role === "bot") {
      const d = m.decision || m.meta || m;
      const meta = h("div", "decision");
      const part = (k, v, cls) => { if (v == null || v === "") return; const s = h("span", "d " + (cls || "")); s.appendChild(h("b", "", k)); s.appendChild(document.createTextNode(" " + v)); meta.appendChild(s); };
      const action = m.action || d.action, why = reasonOf(d.reason);
      part("action", action, "act-" + action);
      part("intent", d.intent);
      // A handoff the shopper asked for (a person, a complaint) is their choice, not a bot that was unsure:
      // it gets the plain reason, and its confidence is not coloured as a warning.
      const chosen = action === "handoff" && why[1] !== "bot";
      if (typeof d.confidence === "number") part("confidence", d.confidence.toFixed(2), chosen ? "" : d.confidence >= 0.82 ? "hi" : d.confidence >= 0.7 ? "mid" : "lo");
      if (chosen) part("handoff", why[0], "reason-" + why[1]); else part("reason", d.reason);
      part("faq", d.faq_id || m.faq_id);
      if (meta.childNodes.length) row.appendChild(meta);
      if (m.suggestions && m.suggestions.length) {
        const s = h("div", "decision sugg");
        s.appendChild(h("b", "", "suggested "));
        s.appendChild(document.createTextNode(m.suggestions.map((x) => x.question + " [" + x.faq_id + "]").join(" · ")));
        row.appendChild(s);
      }
    }
    $("timeline").appendChild(row);
  }
  // A shopper message in another language shows its translation, the original one click away; an agent reply
  // sent in translation shows what the agent wrote, what the shopper read one click away.
  function translationView(m, row, bubble) {
    let first = null, second = null, label = "";
    if (m.translation && m.translation.text) {
      first = m.translation.text; second = m.text;
      label = "Translated from " + langName(m.lang) + " · " + m.translation.engine;
    } else if (m.original_text) {
      first = m.original_text; second = m.text;
      label = "Sent in " + langName(m.lang) + " (machine-translated)";
    }
    if (m.translation_note) row.appendChild(h("div", "tr-note", m.translation_note));
    if (first == null) return;
    bubble.textContent = first; bubble.classList.add("translated");
    const bar = h("div", "tr-bar"); bar.appendChild(h("span", "tr-label", label));
    const toggle = h("button", "link tr-toggle", m.translation ? "Show original" : "Show what the shopper read");
    toggle.type = "button";
    const orig = h("div", "bubble original", second); orig.dir = "auto"; orig.hidden = true;
    toggle.addEventListener("click", () => {
      orig.hidden = !orig.hidden;
      toggle.textContent = orig.hidden ? (m.translation ? "Show original" : "Show what the shopper read") : "Hide";
    });
    bar.appendChild(toggle); row.append(bar, orig);
  }
  function appendNote(n) {
    const key = "note:" + n.id;
    if (n.id != null && shown.has(key)) return;
    if (n.id != null) shown.add(key);
    const row = h("div", "msg note");
    const head = h("div", "msg-head");
    head.appendChild(h("span", "who", "Internal note · " + (n.author_name || "agent")));
    head.appendChild(h("span", "private", "not visible to the shopper"));
    head.appendChild(h("span", "time", timeOf(n.created_at)));
    row.append(head, h("div", "bubble", n.text));
    $("timeline").appendChild(row);
  }
  const scrollEnd = () => { const tl = $("timeline"); tl.scrollTop = tl.scrollHeight; };

  // ---------------------------------------------------------------- composer
  // Two modes that must never be confused: the composer says which one it is in its colour, a banner, the
  // label, the placeholder and the button.
  const MODES = {
    reply: { label: "Reply to shopper", banner: "Replying to the shopper", button: "Send",
             placeholder: "Write a reply… (Enter to send, Shift+Enter for a new line)", hint: "The shopper sees this message." },
    note: { label: "Internal note", banner: "Internal note — the shopper will NOT see this", button: "Add note",
            placeholder: "Write an internal note for agents… (not sent to the shopper)",
            hint: "Only agents see internal notes. They are never sent to the shopper." },
  };
  function setMode(m, focus) {
    mode = m;
    const note = m === "note", text = MODES[m];
    $("tab-reply").classList.toggle("active", !note); $("tab-reply").setAttribute("aria-selected", String(!note));
    $("tab-note").classList.toggle("active", note); $("tab-note").setAttribute("aria-selected", String(note));
    $("composer").classList.toggle("note-mode", note);
    $("composer").dataset.mode = m;
    $("compose-mode").textContent = text.banner;
    $("compose-label").textContent = text.label;
    $("compose-text").placeholder = text.placeholder;
    $("compose-hint").textContent = text.hint;
    $("compose-send").textContent = text.button;
    if (current) $("translate-row").hidden = !current.reading || note;
    if (focus !== false) $("compose-text").focus();
  }
  $("tab-reply").addEventListener("click", () => setMode("reply"));
  $("tab-note").addEventListener("click", () => setMode("note"));
  $("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const box = $("compose-text"), text = box.value.trim();
    if (!text) return;
    const id = current.id, btn = $("compose-send"); btn.disabled = true;
    try {
      const path = "/api/conversations/" + encodeURIComponent(id) + (mode === "note" ? "/notes" : "/messages");
      const body = mode === "note" ? { text } : { text, client_id: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()) };
      if (mode !== "note" && current.reading && $("compose-translate").checked) body.translate = true;
      const r = await api("POST", path, body);
      if (!r.ok) { toast((r.status === 409 ? "Not yours any more: " : "Could not send: ") + errText(r), "error"); return; }
      box.value = ""; $("preview-out").hidden = true;
      if (r.data && r.data.translation_note) toast(r.data.translation_note, "warn");
      if (current && current.id === id && r.data) {
        const item = r.data.message || r.data.note || r.data;
        if (mode === "note") appendNote(item); else appendMessage(item);
        scrollEnd();
      }
    } finally { btn.disabled = false; box.focus(); }
  });
  $("compose-preview").addEventListener("click", async () => {
    const text = $("compose-text").value.trim(), out = $("preview-out");
    if (!current || !text) return;
    const r = await api("POST", "/api/conversations/" + encodeURIComponent(current.id) + "/translation-preview", { text });
    out.textContent = ""; out.hidden = false;
    if (!r.ok) { out.appendChild(h("p", "tr-note", "Preview failed: " + errText(r))); return; }
    const p = r.data;
    if (p.translation) { const a = h("p", "pv-to"); a.appendChild(h("b", "", "Shopper reads: ")); a.appendChild(document.createTextNode(p.translation.text)); a.dir = "auto"; out.appendChild(a); }
    if (p.back_translation) { const b = h("p", "pv-back"); b.appendChild(h("b", "", "Back-translated: ")); b.appendChild(document.createTextNode(p.back_translation.text)); out.appendChild(b); }
    if (p.note) out.appendChild(h("p", "tr-note", p.note));
  });
  $("compose-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("compose-text").addEventListener("input", () => {
    if (mode !== "reply" || !current || !ws || ws.readyState !== 1) return;
    const now = Date.now();
    if (now - lastTyping > 3000) { lastTyping = now; ws.send(JSON.stringify({ type: "typing", conversation_id: current.id })); }
  });

  // What each header button does: the API action, the state it leaves, what to tell the agent.
  const ACTIONS = {
    resolve: { state: "closed", verb: "resolve", done: "Conversation resolved. The shopper is asked for a rating." },
    handback: { state: "bot", verb: "hand back", done: "Handed back to the bot." },
    release: { state: "queued", verb: "release", done: "Released: the conversation is back in the queue for another agent." },
  };
  async function action(kind) {
    if (!current) return;
    const id = current.id, what = ACTIONS[kind];
    const r = await api("POST", "/api/conversations/" + encodeURIComponent(id) + "/" + kind);
    if (!r.ok) { toast("Could not " + what.verb + ": " + errText(r), "error"); return; }
    toast(what.done, "ok");
    if (what.state === "queued") {           // no longer mine: drop it from my list, show the queue
      mine.delete(id); saveMine(); current = null; sessionStorage.removeItem("borderless.current");
      $("conv").hidden = true; $("placeholder").hidden = false; renderMine(); loadQueue();
      return;
    }
    const entry = mine.get(id); if (entry) { entry.state = what.state; saveMine(); }
    openConversation(id);
  }
  Object.keys(ACTIONS).forEach((kind) => $(kind).addEventListener("click", () => action(kind)));

  // ---------------------------------------------------------------- live updates (/ws/agent)
  function connectWs() {
    if (!auth || (ws && ws.readyState <= 1)) return;
    // The token goes in the first frame, never in the URL (URLs end up in access logs).
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent";
    const sock = new WebSocket(url); ws = sock;
    sock.onopen = () => {
      sock.send(JSON.stringify({ type: "auth", token: auth.token }));
      wsAttempt = 0; $("live-dot").classList.add("on"); $("live-dot").title = "Live"; loadQueue();
    };
    sock.onmessage = (ev) => { let f; try { f = JSON.parse(ev.data); } catch (e) { return; } onFrame(f); };
    sock.onclose = (ev) => {
      $("live-dot").classList.remove("on"); $("live-dot").title = "Reconnecting…";
      if (ws !== sock) return;
      ws = null;
      // 4401: logged out or deactivated; 4403: origin refused. 4412 (role or languages changed) reconnects.
      if (ev.code === 4401 || ev.code === 4403) { Borderless.logout(false); return; }
      const base = Math.min(20000, 500 * 2 ** wsAttempt++);
      wsTimer = setTimeout(connectWs, base / 2 + Math.random() * base / 2);
    };
  }
  function onFrame(f) {
    const cid = f.conversation_id;
    switch (f.type) {
      case "queue": setQueue(f.items || []); break;
      case "queue_changed": loadQueue(); break;
      case "message": {
        if (current && cid === current.id) {
          if (f.message && f.message.role === "shopper") $("shopper-typing").hidden = true;
          if (f.message && (f.message.role === "note" || f.note)) appendNote(f.note || f.message); else appendMessage(f.message);
          scrollEnd();
        } else if (mine.has(cid)) { mine.get(cid).unread = (mine.get(cid).unread || 0) + 1; saveMine(); renderMine(); }
        break;
      }
      case "note": if (current && cid === current.id) { appendNote(f.note || f); scrollEnd(); } break;
      case "typing":
        if (current && cid === current.id && f.role === "shopper") {
          const t = $("shopper-typing"); t.hidden = false;
          clearTimeout(onFrame.typingTimer); onFrame.typingTimer = setTimeout(() => { t.hidden = true; }, 5000);
        }
        break;
      case "state": {
        const entry = mine.get(cid);
        if (entry) { entry.state = f.state; saveMine(); renderMine(); }
        if (current && cid === current.id) { current.state = f.state; renderHeader(); }
        break;
      }
      default: break;
    }
  }

  // ---------------------------------------------------------------- boot
  Borderless.start({
    title: "Agent console", intro: "Sign in to answer shoppers in their language.", roles: ["agent", "admin"],
    roleError: "This account cannot answer shoppers (needs the agent or admin role).",
    onStart: start, onLogout: signedOut,
  });
})();
