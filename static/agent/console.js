/*
 * The agents' live chat console (templates/channels_app/agent_console.html): presence, the waiting queue,
 * offers, the agent's chats and one open transcript, over the agent socket of docs/chat-protocol.md.
 * Every word it shows comes from the template (translated by Django). Plain ES2020, no build step.
 */
(() => {
  "use strict";

  const HEARTBEAT_MS = 30000;
  const TYPING_SEND_EVERY_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  const TYPING_SHOWN_MS = 7000;
  const PRESENCE_KEY = "helpdesk-console-presence";

  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("console-config").textContent);
  const me = { id: config.me && config.me.id, name: (config.me && config.me.name) || "" };
  const pageLanguage = document.documentElement.lang || undefined;

  const strings = {};
  for (const span of $("console-strings").querySelectorAll("[data-key]")) {
    strings[span.dataset.key] = span.textContent.trim();
  }

  /** A string of the template, with its %(name)s placeholders filled in. */
  function t(key, values = {}) {
    const text = strings[key] || key;
    return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  const ui = {
    root: $("chat-console"),
    connection: $("cc-connection"),
    enableNotifications: $("cc-enable-notifications"),
    notificationsStatus: $("cc-notifications-status"),
    queue: $("cc-queue"),
    queueCount: $("cc-queue-count"),
    queueEmpty: $("cc-queue-empty"),
    mine: $("cc-mine"),
    mineCount: $("cc-mine-count"),
    mineEmpty: $("cc-mine-empty"),
    placeholder: $("cc-placeholder"),
    chat: $("cc-chat"),
    title: $("cc-chat-title"),
    meta: $("cc-chat-meta"),
    ticketLink: $("cc-ticket-link"),
    acceptOpen: $("cc-accept-open"),
    transfer: $("cc-transfer"),
    transferTarget: $("cc-transfer-target"),
    transferAgents: $("cc-transfer-agents"),
    transferTeams: $("cc-transfer-teams"),
    end: $("cc-end"),
    endConfirm: $("cc-end-confirm"),
    endYes: $("cc-end-yes"),
    endNo: $("cc-end-no"),
    summary: $("cc-summary"),
    summaryText: $("cc-summary-text"),
    notice: $("cc-chat-notice"),
    transcript: $("cc-transcript"),
    typing: $("cc-typing"),
    reply: $("cc-reply"),
    text: $("cc-text"),
    textLabel: $("cc-text-label"),
    send: $("cc-send"),
    error: $("cc-reply-error"),
    live: $("cc-live"),
  };

  const state = {
    socket: null,
    ready: false, // `hello` arrived on the current socket
    attempts: 0,
    stopped: false,
    reconnectTimer: 0,
    heartbeatTimer: 0,
    queue: [],
    knownWaiting: null, // tickets already announced as waiting (null until the first hello)
    mine: new Map(), // ticket -> chat
    chats: new Map(), // ticket -> the latest chat summary seen, from any frame
    selected: null,
    transcripts: new Map(), // ticket -> {items: Map seq -> message, pending: Map client_id -> message, lastSeq}
    readSent: new Map(), // ticket -> seq
    unread: new Set(),
    acceptRequested: new Set(),
    typingSentAt: 0,
    typingIdleTimer: 0,
    customerTypingTimer: 0,
    readTimer: 0,
    audio: null,
  };

  const baseTitle = document.title;

  // --- Small helpers --------------------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
    return node;
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function safeUrl(value) {
    try {
      const url = new URL(String(value), window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function linkified(text) {
    const fragment = document.createDocumentFragment();
    const pattern = /https?:\/\/[^\s<>"'）」]+[^\s<>"'）」.,;:!?。、]/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      fragment.append(text.slice(last, match.index));
      const href = safeUrl(match[0]);
      fragment.append(href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: match[0] }) : match[0]);
      last = match.index + match[0].length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function clock(value) {
    const date = value ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) return null;
    const label = date.toLocaleTimeString(pageLanguage, { hour: "2-digit", minute: "2-digit" });
    return el("time", { datetime: date.toISOString(), title: date.toLocaleString(pageLanguage), text: label });
  }

  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
  }

  function customerName(chat) {
    return (chat && chat.customer && chat.customer.name) || t("visitor");
  }

  function isMine(chat) {
    return Boolean(chat && chat.assignee && chat.assignee.id === me.id);
  }

  function ticketUrl(ticket) {
    const template = config.ticket_url || "/tickets/0/";
    return template.replace(/0(\/?)$/, `${ticket}$1`);
  }

  function announce(text) {
    ui.live.append(el("p", { text }));
    while (ui.live.childElementCount > 5) ui.live.firstElementChild.remove();
  }

  function waitingSince(chat) {
    const queued = chat.queued_at ? Date.parse(chat.queued_at) : NaN;
    if (!Number.isNaN(queued)) return queued;
    if (Number.isFinite(chat.waiting_seconds)) return Date.now() - chat.waiting_seconds * 1000;
    return null;
  }

  // --- The socket ---------------------------------------------------------------------------------

  function socketUrl() {
    const url = new URL(config.ws_url || "/ws/agent/", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = 0;
    if (state.socket || state.stopped) return;
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    state.ready = false;
    socket.addEventListener("message", (event) => {
      if (state.socket !== socket || typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") handleFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.ready = false;
      clearInterval(state.heartbeatTimer);
      if (event.code === 4403) {
        state.stopped = true;
        setConnection(t("forbidden"), "error");
        return;
      }
      setConnection(t("reconnecting"), "error");
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.stopped || state.reconnectTimer) return;
    const backoff = Math.min(30000, 1000 * 2 ** state.attempts);
    const delay = Math.min(30000, backoff * (0.75 + Math.random() * 0.5));
    state.attempts += 1;
    state.reconnectTimer = setTimeout(() => {
      state.reconnectTimer = 0;
      connect();
    }, delay);
  }

  function send(frame) {
    if (!state.ready || !state.socket || state.socket.readyState !== WebSocket.OPEN) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  function setConnection(text, kind) {
    ui.connection.textContent = text;
    ui.connection.dataset.kind = kind || "";
  }

  // --- Frames ---------------------------------------------------------------------------------------

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello":
        return onHello(frame);
      case "queue":
        return onQueue(frame.queue);
      case "offer":
        return onOffer(frame.chat);
      case "chat":
        return onChat(frame.chat);
      case "gone":
        return onGone(frame.ticket);
      case "message":
        return onMessage(frame);
      case "typing":
        return onTyping(frame);
      case "read":
        return onRead(frame);
      case "resynced":
        return onResynced(frame);
      case "error":
        return onError(frame);
      default:
        return undefined;
    }
  }

  function onHello(frame) {
    state.ready = true;
    state.attempts = 0;
    setConnection(t("connected"), "ok");
    if (frame.agent) {
      me.id = frame.agent.id ?? me.id;
      me.name = frame.agent.name || me.name;
    }
    const wanted = storedPresence();
    if (wanted === "away" && frame.agent && frame.agent.presence !== "away") send({ type: "presence", presence: "away" });
    showPresence(wanted || (frame.agent && frame.agent.presence) || "online");
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = setInterval(() => send({ type: "heartbeat" }), HEARTBEAT_MS);

    state.mine.clear();
    for (const chat of Array.isArray(frame.chats) ? frame.chats : []) {
      remember(chat);
      state.mine.set(chat.ticket, chat);
    }
    const firstHello = state.knownWaiting === null;
    onQueue(Array.isArray(frame.queue) ? frame.queue : [], { quiet: firstHello });
    renderMine();
    if (state.selected !== null) {
      const transcript = transcriptOf(state.selected);
      send({ type: "open", ticket: state.selected, after_seq: transcript.lastSeq });
      flushPending(state.selected);
      renderChat();
    }
  }

  function remember(chat) {
    if (chat && chat.ticket !== undefined) state.chats.set(chat.ticket, { ...state.chats.get(chat.ticket), ...chat });
  }

  function onQueue(queue, { quiet = false } = {}) {
    state.queue = (Array.isArray(queue) ? queue : []).filter((chat) => chat && chat.ticket !== undefined);
    const known = state.knownWaiting || new Set();
    const fresh = [];
    for (const chat of state.queue) {
      remember(chat);
      if (!known.has(chat.ticket)) fresh.push(chat);
    }
    state.knownWaiting = new Set(state.queue.map((chat) => chat.ticket));
    if (!quiet && fresh.length) {
      for (const chat of fresh) {
        announce(t("new_waiting_chat", { name: customerName(chat) }));
        notify(t("waiting_title"), customerName(chat) + (chat.summary ? ` — ${chat.summary}` : ""), chat.ticket);
      }
      ring();
    }
    renderQueue();
    if (state.selected !== null) renderChatHeader();
  }

  function onOffer(chat) {
    if (!chat || chat.ticket === undefined) return;
    remember(chat);
    if (!state.queue.some((waiting) => waiting.ticket === chat.ticket)) state.queue.push(chat);
    else state.queue = state.queue.map((waiting) => (waiting.ticket === chat.ticket ? { ...waiting, ...chat } : waiting));
    if (state.knownWaiting) state.knownWaiting.add(chat.ticket);
    announce(`${t("offer_title")}: ${customerName(chat)}`);
    notify(t("offer_title"), customerName(chat) + (chat.summary ? ` — ${chat.summary}` : ""), chat.ticket);
    ring();
    renderQueue();
  }

  function onChat(chat) {
    if (!chat || chat.ticket === undefined) return;
    const before = state.chats.get(chat.ticket);
    remember(chat);
    const current = state.chats.get(chat.ticket);
    if (isMine(current)) state.mine.set(chat.ticket, current);
    else state.mine.delete(chat.ticket);
    if (current.state !== "queued") state.queue = state.queue.filter((waiting) => waiting.ticket !== chat.ticket);
    const lastBefore = before && before.last_message && before.last_message.created_at;
    const last = current.last_message;
    if (last && last.author_type === "customer" && last.created_at !== lastBefore && chat.ticket !== state.selected) {
      state.unread.add(chat.ticket);
      ring();
    }
    if (state.acceptRequested.has(chat.ticket) && isMine(current)) {
      state.acceptRequested.delete(chat.ticket);
      select(chat.ticket, { focusReply: true });
    }
    renderQueue();
    renderMine();
    if (chat.ticket === state.selected) renderChatHeader();
  }

  /** The chat went out of this agent's sight (transferred to a team they are not in): forget it. */
  function onGone(ticket) {
    if (ticket === undefined) return;
    state.queue = state.queue.filter((waiting) => waiting.ticket !== ticket);
    if (state.knownWaiting) state.knownWaiting.delete(ticket);
    state.mine.delete(ticket);
    state.chats.delete(ticket);
    state.transcripts.delete(ticket);
    state.unread.delete(ticket);
    state.acceptRequested.delete(ticket);
    if (state.selected === ticket) {
      stopTyping();
      hideCustomerTyping();
      state.selected = null;
      ui.transcript.replaceChildren();
      ui.chat.hidden = true;
      ui.placeholder.hidden = false;
      announce(t("chat_gone"));
    }
    renderQueue();
    renderMine();
  }

  function transcriptOf(ticket) {
    let transcript = state.transcripts.get(ticket);
    if (!transcript) {
      transcript = { items: new Map(), pending: new Map(), lastSeq: 0, customerReadSeq: 0 };
      state.transcripts.set(ticket, transcript);
    }
    return transcript;
  }

  /** The console's id for a message it sent: the frame's, or the tail of the stored external id. */
  function clientIdOf(frame, message) {
    if (frame.client_id) return String(frame.client_id);
    if (message.client_id) return String(message.client_id);
    const external = String(message.external_id || "");
    return /^chat-(agent|note):/.test(external) ? external.slice(external.lastIndexOf(":") + 1) : null;
  }

  function onMessage(frame) {
    const message = frame.message;
    if (!message || !Number.isInteger(message.seq) || frame.ticket === undefined) return;
    const transcript = transcriptOf(frame.ticket);
    const repeat = transcript.items.has(message.seq);
    const clientId = clientIdOf(frame, message);
    const mine = clientId ? transcript.pending.get(clientId) : null;
    if (mine) {
      transcript.pending.delete(clientId);
      nodes.delete(mine);
    }
    transcript.items.set(message.seq, { ...message, status: "sent" });
    transcript.lastSeq = Math.max(transcript.lastSeq, message.seq);
    const fromCustomer = message.author_type === "customer";
    if (!repeat && fromCustomer) {
      if (frame.ticket === state.selected) {
        hideCustomerTyping();
        announce(t("new_message_from", { name: authorName(message), text: message.body_text || t("attachment") }));
        if (document.hidden) {
          notify(authorName(message), message.body_text || t("attachment"), frame.ticket);
          ring();
        }
      } else {
        state.unread.add(frame.ticket);
        renderMine();
      }
    }
    if (frame.ticket === state.selected) {
      renderTranscript();
      readSoon();
    }
  }

  function onTyping(frame) {
    if (frame.ticket !== state.selected) return;
    clearTimeout(state.customerTypingTimer);
    if (!frame.typing) {
      hideCustomerTyping();
      return;
    }
    ui.typing.textContent = t("typing", { name: customerName(state.chats.get(frame.ticket)) });
    ui.typing.hidden = false;
    state.customerTypingTimer = setTimeout(hideCustomerTyping, TYPING_SHOWN_MS);
  }

  function hideCustomerTyping() {
    clearTimeout(state.customerTypingTimer);
    ui.typing.hidden = true;
  }

  function onRead(frame) {
    if (!Number.isInteger(frame.seq) || frame.ticket === undefined) return;
    const transcript = transcriptOf(frame.ticket);
    transcript.customerReadSeq = Math.max(transcript.customerReadSeq, frame.seq);
    if (frame.ticket === state.selected) renderTranscript();
  }

  function onResynced(frame) {
    if (frame.complete === false && frame.ticket === state.selected && Number.isInteger(frame.last_seq)) {
      send({ type: "open", ticket: frame.ticket, after_seq: frame.last_seq });
    }
  }

  function onError(frame) {
    const detail = frame.detail || frame.code || "";
    if (frame.ticket !== undefined && frame.client_id) {
      const item = transcriptOf(frame.ticket).pending.get(frame.client_id);
      if (item) {
        item.status = "failed";
        item.error = detail;
      }
    }
    if (frame.ticket !== undefined) state.acceptRequested.delete(frame.ticket);
    if (frame.ticket === undefined || frame.ticket === null || frame.ticket === state.selected) {
      showError(detail);
      renderTranscript();
    } else {
      announce(detail);
    }
  }

  // --- Lists ----------------------------------------------------------------------------------------

  /** Rebuilds a list, then puts the focus back on the same control if it was inside. */
  function rebuild(list, children) {
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    list.replaceChildren(...children);
    if (focused) {
      const again = list.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
      if (again) {
        again.focus();
      } else {
        // The control left with its chat (accepted, gone): keep the focus in the same section.
        const heading = list.closest("section").querySelector("h2");
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    }
  }

  function chatItem(chat, { waiting }) {
    const offered = waiting && chat.offered_to !== null && chat.offered_to !== undefined && chat.offered_to === me.id;
    const selected = chat.ticket === state.selected;
    const name = customerName(chat);
    const item = el("li", {
      class: `cc-item${offered ? " cc-offered" : ""}${selected ? " cc-selected" : ""}`,
      "data-ticket": String(chat.ticket),
    });
    const open = el(
      "button",
      {
        type: "button",
        class: "cc-item-open",
        "data-focus-key": `open-${chat.ticket}`,
        "aria-current": selected ? "true" : null,
        onclick: () => select(chat.ticket, { focusReply: !waiting }),
      },
      el("span", { class: "cc-item-name", text: name }),
      waiting ? el("span", { class: "sr-only", text: ` (${t("preview")})` }) : null,
    );
    const line = el("div", { class: "cc-item-line" }, open);
    if (chat.language) {
      const languageName = t(`language_${chat.language}`);
      line.append(el("span", { class: "cc-lang", title: languageName, "aria-label": languageName, text: chat.language.toUpperCase() }));
    }
    if (!waiting && state.unread.has(chat.ticket)) line.append(el("span", { class: "cc-unread", "aria-hidden": "true" }));
    item.append(line);

    if (waiting) {
      const since = waitingSince(chat);
      if (since !== null) {
        item.append(el("p", { class: "cc-wait", "data-since": String(since), text: waitLabel(since) }));
      }
    } else if (chat.state && chat.state !== "agent") {
      item.append(el("p", { class: `cc-state cc-state-${chat.state}`, text: t(`state_${chat.state}`) }));
    }
    const about = chat.summary || (chat.last_message && chat.last_message.text) || chat.subject || "";
    if (about) item.append(el("p", { class: "cc-item-about", text: about }));
    if (offered) item.append(el("p", { class: "cc-offer-label", text: t("offered_to_you") }));
    if (waiting) {
      const actions = el(
        "div",
        { class: "cc-item-actions" },
        el(
          "button",
          { type: "button", "data-focus-key": `accept-${chat.ticket}`, onclick: () => accept(chat.ticket) },
          t("accept"),
          el("span", { class: "sr-only", text: ` ${name}` }),
        ),
      );
      if (offered) {
        actions.append(
          el(
            "button",
            {
              type: "button",
              class: "cc-secondary",
              "data-focus-key": `decline-${chat.ticket}`,
              onclick: () => send({ type: "decline", ticket: chat.ticket }),
            },
            t("decline"),
            el("span", { class: "sr-only", text: ` ${name}` }),
          ),
        );
      }
      item.append(actions);
    }
    return item;
  }

  function waitLabel(since) {
    return t("waiting_for", { time: duration((Date.now() - since) / 1000) });
  }

  function renderQueue() {
    const offeredFirst = [...state.queue].sort(
      (a, b) => Number(b.offered_to === me.id) - Number(a.offered_to === me.id),
    );
    rebuild(ui.queue, offeredFirst.map((chat) => chatItem(chat, { waiting: true })));
    ui.queueCount.textContent = String(state.queue.length);
    ui.queueEmpty.hidden = state.queue.length > 0;
    document.title = state.queue.length ? `(${state.queue.length}) ${baseTitle}` : baseTitle;
  }

  function renderMine() {
    const chats = [...state.mine.values()];
    rebuild(ui.mine, chats.map((chat) => chatItem(chat, { waiting: false })));
    ui.mineCount.textContent = String(chats.filter((chat) => chat.state !== "ended").length);
    ui.mineEmpty.hidden = chats.length > 0;
  }

  function tick() {
    for (const node of document.querySelectorAll(".cc-wait[data-since]")) {
      node.textContent = waitLabel(Number(node.dataset.since));
    }
  }

  // --- The open chat ------------------------------------------------------------------------------

  function select(ticket, { focusReply = false } = {}) {
    if (state.selected !== ticket) {
      stopTyping();
      if (state.selected !== null) send({ type: "close_view", ticket: state.selected });
      state.selected = ticket;
      hideCustomerTyping();
      showError("");
      ui.endConfirm.hidden = true;
      ui.end.hidden = false;
      ui.transcript.replaceChildren();
      const transcript = transcriptOf(ticket);
      send({ type: "open", ticket, after_seq: transcript.lastSeq });
    }
    state.unread.delete(ticket);
    ui.placeholder.hidden = true;
    ui.chat.hidden = false;
    renderChat();
    renderQueue();
    renderMine();
    readSoon();
    if (focusReply) ui.text.focus();
  }

  function renderChat() {
    renderChatHeader();
    renderTranscript();
  }

  function renderChatHeader() {
    const ticket = state.selected;
    if (ticket === null) return;
    const chat = state.chats.get(ticket) || { ticket };
    ui.title.textContent = `${customerName(chat)}${chat.subject ? ` — ${chat.subject}` : ""}`;
    const meta = [];
    if (chat.state) meta.push(t(`state_${chat.state}`));
    if (chat.customer && chat.customer.email) meta.push(chat.customer.email);
    if (chat.language) meta.push(t(`language_${chat.language}`));
    if (chat.team && chat.team.name) meta.push(`${t("team")}: ${chat.team.name}`);
    ui.meta.replaceChildren(meta.join(" · "));
    const page = chat.page && safeUrl(chat.page);
    if (page) {
      ui.meta.append(" · ", `${t("page")}: `, el("a", { href: page, target: "_blank", rel: "noopener noreferrer", text: chat.page }));
    }
    ui.ticketLink.href = ticketUrl(ticket);
    ui.summary.hidden = !chat.summary;
    ui.summaryText.textContent = chat.summary || "";

    const mine = isMine(chat);
    ui.acceptOpen.hidden = chat.state !== "queued";
    ui.end.disabled = chat.state === "ended";
    ui.transfer.querySelector("button").disabled = chat.state === "ended";
    const replyRadio = ui.reply.querySelector('input[value="message"]');
    replyRadio.disabled = !mine;
    if (!mine && replyRadio.checked) ui.reply.querySelector('input[value="note"]').checked = true;
    let notice = "";
    if (chat.state === "ended") notice = t("chat_ended");
    else if (!mine) notice = t("not_your_chat");
    ui.notice.textContent = notice;
    ui.notice.hidden = !notice;
    if (Number.isInteger(chat.customer_read_seq)) {
      const transcript = transcriptOf(ticket);
      transcript.customerReadSeq = Math.max(transcript.customerReadSeq, chat.customer_read_seq);
    }
    applyMode();
  }

  const nodes = new Map(); // message -> <li>

  function renderTranscript() {
    const ticket = state.selected;
    if (ticket === null) return;
    const transcript = transcriptOf(ticket);
    const ordered = [
      ...[...transcript.items.values()].sort((a, b) => a.seq - b.seq),
      ...transcript.pending.values(),
    ];
    const lastSeenReply = ordered
      .filter((message) => message.seq && message.kind === "message" && message.author_type === "agent")
      .filter((message) => message.seq <= transcript.customerReadSeq)
      .pop();
    const list = ui.transcript;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const wanted = ordered.map((message) => {
      let node = nodes.get(message);
      if (!node) {
        node = messageNode(message);
        nodes.set(message, node);
      }
      updateMessageStatus(node, message, message === lastSeenReply);
      return node;
    });
    const keep = new Set(wanted);
    for (const child of Array.from(list.children)) if (!keep.has(child)) child.remove();
    wanted.forEach((node, index) => {
      if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
    });
    for (const [message, node] of nodes) if (!node.isConnected) nodes.delete(message);
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  function authorName(message) {
    if (message.author_type === "bot") return t("bot");
    if (message.author_type === "system") return t("system");
    const name = message.author && message.author.name;
    if (message.author_type === "customer") return name || customerName(state.chats.get(state.selected));
    if (message.author && message.author.id === me.id) return `${name || me.name} (${t("you")})`;
    return name || t("system");
  }

  function messageNode(message) {
    const kind = message.kind === "note" ? "note" : message.kind === "event" ? "event" : "message";
    const author = ["customer", "agent", "bot", "system"].includes(message.author_type) ? message.author_type : "system";
    const node = el("li", { class: `cc-msg cc-${author} cc-kind-${kind}` });
    if (message.seq) node.dataset.seq = String(message.seq);
    if (kind === "event") {
      node.append(el("p", { class: "cc-event-text", text: message.event_text || message.body_text || message.event || "" }));
      const time = clock(message.created_at);
      if (time) node.append(el("p", { class: "cc-msg-meta" }, time));
      return node;
    }
    const head = el("p", { class: "cc-msg-author" }, el("span", { text: authorName(message) }));
    if (kind === "note") head.append(el("strong", { class: "cc-note-label", text: t("internal_note") }));
    node.append(head);
    const body = el("div", { class: "cc-msg-body" });
    if (message.body_text) body.append(linkified(message.body_text));
    for (const attachment of message.attachments || []) {
      const href = safeUrl(attachment.url);
      const name = attachment.filename || attachment.name || t("attachment");
      if (!href) continue;
      const image = String(attachment.content_type || "").startsWith("image/");
      body.append(
        el(
          "a",
          { class: "cc-attachment", href, target: "_blank", rel: "noopener noreferrer" },
          image ? el("img", { src: href, alt: name, loading: "lazy" }) : name,
        ),
      );
    }
    const suggestions = (message.data && Array.isArray(message.data.suggestions) && message.data.suggestions) || [];
    if (suggestions.length) {
      const list = el("ul", { class: "cc-suggestions" });
      for (const suggestion of suggestions) {
        const href = suggestion && safeUrl(suggestion.url);
        if (href) list.append(el("li", {}, el("a", { href, target: "_blank", rel: "noopener noreferrer", text: suggestion.title || href })));
      }
      body.append(list);
    }
    node.append(body, el("p", { class: "cc-msg-meta" }));
    return node;
  }

  function updateMessageStatus(node, message, seen) {
    const meta = node.querySelector(".cc-msg-meta");
    if (!meta || node.classList.contains("cc-kind-event")) return;
    const key = `${message.status}|${message.error || ""}|${seen}`;
    if (node.dataset.status === key) return;
    node.dataset.status = key;
    node.classList.toggle("cc-sending", message.status === "sending");
    node.classList.toggle("cc-failed", message.status === "failed");
    meta.replaceChildren();
    const time = clock(message.created_at);
    if (time) meta.append(time);
    if (message.status === "sending") meta.append(el("span", { text: t("sending") }));
    if (message.status === "failed") {
      meta.append(el("span", { class: "cc-failed-text", text: `${t("not_sent")}${message.error ? `: ${message.error}` : ""}` }));
      meta.append(el("button", { type: "button", class: "cc-link", text: t("retry"), onclick: () => retry(message) }));
    }
    if (seen) meta.append(el("span", { class: "cc-seen", text: t("seen_by_customer") }));
  }

  function readSoon() {
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(sendRead, 300);
  }

  function sendRead() {
    const ticket = state.selected;
    if (ticket === null || document.visibilityState !== "visible") return;
    const seq = transcriptOf(ticket).lastSeq;
    if (seq > (state.readSent.get(ticket) || 0) && send({ type: "read", ticket, seq })) state.readSent.set(ticket, seq);
  }

  // --- What the agent does ------------------------------------------------------------------------

  function accept(ticket) {
    state.acceptRequested.add(ticket);
    send({ type: "accept", ticket });
  }

  function mode() {
    const checked = ui.reply.querySelector('input[name="cc-mode"]:checked');
    return checked ? checked.value : "message";
  }

  function applyMode() {
    const note = mode() === "note";
    ui.reply.classList.toggle("cc-note-mode", note);
    ui.text.placeholder = note ? t("note_placeholder") : t("reply_placeholder");
    ui.send.textContent = note ? t("save_note") : t("send_reply");
    ui.textLabel.textContent = note ? t("note_label") : t("reply_label");
  }

  function submitReply() {
    const ticket = state.selected;
    const text = ui.text.value.trim();
    if (ticket === null || !text) return;
    const type = mode() === "note" ? "note" : "message";
    const item = {
      client_id: newClientId(),
      kind: type,
      author_type: "agent",
      author: { id: me.id, name: me.name },
      body_text: text,
      attachments: [],
      created_at: new Date().toISOString(),
      status: "sending",
    };
    transcriptOf(ticket).pending.set(item.client_id, item);
    item.ticket = ticket;
    send({ type, ticket, client_id: item.client_id, text });
    showError("");
    ui.text.value = "";
    stopTyping();
    renderTranscript();
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  function retry(item) {
    item.status = "sending";
    item.error = undefined;
    send({ type: item.kind === "note" ? "note" : "message", ticket: item.ticket, client_id: item.client_id, text: item.body_text });
    renderTranscript();
  }

  /** Unsent replies of a chat, again after a reconnect (a resend with the same client_id is stored once). */
  function flushPending(ticket) {
    for (const item of transcriptOf(ticket).pending.values()) {
      if (item.status === "sending") {
        send({ type: item.kind === "note" ? "note" : "message", ticket, client_id: item.client_id, text: item.body_text });
      }
    }
  }

  function onTextInput() {
    // Notes are for the team: the customer must not see "typing…" for them.
    if (mode() !== "message" || state.selected === null) return;
    if (!ui.text.value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - state.typingSentAt > TYPING_SEND_EVERY_MS) {
      if (send({ type: "typing", ticket: state.selected, typing: true })) state.typingSentAt = now;
    }
    clearTimeout(state.typingIdleTimer);
    state.typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingIdleTimer);
    if (!state.typingSentAt || state.selected === null) return;
    state.typingSentAt = 0;
    send({ type: "typing", ticket: state.selected, typing: false });
  }

  function showError(text) {
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }

  function storedPresence() {
    try {
      return window.localStorage.getItem(PRESENCE_KEY);
    } catch {
      return null;
    }
  }

  function showPresence(presence) {
    const radio = document.querySelector(`input[name="presence"][value="${presence === "away" ? "away" : "online"}"]`);
    if (radio) radio.checked = true;
  }

  function fillTransferTargets() {
    for (const agent of config.agents || []) {
      if (agent.id === me.id) continue;
      ui.transferAgents.append(el("option", { value: `agent:${agent.id}`, text: agent.name }));
    }
    for (const team of config.teams || []) {
      ui.transferTeams.append(el("option", { value: `team:${team.id}`, text: team.name }));
    }
    ui.transferAgents.hidden = !ui.transferAgents.childElementCount;
    ui.transferTeams.hidden = !ui.transferTeams.childElementCount;
  }

  // --- Notifications and sound ----------------------------------------------------------------------

  function updateNotificationControls() {
    const supported = "Notification" in window;
    ui.enableNotifications.hidden = !supported || Notification.permission !== "default";
    if (supported && Notification.permission === "denied") ui.notificationsStatus.textContent = t("notifications_blocked");
  }

  async function enableNotifications() {
    unlockAudio();
    if (!("Notification" in window)) return;
    const permission = await Notification.requestPermission();
    updateNotificationControls();
    ui.notificationsStatus.textContent = permission === "granted" ? t("notifications_on") : t("notifications_blocked");
  }

  function notify(title, body, ticket) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (!document.hidden && document.hasFocus()) return; // the page itself shows it
    try {
      const notification = new Notification(title, { body, tag: `helpdesk-chat-${ticket}`, lang: pageLanguage });
      notification.addEventListener("click", () => {
        window.focus();
        select(ticket);
        notification.close();
      });
    } catch {
      // Some browsers only allow notifications from a service worker: the sound and title still tell.
    }
  }

  /** Browsers start audio only after a gesture: the first click or key press on the page creates it. */
  function unlockAudio() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    if (!state.audio) state.audio = new AudioContext();
    if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
  }

  function ring() {
    const audio = state.audio;
    if (!audio || audio.state !== "running") return;
    const start = audio.currentTime + 0.02;
    [880, 660].forEach((frequency, index) => {
      const at = start + index * 0.16;
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.15);
    });
  }

  // --- Start ----------------------------------------------------------------------------------------

  function start() {
    fillTransferTargets();
    updateNotificationControls();
    applyMode();
    renderQueue();
    renderMine();

    for (const radio of document.querySelectorAll('input[name="presence"]')) {
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        try {
          window.localStorage.setItem(PRESENCE_KEY, radio.value);
        } catch {
          // remembered for this page only
        }
        send({ type: "presence", presence: radio.value });
      });
    }
    for (const radio of ui.reply.querySelectorAll('input[name="cc-mode"]')) {
      radio.addEventListener("change", () => {
        if (mode() === "note") stopTyping();
        applyMode();
        ui.text.focus();
      });
    }
    ui.enableNotifications.addEventListener("click", enableNotifications);
    document.addEventListener("pointerdown", unlockAudio, { passive: true });
    document.addEventListener("keydown", unlockAudio);

    ui.reply.addEventListener("submit", (event) => {
      event.preventDefault();
      submitReply();
    });
    ui.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submitReply();
      }
    });
    ui.text.addEventListener("input", onTextInput);
    ui.text.addEventListener("blur", stopTyping);

    ui.acceptOpen.addEventListener("click", () => state.selected !== null && accept(state.selected));
    ui.transfer.addEventListener("submit", (event) => {
      event.preventDefault();
      const [kind, id] = ui.transferTarget.value.split(":");
      if (!kind || !id || state.selected === null) {
        showError(t("pick_target"));
        return;
      }
      const frame = { type: "transfer", ticket: state.selected };
      frame[kind === "team" ? "team" : "agent"] = Number(id);
      if (send(frame)) {
        showError("");
        ui.transferTarget.value = "";
        announce(t("transferred"));
        ui.notice.textContent = t("transferred");
        ui.notice.hidden = false;
      }
    });
    ui.end.addEventListener("click", () => {
      ui.end.hidden = true;
      ui.endConfirm.hidden = false;
      ui.endYes.focus();
    });
    ui.endNo.addEventListener("click", () => {
      ui.endConfirm.hidden = true;
      ui.end.hidden = false;
      ui.end.focus();
    });
    ui.endYes.addEventListener("click", () => {
      if (state.selected !== null) send({ type: "end", ticket: state.selected });
      ui.endConfirm.hidden = true;
      ui.end.hidden = false;
      ui.text.focus();
    });

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      sendRead();
      if (!state.socket && state.reconnectTimer && !state.stopped) {
        state.attempts = 0;
        connect();
      }
    });
    window.addEventListener("online", () => {
      if (!state.socket && !state.stopped) {
        state.attempts = 0;
        connect();
      }
    });
    setInterval(tick, 1000);
    connect();
  }

  start();
})();
