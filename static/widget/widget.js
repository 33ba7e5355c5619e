/*
 * Helpdesk chat widget. Embedded with one tag:
 *   <script src="https://help.example.com/static/widget/widget.js" data-helpdesk-key="PUBLIC_KEY" async></script>
 * Speaks the widget socket of docs/chat-protocol.md ("Live chat"); docs/widget.md explains embedding.
 * Everything lives in a shadow root so the host page's CSS and ours never meet. Plain ES2020, no build step.
 */
(() => {
  "use strict";

  const LOADED = Symbol.for("helpdesk-chat-widget");
  if (window[LOADED]) return; // the tag was pasted twice
  const script = document.currentScript || document.querySelector("script[data-helpdesk-key]");
  const widgetKey = script && script.dataset.helpdeskKey;
  if (!widgetKey) {
    console.warn("Helpdesk chat: the script tag needs a data-helpdesk-key attribute.");
    return;
  }
  window[LOADED] = true;

  const MAX_FRAME_BYTES = 64 * 1024;
  const MAX_TEXT = 10000;
  const MAX_CACHED_ITEMS = 300;
  // Attachment links are signed for a day from when they were sent: older cached links would be dead.
  const CACHED_LINKS_MAX_AGE_MS = 12 * 3600 * 1000;
  const PING_MS = 25000;
  const PONG_TIMEOUT_MS = 10000;
  const TYPING_SEND_EVERY_MS = 3000;
  const TYPING_IDLE_MS = 4000;
  const TYPING_SHOWN_MS = 7000;
  const FLOOD_PAUSE_MS = 30000;

  // --- Where the helpdesk is ------------------------------------------------------------------------

  const helpdesk = (() => {
    const explicit = script.dataset.helpdeskUrl; // for a widget.js served from a CDN
    const src = new URL(explicit || script.src, document.baseURI);
    let prefix = "/";
    if (explicit) {
      prefix = src.pathname.endsWith("/") ? src.pathname : `${src.pathname}/`;
    } else {
      const match = src.pathname.match(/^(.*\/)static\/widget\/[^/]+$/);
      if (match) prefix = match[1];
    }
    const base = new URL(prefix, src.origin);
    const socket = new URL(`${prefix}ws/chat/${encodeURIComponent(widgetKey)}/`, base);
    socket.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    return {
      base,
      socketUrl: socket.href,
      uploadUrl: new URL(`${prefix}chat/${encodeURIComponent(widgetKey)}/upload/`, base).href,
    };
  })();

  // --- Language ------------------------------------------------------------------------------------

  const language = (() => {
    const page = (document.documentElement.getAttribute("lang") || "").trim().toLowerCase();
    const chosen = page || (navigator.language || "").toLowerCase();
    return chosen.startsWith("ja") ? "ja" : "en";
  })();

  const STRINGS = {
    en: {
      openChat: "Open chat",
      openChatUnread: "Open chat ({count} unread)",
      closeChat: "Close chat",
      title: "Chat with us",
      online: "We're online",
      busy: "All our agents are busy; we'll be with you soon",
      away: "No one is available right now. Leave a message and we'll reply.",
      hours: "Support hours: {hours}",
      closedNow: "Outside support hours",
      position: "You are number {position} in line",
      wait: "Expected wait: {wait}",
      waitUnderMinute: "less than a minute",
      waitMinute: "about 1 minute",
      waitMinutes: "about {n} minutes",
      waitHour: "about 1 hour",
      waitHours: "about {n} hours",
      waiting: "Waiting for a member of our team",
      withAgent: "You're chatting with {name}",
      ended: "This chat has ended. You can write again at any time.",
      conversation: "Conversation",
      message: "Message",
      placeholder: "Type your message…",
      send: "Send",
      attach: "Attach a file",
      human: "Talk to a person",
      transcript: "Email me the transcript",
      transcriptEmail: "Email address for the transcript",
      transcriptSend: "Send transcript",
      transcriptSending: "Sending the transcript…",
      transcriptSent: "The transcript was sent to {email}.",
      cancel: "Cancel",
      prechatIntro: "Before we start, please tell us who you are.",
      name: "Name",
      email: "Email",
      emailOptional: "Email (optional)",
      emailRequired: "Please enter your email address.",
      emailInvalid: "Please enter a valid email address.",
      typing: "{name} is typing…",
      someone: "Support",
      seen: "Seen",
      sending: "Sending…",
      uploading: "Uploading {name}…",
      failed: "Not sent",
      retry: "Retry",
      you: "You",
      bot: "Assistant",
      system: "Support",
      connecting: "Connecting…",
      reconnecting: "Connection lost. Reconnecting…",
      unavailable: "The chat is unavailable right now. Please reload the page later.",
      tooFast: "You're sending messages too quickly. Please wait a moment.",
      tooLong: "Your message is too long. Please split it into shorter messages.",
      uploadFailed: "The file could not be sent.",
      notConnected: "Not connected yet. Please try again in a moment.",
      announce: "{name}: {text}",
      attachment: "Attachment: {name}",
      suggestions: "Suggested articles",
      opensInNewTab: "(opens in a new tab)",
    },
    ja: {
      openChat: "チャットを開く",
      openChatUnread: "チャットを開く（未読{count}件）",
      closeChat: "チャットを閉じる",
      title: "チャットでお問い合わせ",
      online: "オンラインで対応しています",
      busy: "ただいま混み合っています。順番にご案内します",
      away: "ただいま対応できる担当者がいません。メッセージを残していただければ、後ほどご返信します。",
      hours: "受付時間：{hours}",
      closedNow: "現在は受付時間外です",
      position: "現在{position}番目にお待ちいただいています",
      wait: "待ち時間の目安：{wait}",
      waitUnderMinute: "1分未満",
      waitMinute: "約1分",
      waitMinutes: "約{n}分",
      waitHour: "約1時間",
      waitHours: "約{n}時間",
      waiting: "担当者におつなぎしています",
      withAgent: "{name}が対応しています",
      ended: "チャットは終了しました。いつでもまたメッセージをお送りいただけます。",
      conversation: "会話",
      message: "メッセージ",
      placeholder: "メッセージを入力してください",
      send: "送信",
      attach: "ファイルを添付",
      human: "担当者と話す",
      transcript: "会話の記録をメールで受け取る",
      transcriptEmail: "会話の記録を送るメールアドレス",
      transcriptSend: "記録を送信",
      transcriptSending: "会話の記録を送信しています…",
      transcriptSent: "会話の記録を{email}に送信しました。",
      cancel: "キャンセル",
      prechatIntro: "はじめに、お名前とご連絡先を教えてください。",
      name: "お名前",
      email: "メールアドレス",
      emailOptional: "メールアドレス（任意）",
      emailRequired: "メールアドレスを入力してください。",
      emailInvalid: "メールアドレスの形式が正しくありません。",
      typing: "{name}が入力中です…",
      someone: "担当者",
      seen: "既読",
      sending: "送信中…",
      uploading: "{name}をアップロードしています…",
      failed: "送信できませんでした",
      retry: "再送信",
      you: "あなた",
      bot: "自動応答",
      system: "サポート",
      connecting: "接続しています…",
      reconnecting: "接続が切れました。再接続しています…",
      unavailable: "現在チャットをご利用いただけません。しばらくしてからページを再読み込みしてください。",
      tooFast: "メッセージの送信が速すぎます。少し時間をおいてからお送りください。",
      tooLong: "メッセージが長すぎます。いくつかに分けてお送りください。",
      uploadFailed: "ファイルを送信できませんでした。",
      notConnected: "まだ接続されていません。少し待ってからもう一度お試しください。",
      announce: "{name}：{text}",
      attachment: "添付ファイル：{name}",
      suggestions: "関連する記事",
      opensInNewTab: "（新しいタブで開きます）",
    },
  };

  function t(name, values = {}) {
    const text = STRINGS[language][name] ?? STRINGS.en[name] ?? name;
    return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  // --- Storage (may be unavailable: private windows, sandboxed frames) ------------------------------

  const KEYS = {
    visitor: `helpdesk-visitor:${widgetKey}`,
    seq: `helpdesk-seq:${widgetKey}`,
    transcript: `helpdesk-transcript:${widgetKey}`,
  };

  const storage = {
    get(name) {
      try {
        return window.localStorage.getItem(name);
      } catch {
        return null;
      }
    },
    set(name, value) {
      try {
        window.localStorage.setItem(name, value);
        return true;
      } catch {
        return false;
      }
    },
    remove(name) {
      try {
        window.localStorage.removeItem(name);
      } catch {
        // nothing stored, nothing to remove
      }
    },
  };

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // randomUUID needs a secure context; plain-http sites still have getRandomValues.
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // --- State ----------------------------------------------------------------------------------------

  const chat = {
    open: false,
    socket: null,
    welcomed: false, // `welcome` arrived on the current socket: frames may be sent
    syncing: false, // between `hello` and the end of its resync: history, not news
    attempts: 0,
    badHellos: 0,
    stopped: false,
    reconnectTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    visitor: storage.get(KEYS.visitor),
    conversationId: null,
    lastSeq: 0,
    items: new Map(), // seq -> stored message
    pending: new Map(), // client_id -> message not stored yet (insertion order)
    widget: null,
    state: null, // bot | queued | agent | ended (null before the first message)
    agentName: "",
    position: null,
    waitSeconds: null,
    notice: "",
    agentReadSeq: 0,
    lastReadSent: 0,
    customer: { name: "", email: "" },
    profileToSend: null,
    profileDone: false,
    unread: 0,
    typingSentAt: 0,
    typingIdleTimer: 0,
    agentTypingTimer: 0,
    saveTimer: 0,
    readTimer: 0,
    renderQueued: false,
    humanRequested: false,
    started: false,
    openWhenStarted: false,
  };

  function loadCachedTranscript() {
    let cached = null;
    try {
      cached = JSON.parse(storage.get(KEYS.transcript) || "null");
    } catch {
      cached = null;
    }
    const seq = Number(storage.get(KEYS.seq)) || 0;
    const usable =
      cached &&
      Array.isArray(cached.items) &&
      cached.seq === seq &&
      chat.visitor &&
      !cached.items.some(
        (item) => item && item.attachments && item.attachments.length && !(Date.now() - item.received < CACHED_LINKS_MAX_AGE_MS),
      );
    if (!usable) {
      // Nothing to show: ask the server for the whole conversation.
      storage.remove(KEYS.transcript);
      return;
    }
    chat.conversationId = cached.conversation ?? null;
    chat.lastSeq = seq;
    for (const raw of cached.items) {
      const item = normalizeMessage(raw);
      if (item) chat.items.set(item.seq, item);
    }
  }

  function saveSoon() {
    clearTimeout(chat.saveTimer);
    chat.saveTimer = setTimeout(saveTranscript, 250);
  }

  function saveTranscript() {
    storage.set(KEYS.seq, String(chat.lastSeq));
    const items = sortedItems()
      .slice(-MAX_CACHED_ITEMS)
      .map(({ id, seq, author_type, author_name, text, attachments, suggestions, created_at, client_id, received }) => ({
        id, seq, author_type, author_name, text, attachments, suggestions, created_at, client_id, received,
      }));
    const saved = storage.set(KEYS.transcript, JSON.stringify({ conversation: chat.conversationId, seq: chat.lastSeq, items }));
    if (!saved) storage.remove(KEYS.transcript); // over quota: the next load resyncs from the start
  }

  function sortedItems() {
    return Array.from(chat.items.values()).sort((a, b) => a.seq - b.seq);
  }

  function normalizeMessage(raw) {
    if (!raw || !Number.isInteger(raw.seq)) return null;
    return {
      id: raw.id ?? null,
      seq: raw.seq,
      author_type: String(raw.author_type || "system"),
      author_name: typeof raw.author_name === "string" ? raw.author_name : "",
      text: typeof raw.text === "string" ? raw.text : "",
      attachments: Array.isArray(raw.attachments) ? raw.attachments.filter((a) => a && typeof a === "object") : [],
      suggestions: Array.isArray(raw.suggestions) ? raw.suggestions.filter((s) => s && typeof s === "object") : [],
      created_at: raw.created_at || null,
      client_id: raw.client_id || null,
      received: Number(raw.received) || Date.now(), // when its attachment links were signed, roughly
      status: "sent",
    };
  }

  // --- DOM helpers ----------------------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function icon(paths) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of paths) {
      const path = document.createElementNS(NS, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  const ICONS = {
    chat: ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"],
    close: ["M6 6l12 12M18 6L6 18"],
    send: ["M3 20l18-8L3 4l3 8-3 8z", "M6 12h8"],
    attach: ["M16 7l-7.5 7.5a2.1 2.1 0 0 0 3 3L19 10a4.2 4.2 0 0 0-6-6l-7.5 7.5a6.4 6.4 0 0 0 9 9L20 15"],
  };

  function safeUrl(value) {
    try {
      const url = new URL(String(value), helpdesk.base);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function externalLink(href, ...children) {
    return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, ...children);
  }

  /** Text with its web addresses as links; every piece is a text node, never markup. */
  function linkified(text) {
    const fragment = document.createDocumentFragment();
    const pattern = /https?:\/\/[^\s<>"'）」]+[^\s<>"'）」.,;:!?。、]/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      fragment.append(text.slice(last, match.index));
      const href = safeUrl(match[0]);
      fragment.append(href ? externalLink(href, match[0]) : match[0]);
      last = match.index + match[0].length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function fileSize(bytes) {
    const size = Number(bytes) || 0;
    if (size < 1024) return `${size} B`;
    if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
    return `${(size / (1024 * 1024)).toFixed(1)} MB`;
  }

  function timeOf(value) {
    const date = value ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) return null;
    const label = date.toLocaleTimeString(language === "ja" ? "ja-JP" : undefined, {
      hour: "2-digit",
      minute: "2-digit",
    });
    return el("time", { datetime: date.toISOString(), text: label });
  }

  function waitText(seconds) {
    if (seconds < 60) return t("waitUnderMinute");
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes === 1 ? t("waitMinute") : t("waitMinutes", { n: minutes });
    const hours = Math.round(minutes / 60);
    return hours === 1 ? t("waitHour") : t("waitHours", { n: hours });
  }

  // --- The widget's DOM -----------------------------------------------------------------------------

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.root {
  --accent: #1f5fd6; --accent-dark: #174aa8; --fg: #1d2330; --muted: #555e6e; --line: #d9dee7;
  --bubble: #eef1f6; --danger: #b42318;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Hiragino Kaku Gothic ProN",
    "Noto Sans JP", Meiryo, sans-serif;
  color: var(--fg);
}
button, input, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.sr-only {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
[hidden] { display: none !important; }
.launcher {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px; height: 60px;
  border: 0; border-radius: 50%; background: var(--accent); color: #fff;
  box-shadow: 0 4px 14px rgba(0, 0, 0, .25); display: grid; place-items: center;
  transition: transform .15s ease, background .15s ease;
}
.launcher:hover { background: var(--accent-dark); transform: scale(1.05); }
.launcher svg { width: 28px; height: 28px; fill: none; stroke: currentColor; stroke-width: 2;
  stroke-linecap: round; stroke-linejoin: round; }
.badge {
  position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: var(--danger); color: #fff; font-size: 12px; font-weight: 700;
  line-height: 22px; text-align: center;
}
.panel {
  position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 380px;
  height: min(640px, calc(100vh - 112px)); display: flex; flex-direction: column;
  background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0, 0, 0, .28); animation: rise .18s ease-out;
}
@keyframes rise { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
.header { background: var(--accent); color: #fff; padding: 14px 12px 12px 18px; display: flex; gap: 8px; }
.header-text { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 17px; font-weight: 700; }
.header p { margin: 2px 0 0; font-size: 13px; }
.availability::before {
  content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px;
  background: #b9c2d0; vertical-align: 1px;
}
.availability.online::before { background: #7ee2a8; }
.availability.busy::before { background: #ffd166; }
.icon-button {
  flex: none; width: 36px; height: 36px; border: 0; border-radius: 8px; background: transparent;
  color: inherit; display: grid; place-items: center;
}
.icon-button:hover { background: rgba(255, 255, 255, .18); }
.icon-button svg { width: 22px; height: 22px; fill: none; stroke: currentColor; stroke-width: 2;
  stroke-linecap: round; stroke-linejoin: round; }
.banner { margin: 0; padding: 8px 16px; font-size: 13px; background: #fff5d6; border-bottom: 1px solid #f0e0a8; }
.banner.connection { background: #eef1f6; border-color: var(--line); color: var(--muted); }
.log { flex: 1; overflow-y: auto; padding: 14px 14px 4px; margin: 0; list-style: none; overscroll-behavior: contain; }
.msg { margin: 0 0 12px; display: flex; flex-direction: column; align-items: flex-start; max-width: 100%; }
.msg.customer { align-items: flex-end; }
.author { font-size: 12px; color: var(--muted); margin: 0 0 2px 4px; }
.bubble {
  max-width: 85%; padding: 8px 12px; border-radius: 14px 14px 14px 4px; background: var(--bubble);
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.customer .bubble { background: var(--accent); color: #fff; border-radius: 14px 14px 4px 14px; }
.customer .bubble a { color: #fff; }
.bubble a { color: var(--accent-dark); }
.msg.system { align-items: center; }
.system .bubble { background: transparent; color: var(--muted); font-size: 13px; text-align: center; padding: 2px 8px; }
.msg.greeting .bubble { background: var(--bubble); }
.sending .bubble { opacity: .7; }
.failed .bubble { outline: 2px solid var(--danger); }
.meta { font-size: 11px; color: var(--muted); margin: 2px 6px 0; display: flex; gap: 6px; align-items: center; }
.meta .failed-text { color: var(--danger); font-weight: 600; }
.link-button {
  border: 0; padding: 0; background: none; color: var(--accent-dark); text-decoration: underline; font-size: inherit;
}
.files { display: flex; flex-direction: column; gap: 6px; margin-top: 4px; white-space: normal; }
.files img { display: block; max-width: 220px; max-height: 180px; border-radius: 8px; background: #fff; }
.suggestions { list-style: none; margin: 6px 0 0; padding: 0; white-space: normal; }
.suggestions li { margin: 6px 0 0; padding: 6px 8px; background: #fff; border-radius: 8px; border: 1px solid var(--line); }
.suggestions a { font-weight: 600; }
.suggestions p { margin: 2px 0 0; font-size: 13px; color: var(--muted); }
.seen { font-size: 11px; color: var(--muted); margin: 2px 6px 0; }
.typing { margin: 0; padding: 0 18px 6px; font-size: 13px; color: var(--muted); min-height: 0; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; padding: 6px 14px; border-top: 1px solid var(--line); }
.pill {
  border: 1px solid var(--accent); background: #fff; color: var(--accent-dark); border-radius: 999px;
  padding: 4px 12px; font-size: 13px;
}
.pill:hover { background: #eef3fd; }
.pill[disabled] { opacity: .55; cursor: default; }
.subform { display: flex; flex-wrap: wrap; gap: 6px; padding: 6px 14px; align-items: end; }
.subform label { flex: 1 1 100%; font-size: 13px; }
.subform input { flex: 1; min-width: 0; }
input[type="text"], input[type="email"], textarea {
  border: 1px solid #8a94a6; border-radius: 8px; padding: 7px 10px; background: #fff;
}
input[aria-invalid="true"] { border-color: var(--danger); }
.status-line { margin: 0; padding: 4px 14px; font-size: 13px; color: var(--muted); }
.composer { border-top: 1px solid var(--line); padding: 10px 12px 12px; }
.prechat { display: grid; gap: 8px; margin-bottom: 10px; }
.prechat p { margin: 0; font-size: 13px; color: var(--muted); }
.prechat label { display: grid; gap: 2px; font-size: 13px; }
.error { margin: 0 0 6px; color: var(--danger); font-size: 13px; }
.row { display: flex; align-items: flex-end; gap: 6px; }
.row textarea { flex: 1; resize: none; min-height: 40px; max-height: 140px; line-height: 1.4; }
.row .icon-button { color: var(--muted); }
.row .icon-button:hover { background: var(--bubble); }
.row .send { background: var(--accent); color: #fff; }
.row .send:hover { background: var(--accent-dark); }
@media (max-width: 479.98px) {
  .panel { inset: 0; width: auto; height: 100%; border-radius: 0; }
  .root.is-open .launcher { display: none; }
  input[type="text"], input[type="email"], textarea { font-size: 16px; }
}
@media (prefers-reduced-motion: reduce) {
  .panel { animation: none; }
  .launcher { transition: none; }
  .launcher:hover { transform: none; }
}
`;

  const ui = {};

  function build() {
    const host = el("div", { id: "helpdesk-chat", "data-helpdesk-chat": "" });
    const shadow = host.attachShadow({ mode: "open" });

    ui.live = el("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "false" });
    ui.badge = el("span", { class: "badge", "aria-hidden": "true", hidden: true });
    ui.launcher = el(
      "button",
      {
        type: "button",
        class: "launcher",
        part: "launcher",
        "aria-label": t("openChat"),
        "aria-expanded": "false",
        "aria-controls": "hc-panel",
        onclick: () => (chat.open ? closePanel() : openPanel()),
      },
      icon(ICONS.chat),
      ui.badge,
    );

    ui.title = el("h2", { class: "title", id: "hc-title", text: t("title") });
    ui.availability = el("p", { class: "availability", hidden: true });
    ui.wait = el("p", { class: "wait", hidden: true });
    ui.hours = el("p", { class: "hours", hidden: true });
    ui.closeButton = el(
      "button",
      { type: "button", class: "icon-button", "aria-label": t("closeChat"), onclick: () => closePanel() },
      icon(ICONS.close),
    );
    const header = el(
      "div",
      { class: "header" },
      el("div", { class: "header-text" }, ui.title, ui.availability, ui.wait, ui.hours),
      ui.closeButton,
    );

    ui.notice = el("p", { class: "banner", role: "status", hidden: true });
    ui.connection = el("p", { class: "banner connection", role: "status", hidden: true });
    ui.log = el("ol", { class: "log", "aria-label": t("conversation"), tabindex: "0" });
    ui.typing = el("p", { class: "typing", hidden: true });

    ui.human = el("button", { type: "button", class: "pill", text: t("human"), hidden: true, onclick: askForPerson });
    ui.transcriptButton = el("button", {
      type: "button",
      class: "pill",
      text: t("transcript"),
      hidden: true,
      onclick: requestTranscript,
    });
    ui.actions = el("div", { class: "actions", hidden: true }, ui.human, ui.transcriptButton);

    ui.transcriptEmail = el("input", { type: "email", id: "hc-transcript-email", autocomplete: "email", required: true });
    ui.transcriptForm = el(
      "form",
      { class: "subform", hidden: true, novalidate: true, onsubmit: submitTranscriptForm },
      el("label", { for: "hc-transcript-email", text: t("transcriptEmail") }),
      ui.transcriptEmail,
      el("button", { type: "submit", class: "pill", text: t("transcriptSend") }),
      el("button", {
        type: "button",
        class: "pill",
        text: t("cancel"),
        onclick: () => {
          ui.transcriptForm.hidden = true;
          ui.transcriptButton.focus();
        },
      }),
    );
    ui.statusLine = el("p", { class: "status-line", role: "status", hidden: true });

    ui.name = el("input", { type: "text", id: "hc-name", autocomplete: "name", maxlength: "120" });
    ui.email = el("input", { type: "email", id: "hc-email", autocomplete: "email", maxlength: "254" });
    ui.nameField = el("label", { for: "hc-name" }, el("span", { text: t("name") }), ui.name);
    ui.emailLabel = el("span", { text: t("emailOptional") });
    ui.emailField = el("label", { for: "hc-email" }, ui.emailLabel, ui.email);
    ui.prechat = el(
      "div",
      { class: "prechat", hidden: true },
      el("p", { id: "hc-prechat-intro", text: t("prechatIntro") }),
      ui.nameField,
      ui.emailField,
    );
    ui.error = el("p", { class: "error", role: "alert", id: "hc-error", hidden: true });
    ui.textarea = el("textarea", {
      rows: "1",
      maxlength: String(MAX_TEXT),
      "aria-label": t("message"),
      "aria-describedby": "hc-error",
      placeholder: t("placeholder"),
      oninput: onComposerInput,
      onkeydown: onComposerKeydown,
    });
    ui.fileInput = el("input", {
      type: "file",
      hidden: true,
      tabindex: "-1",
      accept: "image/png,image/jpeg,image/gif,image/webp,image/heic,.pdf,.txt,.csv,.zip,.doc,.docx,.xls,.xlsx",
      onchange: onFileChosen,
    });
    ui.attachButton = el(
      "button",
      { type: "button", class: "icon-button", "aria-label": t("attach"), onclick: () => ui.fileInput.click() },
      icon(ICONS.attach),
    );
    ui.sendButton = el("button", { type: "submit", class: "icon-button send", "aria-label": t("send") }, icon(ICONS.send));
    ui.composer = el(
      "form",
      { class: "composer", novalidate: true, onsubmit: onComposerSubmit },
      ui.prechat,
      ui.error,
      el("div", { class: "row" }, ui.textarea, ui.attachButton, ui.sendButton),
      ui.fileInput,
    );

    ui.panel = el(
      "div",
      {
        class: "panel",
        id: "hc-panel",
        part: "panel",
        role: "dialog",
        "aria-modal": "false",
        "aria-labelledby": "hc-title",
        hidden: true,
        onkeydown: (event) => {
          if (event.key === "Escape" && !event.isComposing) {
            event.stopPropagation();
            closePanel();
          }
        },
      },
      header,
      ui.notice,
      ui.connection,
      ui.log,
      ui.typing,
      ui.actions,
      ui.transcriptForm,
      ui.statusLine,
      ui.composer,
    );

    ui.root = el("div", { class: "root", lang: language }, ui.panel, ui.launcher, ui.live);
    adoptStyles(shadow);
    shadow.append(ui.root);
    document.body.append(host);
  }

  /** A constructed stylesheet where the browser has them: a page's Content-Security-Policy without
   * 'unsafe-inline' styles blocks a <style> element, but not these. */
  function adoptStyles(shadow) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch {
      shadow.append(el("style", { text: CSS }));
    }
  }

  // --- Rendering ------------------------------------------------------------------------------------

  const nodes = new Map(); // item -> <li>

  function render() {
    chat.renderQueued = false;
    const ordered = [...sortedItems(), ...chat.pending.values()];
    const wanted = [];
    if (chat.widget && chat.widget.greeting) wanted.push(greetingNode());
    const lastCustomer = [...chat.items.values()]
      .filter((item) => item.author_type === "customer")
      .reduce((last, item) => (!last || item.seq > last.seq ? item : last), null);
    for (const item of ordered) {
      let node = nodes.get(item);
      if (!node) {
        node = messageNode(item);
        nodes.set(item, node);
      }
      updateStatus(node, item, item === lastCustomer && chat.agentReadSeq >= item.seq);
      wanted.push(node);
    }
    const keep = new Set(wanted);
    for (const child of Array.from(ui.log.children)) if (!keep.has(child)) child.remove();
    const stuckToBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 60;
    wanted.forEach((node, index) => {
      if (ui.log.children[index] !== node) ui.log.insertBefore(node, ui.log.children[index] || null);
    });
    for (const [item, node] of nodes) if (!node.isConnected) nodes.delete(item);
    if (stuckToBottom || !chat.open) ui.log.scrollTop = ui.log.scrollHeight;
    renderChrome();
  }

  function renderSoon() {
    if (chat.renderQueued) return;
    chat.renderQueued = true;
    requestAnimationFrame(render);
  }

  let greeting = null;
  function greetingNode() {
    const text = chat.widget.greeting;
    if (!greeting || greeting.dataset.text !== text) {
      greeting = el(
        "li",
        { class: "msg greeting bot", "data-text": text },
        el("p", { class: "author", text: chat.widget.title || t("title") }),
        el("div", { class: "bubble" }, linkified(text)),
      );
    }
    return greeting;
  }

  function messageNode(item) {
    const kind = ["customer", "agent", "bot", "system"].includes(item.author_type) ? item.author_type : "system";
    const node = el("li", { class: `msg ${kind}` });
    if (kind === "customer") {
      node.append(el("span", { class: "sr-only", text: `${t("you")}: ` }));
    } else if (kind !== "system") {
      node.append(el("p", { class: "author", text: item.author_name || (kind === "bot" ? t("bot") : t("someone")) }));
    }
    const bubble = el("div", { class: "bubble" });
    if (item.text) bubble.append(linkified(item.text));
    if (item.uploadName && !item.attachments.length) bubble.append(t("attachment", { name: item.uploadName }));
    const files = attachmentsNode(item.attachments);
    if (files) bubble.append(files);
    const suggestions = suggestionsNode(item.suggestions);
    if (suggestions) bubble.append(suggestions);
    node.append(bubble, el("p", { class: "meta" }));
    return node;
  }

  function attachmentsNode(attachments) {
    if (!attachments.length) return null;
    const files = el("div", { class: "files" });
    for (const attachment of attachments) {
      const href = safeUrl(attachment.url);
      const name = String(attachment.name || "file");
      if (!href) {
        files.append(el("span", { text: name }));
      } else if (String(attachment.content_type || "").startsWith("image/")) {
        files.append(externalLink(href, el("img", { src: href, alt: name, loading: "lazy" })));
      } else {
        files.append(
          externalLink(href, `${name} (${fileSize(attachment.size)})`, el("span", { class: "sr-only", text: t("opensInNewTab") })),
        );
      }
    }
    return files;
  }

  function suggestionsNode(suggestions) {
    const usable = suggestions.filter((suggestion) => safeUrl(suggestion.url));
    if (!usable.length) return null;
    const list = el("ul", { class: "suggestions", "aria-label": t("suggestions") });
    for (const suggestion of usable) {
      list.append(
        el(
          "li",
          {},
          externalLink(safeUrl(suggestion.url), String(suggestion.title || suggestion.url)),
          suggestion.snippet ? el("p", { text: String(suggestion.snippet) }) : null,
        ),
      );
    }
    return list;
  }

  function updateStatus(node, item, seen) {
    const key = `${item.status}|${item.error || ""}|${seen}`;
    if (node.dataset.status === key) return;
    node.dataset.status = key;
    node.classList.toggle("sending", item.status === "sending" || item.status === "uploading");
    node.classList.toggle("failed", item.status === "failed");
    if (item.seq) node.dataset.seq = String(item.seq);
    const meta = node.querySelector(".meta");
    meta.replaceChildren();
    const time = timeOf(item.created_at);
    if (time) meta.append(time);
    if (item.status === "sending") meta.append(el("span", { text: t("sending") }));
    if (item.status === "uploading") meta.append(el("span", { text: t("uploading", { name: item.uploadName }) }));
    if (item.status === "failed") {
      meta.append(el("span", { class: "failed-text", text: item.error ? `${t("failed")}: ${item.error}` : t("failed") }));
      meta.append(el("button", { type: "button", class: "link-button", text: t("retry"), onclick: () => retry(item) }));
    }
    node.querySelector(".seen")?.remove();
    if (seen) node.append(el("p", { class: "seen", text: t("seen") }));
  }

  function renderChrome() {
    const widget = chat.widget || {};
    ui.title.textContent = widget.title || t("title");

    const availability = widget.availability;
    ui.availability.hidden = !availability;
    if (availability) {
      ui.availability.className = `availability ${availability}`;
      ui.availability.textContent = t(["online", "busy", "away"].includes(availability) ? availability : "away");
    }

    const waitParts = [];
    if (chat.state === "queued") {
      waitParts.push(t("waiting"));
      if (Number.isInteger(chat.position)) waitParts.push(t("position", { position: chat.position }));
      if (Number.isFinite(chat.waitSeconds)) waitParts.push(t("wait", { wait: waitText(chat.waitSeconds) }));
    } else if (chat.state === "agent" && chat.agentName) {
      waitParts.push(t("withAgent", { name: chat.agentName }));
    }
    ui.wait.textContent = waitParts.join(" · ");
    ui.wait.hidden = !waitParts.length;

    const hours = typeof widget.hours === "string" ? widget.hours : "";
    const hoursParts = [];
    if (widget.open_now === false) hoursParts.push(t("closedNow"));
    if (hours) hoursParts.push(t("hours", { hours }));
    ui.hours.textContent = hoursParts.join(" · ");
    ui.hours.hidden = !hoursParts.length;

    const notice = chat.state === "ended" ? t("ended") : chat.notice;
    ui.notice.textContent = notice || "";
    ui.notice.hidden = !notice;

    const hasConversation = chat.items.size > 0;
    ui.human.hidden = chat.state !== "bot";
    ui.human.disabled = chat.humanRequested;
    ui.transcriptButton.hidden = !hasConversation;
    // The server takes files for an existing conversation only (a file cannot open a chat).
    ui.attachButton.hidden = !hasConversation;
    ui.actions.hidden = ui.human.hidden && ui.transcriptButton.hidden;

    ui.prechat.hidden = !needsPrechat();
    ui.textarea.setAttribute("aria-describedby", ui.prechat.hidden ? "hc-error" : "hc-prechat-intro hc-error");
    ui.emailLabel.textContent = widget.require_email ? t("email") : t("emailOptional");
    ui.email.required = Boolean(widget.require_email);
    ui.nameField.hidden = !(widget.ask_name && !chat.customer.name);
    ui.emailField.hidden = !(widget.ask_email && !chat.customer.email);

    ui.badge.hidden = chat.open || chat.unread === 0;
    ui.badge.textContent = String(chat.unread);
    ui.launcher.setAttribute(
      "aria-label",
      chat.open ? t("closeChat") : chat.unread ? t("openChatUnread", { count: chat.unread }) : t("openChat"),
    );
  }

  function needsPrechat() {
    const widget = chat.widget;
    if (!widget || chat.profileDone || chat.profileToSend || chat.items.size > 0 || chat.conversationId) return false;
    return Boolean((widget.ask_name && !chat.customer.name) || (widget.ask_email && !chat.customer.email));
  }

  function setConnection(status) {
    const text = { connecting: t("connecting"), lost: t("reconnecting"), unavailable: t("unavailable"), flooded: t("tooFast") }[
      status
    ];
    ui.connection.textContent = text || "";
    ui.connection.hidden = !text;
  }

  function showError(text) {
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }

  function showStatus(text) {
    ui.statusLine.textContent = text || "";
    ui.statusLine.hidden = !text;
  }

  function announce(text) {
    const line = el("p", { text });
    ui.live.append(line);
    while (ui.live.childElementCount > 5) ui.live.firstElementChild.remove();
  }

  // --- Opening and closing ----------------------------------------------------------------------------

  function openPanel() {
    if (!chat.started) {
      chat.openWhenStarted = true;
      return;
    }
    if (chat.open) return;
    chat.open = true;
    chat.unread = 0;
    ui.panel.hidden = false;
    ui.root.classList.add("is-open");
    ui.launcher.setAttribute("aria-expanded", "true");
    render();
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.textarea.focus();
    connect();
    sendReadIfSeen();
  }

  function closePanel() {
    chat.openWhenStarted = false;
    if (!chat.open) return;
    chat.open = false;
    ui.panel.hidden = true;
    ui.root.classList.remove("is-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    stopTyping();
    renderChrome();
    ui.launcher.focus();
  }

  // --- The socket -------------------------------------------------------------------------------------

  function connect() {
    clearTimeout(chat.reconnectTimer);
    chat.reconnectTimer = 0;
    if (chat.socket || chat.stopped) return;
    let socket;
    try {
      socket = new WebSocket(helpdesk.socketUrl);
    } catch {
      scheduleReconnect();
      return;
    }
    chat.socket = socket;
    chat.welcomed = false;
    if (chat.attempts === 0) setConnection("connecting");
    socket.addEventListener("open", () => sendHello(socket));
    socket.addEventListener("message", (event) => {
      if (chat.socket !== socket || typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") handleFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (chat.socket !== socket) return;
      forgetSocket();
      onClosed(event.code);
    });
  }

  function forgetSocket() {
    const socket = chat.socket;
    chat.socket = null;
    chat.welcomed = false;
    chat.syncing = false;
    clearInterval(chat.pingTimer);
    clearTimeout(chat.pongTimer);
    return socket;
  }

  function onClosed(code) {
    if (code === 4429) {
      setConnection("flooded");
      scheduleReconnect(FLOOD_PAUSE_MS);
      return;
    }
    if (code === 4400) {
      chat.badHellos += 1;
      if (chat.badHellos >= 3) {
        // The server keeps refusing our hello: retrying would only hammer it.
        chat.stopped = true;
        setConnection("unavailable");
        return;
      }
    }
    setConnection("lost");
    scheduleReconnect();
  }

  function scheduleReconnect(atLeast = 0) {
    if (chat.stopped || chat.reconnectTimer) return;
    const backoff = Math.min(30000, 1000 * 2 ** chat.attempts);
    const delay = Math.max(atLeast, Math.min(30000, backoff * (0.75 + Math.random() * 0.5)));
    chat.attempts += 1;
    chat.reconnectTimer = setTimeout(() => {
      chat.reconnectTimer = 0;
      connect();
    }, delay);
  }

  function reconnectNow() {
    if (chat.socket || chat.stopped || !chat.reconnectTimer) return;
    chat.attempts = 0;
    connect();
  }

  function pageAddress() {
    const href = window.location.href;
    if (href.length <= 500) return href;
    return (window.location.origin + window.location.pathname).slice(0, 500);
  }

  function vouchedUser() {
    const settings = window.HelpdeskChatSettings;
    const user = settings && settings.user;
    if (!user || user.id === undefined || user.id === null || !user.hash) return null;
    const vouched = { id: String(user.id), hash: String(user.hash) };
    if (user.name) vouched.name = String(user.name);
    if (user.email) vouched.email = String(user.email);
    return vouched;
  }

  function sendHello(socket) {
    const hello = {
      type: "hello",
      visitor: chat.visitor || null,
      language,
      page: pageAddress(),
      after_seq: chat.lastSeq,
    };
    const user = vouchedUser();
    if (user) hello.user = user;
    chat.syncing = true;
    socket.send(JSON.stringify(hello));
    clearInterval(chat.pingTimer);
    chat.pingTimer = setInterval(ping, PING_MS);
  }

  function ping() {
    if (!chat.socket || chat.socket.readyState !== WebSocket.OPEN) return;
    chat.socket.send(JSON.stringify({ type: "ping" }));
    clearTimeout(chat.pongTimer);
    chat.pongTimer = setTimeout(() => {
      // No answer: the connection is dead without having said so (sleeping laptop, lost network).
      const socket = forgetSocket();
      if (socket) socket.close();
      onClosed(1006);
    }, PONG_TIMEOUT_MS);
  }

  /** Sends a frame now if the conversation is ready; returns whether it went out. */
  function transmit(frame) {
    if (!chat.welcomed || !chat.socket || chat.socket.readyState !== WebSocket.OPEN) return false;
    chat.socket.send(JSON.stringify(frame));
    return true;
  }

  function frameFits(frame) {
    return new TextEncoder().encode(JSON.stringify(frame)).length <= MAX_FRAME_BYTES;
  }

  // --- Frames from the server -------------------------------------------------------------------------

  function handleFrame(frame) {
    switch (frame.type) {
      case "welcome":
        return onWelcome(frame);
      case "message":
        return onMessage(frame.message);
      case "resynced":
        return onResynced(frame);
      case "state":
        return onState(frame);
      case "typing":
        return onTyping(frame);
      case "read":
        if (Number.isInteger(frame.seq)) chat.agentReadSeq = Math.max(chat.agentReadSeq, frame.seq);
        return renderSoon();
      case "profile":
        chat.profileToSend = null;
        chat.profileDone = true;
        chat.customer = { name: frame.name || chat.customer.name, email: frame.email || chat.customer.email };
        return renderSoon();
      case "transcript_sent":
        return showStatus(t("transcriptSent", { email: frame.email || "" }));
      case "pong":
        return clearTimeout(chat.pongTimer);
      case "error":
        return onError(frame);
      default:
        return undefined; // newer servers may send more: ignore what we do not know
    }
  }

  function onWelcome(frame) {
    chat.welcomed = true;
    chat.attempts = 0;
    chat.badHellos = 0;
    setConnection(null);
    if (frame.visitor && frame.visitor !== chat.visitor) {
      chat.visitor = String(frame.visitor);
      storage.set(KEYS.visitor, chat.visitor);
    }
    chat.widget = frame.widget || {};
    if (frame.customer) {
      chat.customer = { name: frame.customer.name || "", email: frame.customer.email || "" };
    }
    const conversation = frame.conversation;
    const conversationId = conversation ? conversation.id ?? null : null;
    if (conversationId !== chat.conversationId) {
      // Another conversation than the one on screen (new visitor token, a vouched user on a new device,
      // or the old chat's ticket was closed): seqs start again, so does the transcript.
      const hadHistory = chat.lastSeq > 0;
      resetConversation();
      chat.conversationId = conversationId;
      if (hadHistory && conversation) requestResync(0);
    }
    if (conversation) applyState(conversation);
    else chat.state = null;
    flushOutbox();
    render();
  }

  function resetConversation() {
    chat.items.clear();
    chat.lastSeq = 0;
    chat.lastReadSent = 0;
    chat.agentReadSeq = 0;
    chat.state = null;
    chat.humanRequested = false;
    saveSoon();
  }

  function onMessage(raw) {
    const item = normalizeMessage(raw);
    if (!item) return;
    const known = chat.items.get(item.seq);
    if (known && known.id !== null && item.id !== null && known.id !== item.id) {
      // The same seq with another message: a new conversation began while we were connected.
      resetConversation();
      requestResync(0);
    }
    const repeat = chat.items.has(item.seq);
    const mine = item.client_id ? chat.pending.get(item.client_id) : null;
    if (mine) {
      chat.pending.delete(item.client_id);
      // An upload is shown again from the stored message, which has the attachment's link.
      if (mine.file || mine.text !== item.text) nodes.delete(mine);
      Object.assign(mine, item, { uploadName: undefined, file: undefined, error: undefined });
      chat.items.set(item.seq, mine);
    } else if (!repeat) {
      chat.items.set(item.seq, item);
    }
    if (item.seq > chat.lastSeq) chat.lastSeq = item.seq;
    if (!repeat && !mine && item.author_type !== "customer" && !chat.syncing) {
      const text = item.text || t("attachment", { name: item.attachments.length ? item.attachments[0].name : "" });
      announce(t("announce", { name: item.author_name || t("someone"), text }));
      if (!chat.open) chat.unread += 1;
    }
    if (item.author_type === "agent") hideAgentTyping();
    saveSoon();
    renderSoon();
    readSoon();
  }

  function requestResync(afterSeq) {
    if (transmit({ type: "resync", after_seq: afterSeq })) chat.syncing = true;
  }

  function onResynced(frame) {
    if (frame.complete === false && Number.isInteger(frame.last_seq)) {
      requestResync(frame.last_seq);
      return;
    }
    chat.syncing = false;
  }

  function applyState(frame) {
    chat.state = frame.state || null;
    chat.agentName = (frame.agent && frame.agent.name) || "";
    chat.position = Number.isInteger(frame.position) ? frame.position : null;
    chat.waitSeconds = Number.isFinite(frame.expected_wait_seconds) ? frame.expected_wait_seconds : null;
    chat.notice = frame.notice || "";
    if (Number.isInteger(frame.agent_read_seq)) chat.agentReadSeq = Math.max(chat.agentReadSeq, frame.agent_read_seq);
    if (chat.state !== "bot") chat.humanRequested = false;
  }

  function onState(frame) {
    if (frame.id !== undefined && frame.id !== null && chat.conversationId === null) chat.conversationId = frame.id;
    applyState(frame);
    if (chat.state === "ended") hideAgentTyping();
    saveSoon();
    renderSoon();
  }

  function onTyping(frame) {
    clearTimeout(chat.agentTypingTimer);
    if (!frame.typing) return hideAgentTyping();
    ui.typing.textContent = t("typing", { name: frame.name || chat.agentName || t("someone") });
    ui.typing.hidden = false;
    // A lost "stopped typing" frame must not leave the indicator forever.
    chat.agentTypingTimer = setTimeout(hideAgentTyping, TYPING_SHOWN_MS);
    return undefined;
  }

  function hideAgentTyping() {
    clearTimeout(chat.agentTypingTimer);
    ui.typing.hidden = true;
  }

  function onError(frame) {
    const fallback = { rate_limited: t("tooFast"), bad_frame: t("tooLong") }[frame.code] || t("failed");
    const detail = frame.code === "rate_limited" ? t("tooFast") : frame.detail || fallback;
    const item = frame.client_id ? chat.pending.get(frame.client_id) : null;
    if (item) {
      item.status = "failed";
      item.error = detail;
      renderSoon();
    }
    if (frame.code === "hello_first") return;
    if (frame.code === "bad_field" && /^(name|email)\b/.test(frame.detail || "") && !chat.items.size) {
      // The pre-chat answers were refused: ask again.
      chat.profileToSend = null;
      chat.profileDone = false;
    }
    if (!ui.transcriptForm.hidden || ui.statusLine.textContent === t("transcriptSending")) showStatus("");
    chat.humanRequested = false;
    showError(detail);
    renderSoon();
  }

  /** What waited for the connection: the pre-chat profile first, then unsent messages in order. */
  function flushOutbox() {
    if (chat.profileToSend) transmit({ type: "profile", ...chat.profileToSend });
    for (const item of chat.pending.values()) {
      if (item.status === "sending" && !item.file) transmit({ type: "message", client_id: item.client_id, text: item.text });
    }
  }

  // --- What the visitor does --------------------------------------------------------------------------

  function onComposerKeydown(event) {
    // keyCode 229: some browsers still report IME composition only this way.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendComposer();
    }
  }

  function onComposerSubmit(event) {
    event.preventDefault();
    sendComposer();
  }

  function onComposerInput() {
    ui.textarea.style.height = "auto";
    ui.textarea.style.height = `${Math.min(ui.textarea.scrollHeight + 2, 140)}px`;
    if (!ui.textarea.value.trim()) return stopTyping();
    const now = Date.now();
    if (now - chat.typingSentAt > TYPING_SEND_EVERY_MS) {
      chat.typingSentAt = now;
      transmit({ type: "typing", typing: true });
    }
    clearTimeout(chat.typingIdleTimer);
    chat.typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    return undefined;
  }

  function stopTyping() {
    clearTimeout(chat.typingIdleTimer);
    if (!chat.typingSentAt) return;
    chat.typingSentAt = 0;
    transmit({ type: "typing", typing: false });
  }

  /** The pre-chat fields, when shown: checked, then queued to go before the first message. */
  function takePrechat() {
    if (ui.prechat.hidden) return true;
    const email = ui.email.value.trim();
    ui.email.removeAttribute("aria-invalid");
    let problem = "";
    if (!ui.emailField.hidden) {
      if (chat.widget.require_email && !email) problem = t("emailRequired");
      else if (email && !ui.email.checkValidity()) problem = t("emailInvalid");
    }
    if (problem) {
      ui.email.setAttribute("aria-invalid", "true");
      ui.email.setAttribute("aria-describedby", "hc-error");
      showError(problem);
      ui.email.focus();
      return false;
    }
    const profile = {};
    if (!ui.nameField.hidden) profile.name = ui.name.value.trim();
    if (!ui.emailField.hidden) profile.email = email;
    chat.profileToSend = profile;
    transmit({ type: "profile", ...profile });
    return true;
  }

  function sendComposer() {
    const text = ui.textarea.value.trim();
    if (!text) return;
    if (!takePrechat()) return;
    const item = {
      client_id: newClientId(),
      author_type: "customer",
      text,
      attachments: [],
      suggestions: [],
      created_at: new Date().toISOString(),
      status: "sending",
    };
    if (!frameFits({ type: "message", client_id: item.client_id, text })) {
      showError(t("tooLong"));
      return;
    }
    showError("");
    chat.pending.set(item.client_id, item);
    transmit({ type: "message", client_id: item.client_id, text });
    ui.textarea.value = "";
    onComposerInput();
    stopTyping();
    connect(); // queued until the socket is back, if it is not
    render();
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function retry(item) {
    item.status = "sending";
    item.error = undefined;
    showError("");
    if (item.file) upload(item);
    else transmit({ type: "message", client_id: item.client_id, text: item.text });
    connect();
    renderSoon();
  }

  function onFileChosen() {
    const file = ui.fileInput.files && ui.fileInput.files[0];
    ui.fileInput.value = "";
    if (!file) return;
    if (!chat.visitor) {
      showError(t("notConnected"));
      connect();
      return;
    }
    if (!takePrechat()) return;
    showError("");
    const item = {
      client_id: newClientId(),
      author_type: "customer",
      text: "",
      attachments: [],
      suggestions: [],
      created_at: new Date().toISOString(),
      status: "uploading",
      uploadName: file.name,
      file,
    };
    chat.pending.set(item.client_id, item);
    render();
    ui.log.scrollTop = ui.log.scrollHeight;
    upload(item);
  }

  async function upload(item) {
    item.status = "uploading";
    renderSoon();
    const body = new FormData();
    body.append("visitor", chat.visitor);
    body.append("client_id", item.client_id);
    body.append("file", item.file, item.file.name);
    let response;
    try {
      response = await fetch(helpdesk.uploadUrl, { method: "POST", body, mode: "cors", credentials: "omit" });
    } catch {
      return uploadFailed(item, t("uploadFailed"));
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) return uploadFailed(item, (data && data.detail) || t("uploadFailed"));
    if (!chat.pending.has(item.client_id)) return undefined; // the socket delivered it first
    if (data && data.message && Number.isInteger(data.message.seq)) onMessage({ ...data.message, client_id: item.client_id });
    else item.status = "sending"; // stored; its `message` frame is on the way
    renderSoon();
    return undefined;
  }

  function uploadFailed(item, detail) {
    if (!chat.pending.has(item.client_id)) return;
    item.status = "failed";
    item.error = detail;
    showError(detail);
    renderSoon();
  }

  function askForPerson() {
    if (!transmit({ type: "human" })) {
      showError(t("notConnected"));
      connect();
      return;
    }
    chat.humanRequested = true;
    renderChrome();
    ui.textarea.focus();
  }

  function requestTranscript() {
    showStatus("");
    if (chat.customer.email) {
      sendTranscript({});
      return;
    }
    ui.transcriptForm.hidden = false;
    ui.transcriptEmail.focus();
  }

  function submitTranscriptForm(event) {
    event.preventDefault();
    const email = ui.transcriptEmail.value.trim();
    if (!email || !ui.transcriptEmail.checkValidity()) {
      ui.transcriptEmail.setAttribute("aria-invalid", "true");
      showStatus(email ? t("emailInvalid") : t("emailRequired"));
      ui.transcriptEmail.focus();
      return;
    }
    ui.transcriptEmail.removeAttribute("aria-invalid");
    sendTranscript({ email });
    ui.transcriptForm.hidden = true;
    ui.transcriptButton.focus();
  }

  function sendTranscript(fields) {
    if (!transmit({ type: "transcript", ...fields })) {
      showError(t("notConnected"));
      connect();
      return;
    }
    showStatus(t("transcriptSending"));
  }

  function readSoon() {
    clearTimeout(chat.readTimer);
    chat.readTimer = setTimeout(sendReadIfSeen, 400);
  }

  function sendReadIfSeen() {
    if (!chat.open || document.visibilityState !== "visible" || chat.lastSeq <= chat.lastReadSent) return;
    if (transmit({ type: "read", seq: chat.lastSeq })) chat.lastReadSent = chat.lastSeq;
  }

  // --- Start ----------------------------------------------------------------------------------------

  function start() {
    loadCachedTranscript();
    build();
    render();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      reconnectNow();
      sendReadIfSeen();
    });
    window.addEventListener("online", reconnectNow);
    // A returning visitor with a conversation hears replies (badge, announcement) before opening the panel.
    if (chat.visitor && chat.lastSeq > 0) connect();
    chat.started = true;
    if (chat.openWhenStarted) openPanel();
  }

  window.HelpdeskChat = Object.freeze({
    open: () => openPanel(),
    close: () => closePanel(),
    isOpen: () => chat.open,
  });

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
