/*! Borderless chat widget. Embed with one tag:
 *  <script src="https://HOST/widget/borderless.js" data-store-key="demo" async></script>
 *  Optional: data-accent="#2b59ff" (brand colour), data-open="true" (start open).
 *  Plain JavaScript, no dependencies, no build step. Protocol: docs/protocol.md.
 *  Every piece of user- or server-written text is rendered with textContent, never innerHTML. */
(function () {
  "use strict";
  if (window.__borderless) return;
  const script = document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="borderless.js"]')).pop();
  if (!script) return;

  const SRC = new URL(script.src, location.href);
  const WS_URL = (SRC.protocol === "https:" ? "wss://" : "ws://") + SRC.host + "/ws/shopper";
  const STORE_KEY = script.getAttribute("data-store-key") || "default";
  const ACCENT = script.getAttribute("data-accent") || "#2b59ff";
  const NS = "borderless:" + STORE_KEY + ":";
  const MAX_CHARS = 2000, HISTORY_MAX = 200, PING_MS = 25000;
  const DEFAULT_UI = {
    title: "Customer support", subtitle: "We reply in your language", placeholder: "Type your message…", send: "Send",
    open_chat: "Open chat", close_chat: "Close chat", typing: "Typing…", reconnecting: "Reconnecting…",
    connected: "Connected", bot_name: "Assistant", agent: "Support agent",
    waiting_agent: "Connecting you to a person…", rate_prompt: "Was this helpful?",
    rating_prompt: "How would you rate this conversation?", rate_star: "{n} out of 5",
    rate_thanks: "Thanks for your feedback!", email_placeholder: "Your email address", email_submit: "Send",
    leave_email_prompt: "Leave your email and we'll get back to you as soon as possible.",
    email_saved: "Thanks! We'll reply to you by email.", no_agent_online: "No agent is available right now.",
    outside_hours: "Our team is outside support hours right now.", send_failed: "Your message could not be sent.",
    greeting: "Hi! How can we help you today? Ask in any language.", popular_title: "Popular questions",
  };
  const PONG_MS = 5000;   // no answer to a ping this long: the connection is dead even if no close event came

  // ---- storage (localStorage, keyed by store key) -------------------------------------------
  const store = {
    get(k, d) { try { const v = localStorage.getItem(NS + k); return v == null ? d : JSON.parse(v); } catch (e) { return d; } },
    set(k, v) { try { localStorage.setItem(NS + k, JSON.stringify(v)); } catch (e) { /* quota / private mode */ } },
    del(k) { try { localStorage.removeItem(NS + k); } catch (e) { /* ignore */ } },
  };
  const uuid = () => (window.crypto && crypto.randomUUID) ? crypto.randomUUID() :
    "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
      const r = (window.crypto && crypto.getRandomValues) ? crypto.getRandomValues(new Uint8Array(1))[0] % 16 : Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });

  let session = store.get("session", null);        // {conversation_id, token, last_seq}
  let outbox = store.get("outbox", []);            // [{client_id, text, faq_id}] not yet acked
  let history = store.get("history", []);          // messages already shown (survives reloads)
  let ui = Object.assign({}, DEFAULT_UI, store.get("ui", {}));
  let lang = store.get("lang", null) || (navigator.language || "en").slice(0, 2).toLowerCase();
  let dir = store.get("dir", "ltr");  // the server says which languages are right to left (welcome frame)
  let convState = "bot", agentName = null, ws = null, ready = false, attempt = 0;
  let retryTimer = null, pingTimer = null, typingTimer = null, lastTypingSent = 0, stopped = false;
  let isOpen = false, unread = 0, rateOffer = null, resendTimer = null, pongTimer = null, popular = [];
  const NO_AGENT = ["no_agent_online", "outside_hours"];
  if (!session) history = [];

  // ---- DOM (shadow root keeps our styles in and the store's styles out) ----------------------
  const host = document.createElement("div");
  host.id = "borderless-widget";
  const root = host.attachShadow({ mode: "open" });
  const el = (tag, cls, attrs) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
    return n;
  };
  const svg = (path) => {
    const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    s.setAttribute("viewBox", "0 0 24 24"); s.setAttribute("aria-hidden", "true");
    const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", path); s.appendChild(p); return s;
  };
  const ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const ICON_CLOSE = "M6 6l12 12M18 6L6 18";
  const ICON_SEND = "M3 11.5 21 3l-8.5 18-2-7.5z";

  const style = el("style");
  style.textContent = `
:host{all:initial}
*{box-sizing:border-box;font-family:ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic","Noto Sans CJK SC",sans-serif}
.launcher{position:fixed;right:24px;bottom:24px;width:60px;height:60px;border-radius:50%;border:0;cursor:pointer;
 background:var(--accent);color:#fff;box-shadow:0 10px 30px rgba(15,23,42,.28);display:grid;place-items:center;z-index:2147483000;transition:transform .15s}
.launcher:hover{transform:scale(1.06)} .launcher svg{width:28px;height:28px;fill:none;stroke:#fff;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.launcher:focus-visible,button:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
textarea:focus,input:focus{outline:none;border-color:var(--accent);box-shadow:0 0 0 3px var(--ring)}
.badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#ef4444;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;padding:0 5px;border:2px solid #fff}
.badge[hidden]{display:none}
.panel{position:fixed;right:24px;bottom:96px;width:380px;max-width:calc(100vw - 32px);height:600px;max-height:calc(100vh - 120px);
 background:#fff;border-radius:18px;box-shadow:0 24px 60px rgba(15,23,42,.25),0 0 0 1px rgba(15,23,42,.06);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000;color:#0f172a;font-size:14.5px;line-height:1.45}
.panel[hidden]{display:none}
.head{background:var(--accent);background-image:linear-gradient(135deg,rgba(255,255,255,.14),rgba(0,0,0,.12));color:#fff;padding:16px 16px 14px;display:flex;align-items:center;gap:12px}
.avatar{width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.2);display:grid;place-items:center;font-weight:700;font-size:16px;flex:none}
.avatar svg{width:20px;height:20px;fill:none;stroke:#fff;stroke-width:2}
.htext{flex:1;min-width:0} .title{font-weight:650;font-size:16px;margin:0}
.sub{font-size:12.5px;opacity:.9;display:flex;align-items:center;gap:6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.dot{width:8px;height:8px;border-radius:50%;background:#4ade80;flex:none} .dot.off{background:#fbbf24}
.x{background:transparent;border:0;color:#fff;width:34px;height:34px;border-radius:8px;cursor:pointer;display:grid;place-items:center}
.x:hover{background:rgba(255,255,255,.15)} .x svg{width:20px;height:20px;stroke:#fff;stroke-width:2;fill:none;stroke-linecap:round}
.scroll{flex:1;overflow-y:auto;scrollbar-width:thin;padding:16px 14px 8px;background:#f6f7fb;scroll-behavior:smooth}
.log{display:flex;flex-direction:column;gap:10px}
.row{display:flex;flex-direction:column;max-width:84%;align-self:flex-start}
.row.shopper{align-self:flex-end;align-items:flex-end}
.who{font-size:11.5px;color:#64748b;margin:0 4px 3px}
.bubble{padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;box-shadow:0 1px 2px rgba(15,23,42,.08);border-top-left-radius:5px}
.shopper .bubble{background:var(--accent);color:#fff;border-radius:16px;border-top-right-radius:5px;box-shadow:none}
[dir=rtl] .bubble{border-top-left-radius:16px;border-top-right-radius:5px} [dir=rtl] .shopper .bubble{border-top-right-radius:16px;border-top-left-radius:5px}
.agent .bubble{background:#ecfdf5;box-shadow:0 0 0 1px #bbf7d0}
.mt{font-size:11px;color:#64748b;font-style:italic;margin:2px 4px 0}
.pending .bubble{opacity:.6} .failed .bubble{background:#fee2e2;color:#991b1b}
.time{font-size:10.5px;color:#94a3b8;margin:3px 4px 0}
.row.system{align-self:center;max-width:92%;align-items:center}
.system .bubble{background:#e9ecf5;color:#475569;font-size:12.5px;box-shadow:none;border-radius:999px;padding:5px 12px;text-align:center}
.sugg{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.sugg button{border:1px solid var(--accent);color:var(--accent);background:#fff;border-radius:999px;padding:6px 12px;font-size:13px;cursor:pointer;text-align:start}
.sugg button:hover:not(:disabled){background:var(--accent);color:#fff} .sugg button:disabled{opacity:.45;cursor:default}
.sugg-title{width:100%;font-size:11.5px;color:#64748b;margin:2px 0 0}
.typing{display:flex;align-items:center;gap:8px;color:#64748b;font-size:12.5px;padding:6px 4px 2px}
.typing[hidden]{display:none}
.dots{display:inline-flex;gap:3px;background:#fff;padding:9px 11px;border-radius:14px;box-shadow:0 1px 2px rgba(15,23,42,.08)}
.dots i{width:6px;height:6px;border-radius:50%;background:#94a3b8;animation:b 1.2s infinite}
.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}
@keyframes b{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-4px);opacity:1}}
.banner{background:#fff7ed;color:#9a3412;font-size:12.5px;padding:6px 14px;text-align:center;border-bottom:1px solid #fed7aa}
.banner[hidden]{display:none}
.card{margin:0 12px 10px;background:#fff;border:1px solid #e2e8f0;border-radius:14px;padding:12px;box-shadow:0 1px 3px rgba(15,23,42,.06)}
.card[hidden]{display:none} .card p{margin:0 0 8px;font-size:13px;color:#334155}
.stars{display:flex;gap:4px} .stars button{border:0;background:transparent;font-size:24px;line-height:1;cursor:pointer;color:#cbd5e1;padding:2px 3px;border-radius:6px}
.stars button.on,.stars button:hover{color:#f59e0b}
.ef{display:flex;gap:6px} .ef input{flex:1;min-width:0;border:1px solid #cbd5e1;border-radius:10px;padding:8px 10px;font-size:14px}
.btn{background:var(--accent);color:#fff;border:0;border-radius:10px;padding:8px 14px;font-weight:600;cursor:pointer;font-size:13.5px}
.compose{display:flex;align-items:flex-end;gap:8px;padding:10px 12px 12px;border-top:1px solid #e8ebf2;background:#fff}
textarea{flex:1;resize:none;border:1px solid #d5dae5;border-radius:12px;padding:9px 12px;font-size:14.5px;line-height:1.4;max-height:120px;min-height:40px;color:#0f172a;background:#fff}
.send{width:40px;height:40px;border-radius:12px;border:0;background:var(--accent);cursor:pointer;display:grid;place-items:center;flex:none}
.send:disabled{opacity:.4;cursor:default} .send svg{width:19px;height:19px;fill:#fff} [dir=rtl] .send svg{transform:scaleX(-1)}
.foot{font-size:10.5px;color:#94a3b8;text-align:center;padding:0 0 8px;background:#fff}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}.root.open .launcher{display:none}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}`;
  root.appendChild(style);

  const wrap = el("div", "root", { part: "root" });
  wrap.style.setProperty("--accent", ACCENT);
  wrap.style.setProperty("--ring", ACCENT + "40");
  const launcher = el("button", "launcher", { type: "button", "aria-expanded": "false", "aria-controls": "bl-panel" });
  launcher.appendChild(svg(ICON_CHAT));
  const badge = el("span", "badge", { "aria-hidden": "true" }); badge.hidden = true; launcher.appendChild(badge);

  const panel = el("section", "panel", { id: "bl-panel", role: "dialog", "aria-labelledby": "bl-title" });
  panel.hidden = true;
  const head = el("div", "head");
  const avatar = el("div", "avatar"); avatar.appendChild(svg(ICON_CHAT));
  const htext = el("div", "htext");
  const title = el("h2", "title", { id: "bl-title" });
  const sub = el("div", "sub"); const dot = el("span", "dot"); const subText = el("span");
  sub.append(dot, subText); htext.append(title, sub);
  const closeBtn = el("button", "x", { type: "button" }); closeBtn.appendChild(svg(ICON_CLOSE));
  head.append(avatar, htext, closeBtn);
  const banner = el("div", "banner", { role: "status" }); banner.hidden = true;
  const scroll = el("div", "scroll");
  const log = el("div", "log", { role: "log", "aria-live": "polite", "aria-relevant": "additions", id: "bl-log" });
  const typing = el("div", "typing", { "aria-hidden": "true" }); typing.hidden = true;
  const dots = el("span", "dots"); dots.append(el("i"), el("i"), el("i"));
  const typingText = el("span"); typing.append(dots, typingText);
  scroll.append(log, typing);

  const rateCard = el("div", "card", { role: "group" }); rateCard.hidden = true;
  const rateText = el("p", "", { id: "bl-rate" }); const stars = el("div", "stars");
  rateCard.setAttribute("aria-labelledby", "bl-rate");
  for (let n = 1; n <= 5; n++) {
    const b = el("button", "", { type: "button", "data-score": String(n) });
    b.textContent = "★";
    b.addEventListener("click", () => rate(n));
    b.addEventListener("mouseenter", () => Array.from(stars.children).forEach((s, i) => s.classList.toggle("on", i < n)));
    stars.appendChild(b);
  }
  stars.addEventListener("mouseleave", () => Array.from(stars.children).forEach((s) => s.classList.remove("on")));
  rateCard.append(rateText, stars);

  const emailCard = el("form", "card", { novalidate: "" }); emailCard.hidden = true;
  const emailText = el("p", "", { id: "bl-email-prompt" });
  const ef = el("div", "ef");
  const emailInput = el("input", "", { type: "email", autocomplete: "email", required: "", "aria-describedby": "bl-email-prompt" });
  const emailBtn = el("button", "btn", { type: "submit" });
  ef.append(emailInput, emailBtn); emailCard.append(emailText, ef);

  const compose = el("form", "compose");
  const inputLabel = el("label", "sr", { for: "bl-input" });
  const input = el("textarea", "", { id: "bl-input", rows: "1", maxlength: String(MAX_CHARS), enterkeyhint: "send" });
  const sendBtn = el("button", "send", { type: "submit" }); sendBtn.appendChild(svg(ICON_SEND));
  compose.append(inputLabel, input, sendBtn);
  const foot = el("div", "foot"); foot.textContent = "Borderless";
  const live = el("div", "sr", { role: "status", "aria-live": "polite" });
  panel.append(head, banner, scroll, rateCard, emailCard, compose, foot, live);
  wrap.append(panel, launcher);
  root.appendChild(wrap);

  // ---- localisation --------------------------------------------------------------------------
  const fmt = (s, vars) => String(s).replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? vars[k] : m));
  function applyUi() {
    wrap.setAttribute("lang", lang);
    wrap.setAttribute("dir", dir);
    title.textContent = ui.title;
    launcher.setAttribute("aria-label", isOpen ? ui.close_chat : ui.open_chat);
    closeBtn.setAttribute("aria-label", ui.close_chat);
    input.placeholder = ui.placeholder; inputLabel.textContent = ui.placeholder;
    sendBtn.setAttribute("aria-label", ui.send);
    emailInput.placeholder = ui.email_placeholder; emailInput.setAttribute("aria-label", ui.email_placeholder);
    emailBtn.textContent = ui.email_submit; emailText.textContent = ui.leave_email_prompt;
    typingText.textContent = ui.typing;
    Array.from(stars.children).forEach((b, i) => b.setAttribute("aria-label", fmt(ui.rate_star, { n: i + 1 })));
    if (rateOffer) rateText.textContent = rateOffer.kind === "closed" ? ui.rating_prompt : ui.rate_prompt;
    renderStatus();
  }
  function renderStatus() {
    const online = ready;
    dot.className = "dot" + (online || attempt === 0 ? "" : " off");
    if (convState === "agent" && agentName) { avatar.textContent = agentName.trim().charAt(0).toUpperCase(); }
    else if (!avatar.querySelector("svg")) { avatar.replaceChildren(svg(ICON_CHAT)); }
    subText.textContent = !online && attempt > 0 ? ui.reconnecting :
      convState === "agent" ? (agentName || ui.agent) : convState === "queued" ? ui.waiting_agent : ui.subtitle;
    banner.textContent = ui.reconnecting;
    banner.hidden = online || !session || attempt === 0;
  }

  // ---- messages ------------------------------------------------------------------------------
  const byId = new Map(), pending = new Map(), shownClients = new Set();
  const timeFmt = () => { try { return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }); } catch (e) { return null; } };

  function buildRow(m) {
    const role = m.role || "system";
    const row = el("div", "row " + role);
    if (role === "bot" || role === "agent") {
      const who = el("div", "who"); who.textContent = role === "agent" ? (m.agent_name || agentName || ui.agent) : ui.bot_name;
      row.appendChild(who);
    }
    const bubble = el("div", "bubble", { dir: "auto" }); bubble.textContent = m.text || ""; row.appendChild(bubble);
    if (m.translated) { const mt = el("div", "mt"); mt.textContent = ui.machine_translated || "Machine-translated"; row.appendChild(mt); }
    if (role === "bot" && m.suggestions && m.suggestions.length) {
      const box = el("div", "sugg");
      m.suggestions.forEach((s) => {
        const b = el("button", "", { type: "button", dir: "auto" }); b.textContent = s.question;
        b.addEventListener("click", () => { sendMessage(s.question, s.faq_id); });
        box.appendChild(b);
      });
      row.appendChild(box);
    }
    if (m.created_at && role !== "system") {
      const f = timeFmt(), d = new Date(m.created_at);
      if (f && !isNaN(d)) { const t = el("div", "time"); t.textContent = f.format(d); row.appendChild(t); }
    }
    return row;
  }
  function insertBySeq(row, seq) {
    row.dataset.seq = seq == null ? "" : String(seq);
    if (seq == null) { log.appendChild(row); return; }
    for (const c of log.children) {
      if (c.dataset.seq === "" || Number(c.dataset.seq) > seq) { log.insertBefore(row, c); return; }
    }
    log.appendChild(row);
  }
  function dropPending(clientId) {
    const row = clientId && pending.get(clientId);
    if (row) { row.remove(); pending.delete(clientId); }
  }
  function addMessage(m, isLive) {
    if (!m || !m.id) return false;
    dropPending(m.client_id);
    if (byId.has(m.id)) return false;
    if (m.client_id) shownClients.add(m.client_id);
    if (session && typeof m.seq === "number" && m.seq > (session.last_seq || 0)) { session.last_seq = m.seq; store.set("session", session); }
    // Older servers also stored a "rating_prompt" message; the rating card asks already: ask once.
    if (m.role === "system" && m.code === "rating_prompt") { byId.set(m.id, null); return false; }
    const row = buildRow(m);
    byId.set(m.id, row);
    insertBySeq(row, m.seq);
    if (m.role !== "shopper") {
      log.querySelectorAll(".sugg button").forEach((b) => { if (!row.contains(b)) b.disabled = true; });
    } else {
      log.querySelectorAll(".sugg button").forEach((b) => { b.disabled = true; });
    }
    history.push(m);
    history.sort((a, b) => (a.seq || 0) - (b.seq || 0));
    if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
    store.set("history", history);
    if (m.role !== "shopper") { hideTyping(); if (isLive && !isOpen) { unread++; renderBadge(); } }
    if (m.role === "bot" && m.action === "answer" && (store.get("rated_seq", 0) < m.seq)) offerRating("answer");
    if (m.role === "system" && isLive) maybeNoAgent(m);
    scrollDown();
    return true;
  }
  // The greeting and the store's popular questions: shown (not stored) until the shopper has written.
  function renderGreeting() {
    const old = log.querySelector(".row.greeting");
    if (history.some((m) => m.role === "shopper") || pending.size) return;   // keep what the shopper saw
    if (old) old.remove();                                                     // rebuilt in today's language
    const row = buildRow({ role: "bot", text: ui.greeting });
    row.className = "row greeting";   // looks like the assistant's, but is no stored bot message
    if (popular.length) {
      const box = el("div", "sugg", { role: "group", "aria-label": ui.popular_title });
      const cap = el("p", "sugg-title"); cap.textContent = ui.popular_title; box.appendChild(cap);
      popular.forEach((p) => {
        const b = el("button", "", { type: "button", dir: "auto", "data-faq": p.faq_id }); b.textContent = p.question;
        b.addEventListener("click", () => { sendMessage(p.question, p.faq_id); });
        box.appendChild(b);
      });
      row.insertBefore(box, row.querySelector(".time"));
    }
    insertBySeq(row, 0);
  }
  function addPending(item) {
    if (shownClients.has(item.client_id) || pending.has(item.client_id)) return;   // already stored and shown
    const row = buildRow({ role: "shopper", text: item.text });
    row.classList.add("pending"); row.setAttribute("aria-busy", "true");
    pending.set(item.client_id, row); insertBySeq(row, null); scrollDown();
  }
  function addNotice(text) {
    const row = buildRow({ role: "system", text: text }); insertBySeq(row, null); scrollDown();
  }
  function resetConversation() {
    session = null; history = []; store.del("session"); store.del("history"); store.del("rated_seq"); store.del("email_given");
    byId.clear(); log.textContent = ""; pending.clear(); shownClients.clear();
    outbox.forEach(addPending);
  }
  const scrollDown = () => requestAnimationFrame(() => { scroll.scrollTop = scroll.scrollHeight; });
  const renderBadge = () => { badge.hidden = !unread; badge.textContent = String(unread); };
  function showTyping(role) {
    typingText.textContent = role === "agent" && agentName ? agentName + " · " + ui.typing : ui.typing;
    typing.hidden = false; scrollDown();
    clearTimeout(typingTimer); typingTimer = setTimeout(hideTyping, 8000);
  }
  function hideTyping() { typing.hidden = true; clearTimeout(typingTimer); }

  // ---- rating & email --------------------------------------------------------------------------
  function offerRating(kind) {
    rateOffer = { kind: kind };
    rateText.textContent = kind === "closed" ? ui.rating_prompt : ui.rate_prompt;
    stars.hidden = false; rateCard.hidden = false;
  }
  function rate(score) {
    if (!send({ type: "rating", score: score })) return;
    store.set("rated_seq", (session && session.last_seq) || 0);
    rateOffer = null; stars.hidden = true; rateText.textContent = ui.rate_thanks;
    live.textContent = ui.rate_thanks;
    setTimeout(() => { if (!rateOffer) rateCard.hidden = true; }, 2500);
  }
  function maybeNoAgent(m) {         // system messages carry the ui.yaml key they were made from in `code`
    if (NO_AGENT.includes(m.code) || m.code === "leave_email_prompt") showEmail();
    if (m.code === "email_saved") { store.set("email_given", true); emailCard.hidden = true; }
  }
  function showEmail() {
    if (store.get("email_given", false) || convState === "agent") return;
    emailCard.hidden = false;
  }
  emailCard.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = emailInput.value.trim();
    if (!v || !emailInput.checkValidity()) { emailInput.setAttribute("aria-invalid", "true"); emailInput.focus(); return; }
    emailInput.removeAttribute("aria-invalid");
    if (!send({ type: "email", email: v })) return;
    store.set("email_given", true); emailCard.hidden = true; emailInput.value = "";
    live.textContent = ui.email_saved; input.focus();
  });

  // ---- state -----------------------------------------------------------------------------------
  function setState(state, name) {
    const prev = convState;
    convState = state || "bot"; agentName = name || (convState === "agent" ? agentName : null);
    if (convState !== "queued") emailCard.hidden = true;     // the email form only makes sense while waiting
    if (convState === "closed" && prev !== "closed" && store.get("rated_seq", 0) < ((session && session.last_seq) || 1)) offerRating("closed");
    renderStatus();
  }

  // ---- socket ----------------------------------------------------------------------------------
  function send(frame) {
    if (!ws || ws.readyState !== 1 || !ready) return false;
    try { ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }
  function connect() {
    if (stopped || (ws && ws.readyState <= 1)) return;
    clearTimeout(retryTimer);
    let sock;
    try { sock = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    ws = sock; ready = false; renderStatus();
    sock.onopen = () => {
      const resume = session && session.conversation_id && session.token;
      sock.send(JSON.stringify({
        type: "hello", store_key: STORE_KEY,
        conversation_id: resume ? session.conversation_id : null, token: resume ? session.token : null,
        locale: navigator.language || "en", last_seq: resume && history.length ? (session.last_seq || 0) : 0,
      }));
    };
    sock.onmessage = (ev) => { let f; try { f = JSON.parse(ev.data); } catch (e) { return; } onFrame(f); };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ready = false; clearInterval(pingTimer); hideTyping();
      if (ev.code === 4403) { stopped = true; ws = null; renderStatus(); return; }   // origin not allowed
      if (ev.code === 1012) attempt = 0;   // service restart (docs/protocol.md): another server takes over; no backoff
      if (ev.code === 4401) {
        if (session) { resetConversation(); attempt = 0; connect(); return; }
        stopped = true; ws = null; renderStatus(); return;   // wrong store key: give up quietly
      }
      scheduleReconnect();
    };
    sock.onerror = () => { /* onclose follows */ };
  }
  // The network went away (offline event, or pings unanswered): say so now and reconnect, rather than wait
  // for a close event that can take minutes on a dead connection.
  function dropSocket() {
    const sock = ws;
    clearTimeout(pongTimer);
    if (!sock || stopped) return;
    ws = null; ready = false; clearInterval(pingTimer); hideTyping();
    sock.onclose = null; sock.onmessage = null;
    try { sock.close(); } catch (e) { /* already closing */ }
    scheduleReconnect();
  }
  function ping() {
    if (!send({ type: "ping" })) return;
    clearTimeout(pongTimer); pongTimer = setTimeout(dropSocket, PONG_MS);
  }
  function scheduleReconnect() {
    if (stopped) return;
    const base = Math.min(30000, 500 * Math.pow(2, attempt));
    const delay = base / 2 + Math.random() * base / 2;        // exponential backoff with jitter
    attempt++; renderStatus();
    clearTimeout(retryTimer); retryTimer = setTimeout(connect, delay);
  }
  function onFrame(f) {
    clearTimeout(pongTimer);                                     // any frame proves the connection is alive
    switch (f.type) {
      case "welcome": {
        if (session && session.conversation_id !== f.conversation_id) resetConversation();
        session = { conversation_id: f.conversation_id, token: f.token, last_seq: (session && session.last_seq) || 0 };
        store.set("session", session);
        if (f.ui) { ui = Object.assign({}, DEFAULT_UI, f.ui); store.set("ui", f.ui); }
        if (f.lang) { lang = f.lang; store.set("lang", lang); }
        if (f.dir) { dir = f.dir; store.set("dir", dir); }
        if (attempt > 0) live.textContent = f.ui && f.ui.connected || ui.connected;
        ready = true; attempt = 0;
        popular = Array.isArray(f.popular) ? f.popular : [];
        applyUi();
        (f.messages || []).forEach((m) => addMessage(m, true));
        renderGreeting();
        setState(f.state, f.agent_name);
        if (f.state === "queued" && NO_AGENT.includes(f.reason)) showEmail();
        if (f.state !== "closed" && rateOffer && rateOffer.kind === "closed") { rateOffer = null; rateCard.hidden = true; }
        outbox.forEach((item) => send(Object.assign({ type: "message" }, item)));   // same client_id: stored once
        clearInterval(pingTimer); pingTimer = setInterval(ping, PING_MS);
        break;
      }
      case "ack":
        outbox = outbox.filter((o) => o.client_id !== f.client_id); store.set("outbox", outbox);
        if (f.message) addMessage(f.message, true);
        break;
      case "message": addMessage(f.message, true); break;
      case "typing": if (f.role !== "shopper") showTyping(f.role); break;
      case "state":
        setState(f.state, f.agent_name);
        if (f.state === "queued" && NO_AGENT.includes(f.reason)) showEmail();
        break;
      case "error":
        if (f.reason === "bad_email") { store.del("email_given"); emailCard.hidden = false; emailInput.setAttribute("aria-invalid", "true"); emailInput.focus(); break; }
        if (f.client_id && f.code === "rate_limited") {                  // keep it in the outbox; try again soon
          clearTimeout(resendTimer);
          resendTimer = setTimeout(() => outbox.forEach((item) => send(Object.assign({ type: "message" }, item))), 8000);
          break;
        }
        if (f.client_id) {                                                // refused for good (empty, too long...)
          outbox = outbox.filter((o) => o.client_id !== f.client_id); store.set("outbox", outbox);
          const row = pending.get(f.client_id);
          if (row) { row.classList.add("failed"); row.classList.remove("pending"); row.removeAttribute("aria-busy"); pending.delete(f.client_id); }
          addNotice(ui.send_failed);
        }
        break;
      default: break;                                            // pong and future frames
    }
  }

  // ---- composer --------------------------------------------------------------------------------
  function sendMessage(text, faqId) {
    text = String(text || "").trim().slice(0, MAX_CHARS);
    if (!text) return;
    const item = { client_id: uuid(), text: text };
    if (faqId) item.faq_id = faqId;
    outbox.push(item); store.set("outbox", outbox);
    addPending(item);
    log.querySelectorAll(".sugg button").forEach((b) => { b.disabled = true; });
    if (rateOffer && rateOffer.kind === "answer") { rateOffer = null; rateCard.hidden = true; }
    if (!send(Object.assign({ type: "message" }, item))) connect();   // stays in the outbox until acked
  }
  compose.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = input.value; if (!v.trim()) return;
    input.value = ""; autosize(); sendMessage(v); input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); compose.requestSubmit ? compose.requestSubmit() : compose.dispatchEvent(new Event("submit")); }
  });
  const autosize = () => { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight + 2, 120) + "px"; sendBtn.disabled = !input.value.trim(); };
  input.addEventListener("input", () => {
    autosize();
    const now = Date.now(); if (now - lastTypingSent > 3000) { lastTypingSent = now; send({ type: "typing" }); }
  });

  // ---- open / close, keyboard ------------------------------------------------------------------
  function setOpen(open, focusLauncher) {
    isOpen = open; panel.hidden = !open; wrap.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? ui.close_chat : ui.open_chat);
    launcher.replaceChildren(svg(open ? ICON_CLOSE : ICON_CHAT), badge);
    store.set("open", open);
    if (open) { unread = 0; renderBadge(); connect(); scrollDown(); setTimeout(() => input.focus(), 30); }
    else if (focusLauncher) launcher.focus();
  }
  launcher.addEventListener("click", () => setOpen(!isOpen, false));
  closeBtn.addEventListener("click", () => setOpen(false, true));
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); setOpen(false, true); } });
  window.addEventListener("online", () => { if (!ready) { attempt = 0; connect(); } });
  window.addEventListener("offline", dropSocket);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && session && !ready) connect(); });

  // ---- boot ------------------------------------------------------------------------------------
  function boot() {
    document.body.appendChild(host);
    applyUi(); autosize();
    const cached = history; history = [];
    cached.forEach((m) => addMessage(m, false));
    outbox.forEach(addPending);
    if (session || outbox.length) connect();                 // resume; new visitors connect on first open
    if (store.get("open", false) || script.getAttribute("data-open") === "true") setOpen(true, false);
  }
  window.__borderless = { open: () => setOpen(true), close: () => setOpen(false), reset: () => { resetConversation(); if (ws) ws.close(); } };
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
