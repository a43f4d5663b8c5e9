/*! kb-chat widget | Apache-2.0 | embed: <script src="{KB}/widget.js" data-kb-url="{KB}" defer></script> */
(() => {
  "use strict";
  if (window.KBWidget) return;

  const SCRIPT =
    document.currentScript ||
    document.querySelector('script[src$="/widget.js"][data-kb-url], script[src$="/widget.js"]');
  const MAX_MESSAGE = 2000;
  const MAX_TURNS = 20;
  const MAX_TURN = 4000;
  const STALL_MS = 90000;
  const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
  const SVG = "http://www.w3.org/2000/svg";
  const DEFAULTS = {
    title: "Ask our docs",
    greeting: "Hi! Ask me anything about our docs. Every answer links to the sections it comes from.",
    placeholder: "Ask a question…",
    accent: "#4f46e5",
  };
  const ICONS = {
    chat: "M7.9 20A9 9 0 1 0 4 16.1L2 22Z",
    close: "M18 6 6 18M6 6l12 12",
    down: "m6 9 6 6 6-6",
    send: "M12 19V5M5 12l7-7 7 7",
    edit: "M12 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-7M18.4 2.6a2.1 2.1 0 1 1 3 3L12 15l-4 1 1-4Z",
    spark: "M12 3l1.9 5.6 5.6 1.9-5.6 1.9L12 18l-1.9-5.6-5.6-1.9 5.6-1.9z",
    up: "M7 10v12M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 8a2 2 0 0 1-1.9 1.4H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9Z",
    thumbdown: "M17 14V2M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.8a2 2 0 0 0-1.8 1.1L12 22a3.1 3.1 0 0 1-3-3.9Z",
    retry: "M21 12a9 9 0 1 1-9-9c2.5 0 4.9 1 6.7 2.7L21 8M21 3v5h-5",
    alert: "M12 8v4M12 16h.01M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z",
    ext: "M15 3h6v6M10 14 21 3M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6",
    doc: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M16 13H8M16 17H8",
  };

  /* ---------------------------------------------------------------- helpers */

  // Builds an element. Strings become text nodes: server data is never parsed as HTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) if (child != null && child !== false) el.append(child);
    return el;
  }

  function icon(name, size = 20) {
    const svg = document.createElementNS(SVG, "svg");
    for (const [k, v] of Object.entries({
      viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor",
      "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
      focusable: "false",
    })) svg.setAttribute(k, String(v));
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  const uid = () =>
    (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2))
      .replace(/[^A-Za-z0-9-]/g, "")
      .slice(0, 40);

  const attr = (el, name) => {
    const value = el && el.getAttribute("data-" + name);
    return value == null || !value.trim() ? null : value.trim();
  };

  function rgb(hex) {
    let s = hex.slice(1);
    if (s.length === 3) s = s.replace(/./g, (c) => c + c);
    const n = parseInt(s, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const toHex = (c) => "#" + c.map((v) => v.toString(16).padStart(2, "0")).join("");
  const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));
  function luminance(c) {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function contrast(a, b) {
    const x = luminance(a);
    const y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  // The colour nearest to `fg` that reaches WCAG AA (4.5:1) on `bg`.
  function readable(fg, bg) {
    const toward = luminance(bg) > 0.4 ? [0, 0, 0] : [255, 255, 255];
    for (let t = 0; t <= 1; t += 0.05) {
      const c = mix(fg, toward, t);
      if (contrast(c, bg) >= 4.5) return toHex(c);
    }
    return toHex(toward);
  }

  /* ---------------------------------------------------------------- config */

  function readConfig(el) {
    const pick = (name) => attr(el, name) || attr(SCRIPT, name);
    let base;
    try {
      const fallback = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src, location.href).origin : location.origin;
      const url = new URL(pick("kb-url") || fallback, location.href);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("bad scheme");
      base = (url.origin + url.pathname).replace(/\/+$/, "");
    } catch (_) {
      base = location.origin;
    }
    const accent = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(pick("accent") || "") ? pick("accent") : DEFAULTS.accent;
    const theme = pick("theme");
    const tags = (pick("tags") || "")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t && t.length <= 64)
      .slice(0, 10);
    return {
      base,
      title: (pick("title") || DEFAULTS.title).slice(0, 80),
      greeting: (pick("greeting") || DEFAULTS.greeting).slice(0, 600),
      placeholder: (pick("placeholder") || DEFAULTS.placeholder).slice(0, 120),
      accent,
      position: pick("position") === "left" ? "left" : "right",
      theme: theme === "light" || theme === "dark" ? theme : "auto",
      height: Math.min(Math.max(parseInt(pick("height") || "600", 10) || 600, 360), 2000),
      tags,
    };
  }

  /* ---------------------------------------------------------------- links */

  // Only http(s) URLs (absolute, or relative to the KB) ever become links.
  function safeUrl(raw, base) {
    if (typeof raw !== "string" || !raw || raw.length > 2048) return null;
    try {
      const url = new URL(raw, base + "/");
      return url.protocol === "https:" || url.protocol === "http:" ? url : null;
    } catch (_) {
      return null;
    }
  }

  // `url#anchor:~:text=first%20words` highlights the quoted sentence where supported; a
  // quoted table row (cells joined by " | ") highlights from its first cell to its last.
  function withTextFragment(url, quote) {
    const encode = (text) => encodeURIComponent(text).replace(/[-!'()*~,&]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
    const lines = String(quote || "").split("\n").filter((l) => l.trim());
    const last = lines.length ? lines[lines.length - 1] : "";
    let directive;
    if (last.includes(" | ")) {
      const cells = last.split(" | ").map((c) => c.replace(/\s+/g, " ").trim()).filter(Boolean);
      if (!cells.length) return url;
      directive = cells.length > 1 ? encode(cells[0]) + "," + encode(cells[cells.length - 1]) : encode(cells[0]);
    } else {
      const words = String(quote || "").replace(/\s+/g, " ").trim().split(" ").slice(0, 8).join(" ");
      if (!words) return url;
      directive = encode(words);
    }
    const out = new URL(url.href);
    out.hash = url.hash.slice(1) + ":~:text=" + directive;
    return out;
  }

  function link(url, attrs, ...children) {
    const a = h("a", attrs, ...children);
    a.href = url.href;
    if (url.origin !== location.origin) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  /* ---------------------------------------------------------------- SSE */

  async function readEvents(body, onEvent, onChunk) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const dispatch = (block) => {
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line[0] === ":") continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return;
      let parsed;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch (_) {
        return;
      }
      onEvent(name, parsed && typeof parsed === "object" ? parsed : {});
    };
    for (;;) {
      const { value, done } = await reader.read();
      onChunk();
      buffer += (done ? decoder.decode() : decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
      if (done) {
        if (buffer.trim()) dispatch(buffer);
        return;
      }
    }
  }

  function friendly(error) {
    const wait = Math.max(1, Math.min(Number(error.retryAfter) || 0, 300));
    if (error.status === 429)
      return `You're sending messages a little fast. Please wait ${wait} second${wait === 1 ? "" : "s"} and try again.`;
    if (error.status === 503) return "The assistant is temporarily unavailable. Please try again in a moment.";
    if (error.status === 413 || error.status === 422) return "That message couldn't be sent. Try a shorter question.";
    if (error.status === 408) return "The answer took too long. Please try again.";
    if (error.status) return "Something went wrong on our side. Please try again.";
    return "We couldn't reach the assistant. Check your connection and try again.";
  }

  /* ---------------------------------------------------------------- styles */

  const CSS = `
:host(:not([data-kb-inline])){all:initial!important}
:host([data-kb-inline]){display:block}
.root{--bg:#fff;--fg:#191c24;--muted:#5e6573;--surface:#f3f4f7;--border:#e4e6ec;--card:#fff;
--soft:color-mix(in srgb,var(--accent) 10%,#fff);--link:var(--link-l);--err-bg:#fef3f2;--err-fg:#b42318;
--shadow:0 24px 60px -12px rgba(17,24,39,.28),0 8px 20px -8px rgba(17,24,39,.12);
all:initial;display:block;font:14.5px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;
color:var(--fg);-webkit-font-smoothing:antialiased;text-align:left;direction:ltr;letter-spacing:normal;
word-spacing:normal;text-transform:none;text-indent:0;white-space:normal}
.root[data-theme=dark]{--bg:#15171d;--fg:#e9ebf1;--muted:#a7adba;--surface:#20232c;--border:#2c303b;--card:#1b1e26;
--soft:color-mix(in srgb,var(--accent) 22%,#15171d);--link:var(--link-d);--err-bg:#3b1f22;--err-fg:#fda29b;
--shadow:0 24px 60px -12px rgba(0,0,0,.6),0 8px 20px -8px rgba(0,0,0,.5)}
@media (prefers-color-scheme:dark){.root[data-theme=auto]{--bg:#15171d;--fg:#e9ebf1;--muted:#a7adba;--surface:#20232c;
--border:#2c303b;--card:#1b1e26;--soft:color-mix(in srgb,var(--accent) 22%,#15171d);--link:var(--link-d);
--err-bg:#3b1f22;--err-fg:#fda29b;--shadow:0 24px 60px -12px rgba(0,0,0,.6),0 8px 20px -8px rgba(0,0,0,.5)}}
*,*::before,*::after{box-sizing:border-box}
button,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer;background:none;border:0;padding:0}
button:disabled{cursor:default}
:focus{outline:none}
:focus-visible{outline:2px solid var(--link);outline-offset:2px}
[hidden]{display:none!important}
.launcher{position:fixed;bottom:24px;right:24px;z-index:2147483000;width:56px;height:56px;border-radius:50%;
display:grid;place-items:center;background:var(--accent);color:var(--on-accent);
box-shadow:0 10px 28px -6px rgba(17,24,39,.35),0 3px 8px rgba(17,24,39,.16);transition:transform .18s ease,box-shadow .18s ease}
.launcher:hover{transform:translateY(-2px) scale(1.04)}
.launcher:focus-visible{outline:3px solid var(--link);outline-offset:3px}
.launcher svg{transition:transform .2s ease,opacity .2s ease}
.root[data-position=left] .launcher{right:auto;left:24px}
.panel{position:fixed;bottom:92px;right:24px;z-index:2147483001;width:400px;height:min(680px,calc(100vh - 116px));
display:flex;flex-direction:column;background:var(--bg);border-radius:18px;overflow:hidden;box-shadow:var(--shadow);
border:1px solid var(--border);animation:kb-in .2s cubic-bezier(.2,.8,.2,1)}
.root[data-position=left] .panel{right:auto;left:24px}
.root[data-mode=inline] .panel{position:relative;bottom:auto;right:auto;left:auto;width:100%;height:var(--height);
box-shadow:0 1px 3px rgba(17,24,39,.08);animation:none;z-index:auto}
@keyframes kb-in{from{opacity:0;transform:translateY(10px) scale(.98)}}
.head{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;background:var(--accent) linear-gradient(135deg,var(--accent),var(--accent-2));
color:var(--on-accent);flex:none}
.avatar{width:36px;height:36px;border-radius:12px;display:grid;place-items:center;flex:none;
background:color-mix(in srgb,var(--on-accent) 16%,transparent)}
.id{flex:1;min-width:0}
.title{margin:0;font-size:15.5px;font-weight:650;line-height:1.3;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sub{margin:1px 0 0;font-size:12.5px;opacity:.88;line-height:1.3}
.hbtn{width:34px;height:34px;border-radius:10px;display:grid;place-items:center;color:var(--on-accent);transition:background .15s}
.hbtn:hover{background:color-mix(in srgb,var(--on-accent) 16%,transparent)}
.hbtn:focus-visible{outline:2px solid var(--on-accent);outline-offset:-2px}
.log{position:relative;flex:1;overflow-y:auto;padding:18px 16px 8px;overscroll-behavior:contain}
.msg{display:flex;flex-direction:column;margin:0 0 16px;animation:kb-msg .22s ease-out}
@keyframes kb-msg{from{opacity:0;transform:translateY(4px)}}
.msg.user{align-items:flex-end}
.bubble{max-width:92%;padding:10px 14px;border-radius:16px;overflow-wrap:anywhere}
.user .bubble{background:var(--accent);color:var(--on-accent);border-bottom-right-radius:5px;white-space:pre-wrap;max-width:85%}
.assistant .bubble{background:var(--surface);border-bottom-left-radius:5px}
.bubble p{margin:0 0 8px}.bubble p:last-child,.bubble ul:last-child,.bubble ol:last-child{margin-bottom:0}
.bubble ul,.bubble ol{margin:0 0 8px;padding-left:20px}
.bubble code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--border);border-radius:4px;padding:1px 4px}
.bubble pre.code{margin:6px 0;padding:8px 10px;background:var(--border);border-radius:8px;overflow-x:auto;white-space:pre}
.bubble pre.code code{background:none;padding:0}
.nb{white-space:nowrap}
.ref{font-size:10.5px;line-height:1;vertical-align:baseline;position:relative;top:-4px;margin-left:3px}
.nb+.nb .ref,.ref+.ref{margin-left:2px}
.ref a,.ref span{display:inline-block;min-width:17px;height:17px;padding:0 5px;border-radius:9px;background:var(--soft);
color:var(--link);text-decoration:none;font-weight:700;text-align:center;line-height:17px}
.ref a:hover{background:var(--accent);color:var(--on-accent)}
.ref span{opacity:.6}
.caret{display:inline-block;width:7px;height:15px;margin-left:2px;vertical-align:-2px;border-radius:2px;background:var(--muted);
animation:kb-blink 1s steps(2) infinite}
@keyframes kb-blink{50%{opacity:0}}
.typing{display:inline-flex;gap:4px;padding:4px 0}
.typing i{width:7px;height:7px;border-radius:50%;background:var(--muted);animation:kb-dot 1.2s infinite ease-in-out}
.typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}
@keyframes kb-dot{0%,80%,100%{opacity:.3;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}
.label{margin:12px 0 6px;font-size:11.5px;font-weight:650;letter-spacing:.06em;text-transform:uppercase;color:var(--muted)}
.sources{width:100%;max-width:100%;margin:0;padding:0;list-style:none;display:grid;gap:6px}
.source{display:flex;gap:10px;padding:9px 11px;border:1px solid var(--border);border-radius:12px;background:var(--card);
text-decoration:none;color:var(--fg);transition:border-color .15s,background .15s}
.source:hover{border-color:color-mix(in srgb,var(--accent) 55%,var(--border));background:var(--soft)}
.num{flex:none;width:20px;height:20px;border-radius:6px;background:var(--soft);color:var(--link);font-size:11.5px;font-weight:700;
display:grid;place-items:center;margin-top:1px}
.stext{min-width:0;display:flex;flex-direction:column;gap:2px}
.path{font-size:13px;font-weight:600;color:var(--link);line-height:1.35}
.path svg{vertical-align:-1px;margin-left:3px}
.art{color:var(--fg);font-weight:500}
.quote{font-size:12.5px;color:var(--muted);line-height:1.45;display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;white-space:pre-line}
.bubble table{border-collapse:collapse;margin:6px 0;font-size:13px;display:block;overflow-x:auto;max-width:100%}
.bubble th,.bubble td{border:1px solid var(--border);padding:4px 8px;text-align:left;vertical-align:top}
.bubble th{background:var(--soft);font-weight:600}
.suggest{display:flex;flex-direction:column;gap:6px;width:100%}
.suggest a{display:flex;align-items:center;gap:8px;padding:9px 11px;border:1px solid var(--border);border-radius:12px;color:var(--link);
text-decoration:none;font-weight:600;font-size:13.5px;background:var(--card)}
.suggest a:hover{background:var(--soft)}
.fb{display:flex;align-items:center;gap:2px;margin-top:8px;font-size:12.5px;color:var(--muted)}
.fb span{margin-right:6px}
.fbtn{width:28px;height:28px;border-radius:8px;display:grid;place-items:center;color:var(--muted);transition:background .15s,color .15s}
.fbtn:hover:not(:disabled){background:var(--surface);color:var(--fg)}
.fbtn[aria-pressed=true]{color:var(--link);background:var(--soft)}
.fbtn:disabled:not([aria-pressed=true]){opacity:.45}
.fbform{width:100%;margin-top:8px;display:flex;flex-direction:column;gap:8px}
.fbform textarea{width:100%;min-height:64px;resize:vertical;padding:8px 10px;border:1px solid var(--border);border-radius:10px;
background:var(--bg);font-size:13.5px;line-height:1.45}
.fbform textarea:focus-visible{outline:2px solid var(--link);outline-offset:0;border-color:transparent}
.row{display:flex;gap:8px;justify-content:flex-end}
.btn{height:32px;padding:0 12px;border-radius:9px;font-size:13px;font-weight:600;display:inline-flex;align-items:center;gap:6px}
.btn.primary{background:var(--accent);color:var(--on-accent)}
.btn.ghost{color:var(--muted)}.btn.ghost:hover{background:var(--surface);color:var(--fg)}
.btn.outline{border:1px solid currentColor;color:var(--err-fg);background:transparent}
.btn:disabled{opacity:.55}
.error{display:flex;gap:10px;align-items:flex-start;max-width:88%;padding:10px 12px;border-radius:14px;background:var(--err-bg);color:var(--err-fg);font-size:13.5px}
.error svg{flex:none;margin-top:2px}
.error .btn{margin-top:8px}
.partial{opacity:.7;margin-bottom:6px}
.composer{flex:none;padding:10px 12px 12px;border-top:1px solid var(--border);background:var(--bg)}
.field{display:flex;align-items:flex-end;gap:8px;padding:6px 6px 6px 14px;border:1px solid var(--border);border-radius:14px;background:var(--bg);
transition:border-color .15s,box-shadow .15s}
.field:focus-within{border-color:var(--link);box-shadow:0 0 0 3px color-mix(in srgb,var(--accent) 22%,transparent)}
.field textarea{flex:1;border:0;background:transparent;resize:none;padding:7px 0;max-height:140px;min-height:22px;line-height:1.45;font-size:14.5px}
.field textarea::placeholder{color:var(--muted);opacity:1}
.field textarea:focus-visible{outline:none}
.send{width:36px;height:36px;flex:none;border-radius:10px;display:grid;place-items:center;background:var(--accent);color:var(--on-accent);transition:opacity .15s,transform .15s}
.send:disabled{opacity:.35}
.send:not(:disabled):hover{transform:translateY(-1px)}
.note{margin:7px 2px 0;font-size:11.5px;color:var(--muted);text-align:center}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.root[data-mode=floating] .panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0;border:0}
.root[data-mode=floating][data-open] .launcher{display:none}.launcher{bottom:16px;right:16px}
.root[data-position=left] .launcher{left:16px}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important;scroll-behavior:auto!important}}
`;

  function applyStyles(shadow) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet]; // not subject to the host page's CSP style-src
    } catch (_) {
      shadow.append(h("style", null, CSS));
    }
  }

  /* ---------------------------------------------------------------- widget */

  class Widget {
    constructor(host, config, inline) {
      this.host = host;
      this.config = config;
      this.inline = inline;
      this.key = "kb-widget:" + config.base;
      this.state = this.load();
      this.busy = false;
      this.controller = null;
      this.views = new Map();
      this.frame = 0;
      this.build();
      this.renderAll();
      if (!inline && this.state.open) this.open(false);
      // Leaving the page aborts a running answer: that is an interruption, not an error.
      const leaving = () => (this.unloading = true);
      window.addEventListener("beforeunload", leaving);
      window.addEventListener("pagehide", leaving);
    }

    /* ---- persistence (sessionStorage: survives reloads, ends with the tab) */
    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
        if (saved && saved.v === 1 && Array.isArray(saved.messages)) {
          saved.messages = saved.messages.filter(
            (m) => m && typeof m.id === "string" && typeof m.text === "string" && (m.role === "user" || m.role === "assistant"),
          );
          for (const m of saved.messages)
            if (m.role === "assistant" && m.pending) {
              // The page was left mid-answer: offer to ask again.
              delete m.pending;
              m.error = { status: 0, message: "The answer was interrupted. Please try again." };
            }
          if (typeof saved.conversationId !== "string" || !ID_RE.test(saved.conversationId)) saved.conversationId = null;
          return saved;
        }
      } catch (_) {
        /* storage disabled or corrupt: start fresh */
      }
      return { v: 1, conversationId: null, messages: [], open: false };
    }

    save() {
      try {
        sessionStorage.setItem(this.key, JSON.stringify(this.state));
      } catch (_) {
        /* quota or privacy mode: the conversation lives in memory only */
      }
    }

    emit(name, detail) {
      this.host.dispatchEvent(new CustomEvent("kb:" + name, { detail, bubbles: true, composed: true }));
    }

    /* ---- DOM */
    build() {
      const c = this.config;
      const shadow = this.host.shadowRoot || this.host.attachShadow({ mode: "open" });
      applyStyles(shadow);
      const on = rgb(c.accent);
      const white = [255, 255, 255];
      const ink = [17, 19, 24];
      const onAccent = contrast(white, on) >= contrast(ink, on) ? white : ink;
      const root = h("div", {
        class: "root",
        "data-theme": c.theme,
        "data-position": c.position,
        "data-mode": this.inline ? "inline" : "floating",
        onkeydown: (e) => this.onKey(e),
      });
      root.style.setProperty("--accent", c.accent);
      root.style.setProperty("--accent-2", toHex(mix(on, onAccent === white ? [0, 0, 0] : white, 0.18)));
      root.style.setProperty("--on-accent", toHex(onAccent));
      // Links sit on the panel, bubbles and cards: reach 4.5:1 on the least contrasting one.
      root.style.setProperty("--link-l", readable(on, rgb("#eceef3")));
      root.style.setProperty("--link-d", readable(on, rgb("#262a35")));
      root.style.setProperty("--height", c.height + "px");
      this.root = root;

      const panelId = "kb-panel";
      if (!this.inline) {
        this.launcher = h(
          "button",
          {
            class: "launcher", type: "button", "data-kb-launcher": true, "aria-haspopup": "dialog",
            "aria-expanded": "false", "aria-controls": panelId, "aria-label": "Open chat: " + c.title,
            onclick: () => this.toggle(),
          },
          icon("chat", 26),
        );
      }
      this.stick = true;
      this.log = h("div", {
        class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0",
        onscroll: () => (this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 48),
      });
      this.input = h("textarea", {
        "data-kb-input": true, rows: "1", maxlength: String(MAX_MESSAGE), placeholder: c.placeholder,
        "aria-label": "Your question", enterkeyhint: "send",
        oninput: () => this.resizeInput(),
        onkeydown: (e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
            e.preventDefault();
            this.submit();
          }
        },
      });
      this.sendButton = h("button", { class: "send", type: "submit", "aria-label": "Send", "data-kb-send": true }, icon("send", 18));
      const form = h(
        "form",
        { class: "composer", onsubmit: (e) => (e.preventDefault(), this.submit()) },
        h("div", { class: "field" }, this.input, this.sendButton),
        h("p", { class: "note" }, "Answers come from our docs and link to their sources."),
      );
      this.panel = h(
        "section",
        {
          class: "panel", id: panelId, role: "dialog", "aria-label": c.title, "aria-modal": "false",
          hidden: !this.inline,
        },
        h(
          "div",
          { class: "head" },
          h("div", { class: "avatar" }, icon("spark", 20)),
          h("div", { class: "id" }, h("h2", { class: "title" }, c.title), h("p", { class: "sub" }, "Answers from our docs, with sources")),
          h("button", { class: "hbtn", type: "button", "aria-label": "New conversation", title: "New conversation", "data-kb-new": true, onclick: () => this.reset(true) }, icon("edit", 18)),
          this.inline ? null : h("button", { class: "hbtn", type: "button", "aria-label": "Close chat", title: "Close", "data-kb-close": true, onclick: () => this.close() }, icon("close", 20)),
        ),
        this.log,
        form,
      );
      root.append(this.panel);
      if (this.launcher) root.append(this.launcher);
      shadow.append(root);
    }

    resizeInput() {
      const el = this.input;
      el.style.height = "auto";
      el.style.height = Math.min(el.scrollHeight, 140) + "px";
      this.sendButton.disabled = this.busy || !el.value.trim();
    }

    onKey(e) {
      if (e.key === "Escape" && !this.inline && !this.panel.hidden) {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      }
    }

    /* ---- open / close */
    isOpen() {
      return this.inline || !this.panel.hidden;
    }

    open(focus = true) {
      if (this.inline) return focus && this.input.focus();
      this.panel.hidden = false;
      this.root.setAttribute("data-open", "");
      this.launcher.setAttribute("aria-expanded", "true");
      this.launcher.setAttribute("aria-label", "Close chat: " + this.config.title);
      this.launcher.replaceChildren(icon("down", 26));
      this.state.open = true;
      this.save();
      this.scrollToEnd();
      if (focus) this.input.focus();
      this.emit("open", {});
    }

    close() {
      if (this.inline || this.panel.hidden) return;
      this.panel.hidden = true;
      this.root.removeAttribute("data-open");
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.setAttribute("aria-label", "Open chat: " + this.config.title);
      this.launcher.replaceChildren(icon("chat", 26));
      this.state.open = false;
      this.save();
      this.launcher.focus();
      this.emit("close", {});
    }

    toggle() {
      if (this.isOpen() && !this.inline) this.close();
      else this.open();
    }

    reset(focus) {
      if (this.controller) this.controller.abort();
      this.state = { v: 1, conversationId: null, messages: [], open: this.state.open };
      this.save();
      this.renderAll();
      this.setBusy(false);
      if (focus) this.input.focus();
      this.emit("reset", {});
    }

    /* ---- rendering */
    renderAll() {
      this.views.clear();
      const greeting = h(
        "div",
        { class: "msg assistant", "data-kb-message": "assistant", "data-kb-greeting": true },
        h("div", { class: "bubble" }, this.config.greeting),
      );
      this.log.replaceChildren(greeting, ...this.state.messages.map((m) => this.view(m)));
      this.scrollToEnd();
    }

    update(message) {
      const old = this.views.get(message.id);
      const fresh = this.view(message);
      if (old && old.isConnected) old.replaceWith(fresh);
      else this.log.append(fresh);
      if (!this.stick) return;
      // Follow the answer, but never scroll its beginning out of view.
      const log = this.log;
      const top = message.role === "assistant" && !message.pending ? fresh.offsetTop - 12 : Infinity;
      log.scrollTop = Math.min(log.scrollHeight, top);
      this.stick = true;
    }

    scheduleUpdate(message) {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.update(message);
      });
    }

    scrollToEnd() {
      this.log.scrollTop = this.log.scrollHeight;
      this.stick = true;
    }

    view(m) {
      const el = h("div", { class: "msg " + m.role, "data-kb-message": m.role });
      this.views.set(m.id, el);
      if (m.role === "user") {
        el.append(h("div", { class: "bubble" }, m.text));
        return el;
      }
      el.setAttribute("data-kb-state", m.error ? "error" : m.pending ? (m.text ? "streaming" : "waiting") : "done");
      const citations = Array.isArray(m.citations) ? m.citations.filter((c) => c && typeof c === "object") : [];
      if (m.error) {
        if (m.text) el.append(this.answerBubble(m.text, citations, true, "bubble partial"));
        el.append(this.errorBox(m));
        return el;
      }
      if (m.pending && !m.text) {
        el.append(h("div", { class: "bubble", "aria-label": "The assistant is typing" }, h("span", { class: "typing" }, h("i"), h("i"), h("i"))));
        return el;
      }
      el.append(this.answerBubble(m.text, citations, !!m.pending, "bubble"));
      if (m.pending) return el;
      const sources = citations.map((c) => this.source(c)).filter(Boolean);
      if (sources.length) el.append(h("div", { class: "label", id: "src-" + m.id }, "From the docs"), h("ol", { class: "sources", "aria-labelledby": "src-" + m.id }, sources));
      if (m.grounded === false) {
        const links = (Array.isArray(m.suggestions) ? m.suggestions : [])
          .map((s) => s && safeUrl(s.url, this.config.base) && link(safeUrl(s.url, this.config.base), { "data-kb-suggestion": true, onclick: (e) => this.leaving(e) }, icon("doc", 16), String(s.title || s.url)))
          .filter(Boolean);
        if (links.length) el.append(h("div", { class: "label" }, "These articles may help"), h("div", { class: "suggest" }, links));
      }
      el.append(this.feedback(m));
      return el;
    }

    answerBubble(text, citations, streaming, cls) {
      const byId = new Map(citations.map((c) => [Number(c.id), c]));
      const bubble = h("div", { class: cls });
      // Fenced code (a command or snippet an answer quotes) renders as code, untouched.
      const pieces = String(text || "").split(/^```[^\n]*$/m);
      pieces.forEach((piece, i) => {
        if (i % 2 === 1) {
          bubble.append(h("pre", { class: "code" }, h("code", null, piece.replace(/^\n|\n$/g, ""))));
          return;
        }
        this.prose(bubble, piece, byId, streaming);
      });
      if (streaming && cls === "bubble") (bubble.lastChild || bubble).append(h("span", { class: "caret", "aria-hidden": "true" }));
      return bubble;
    }

    prose(bubble, text, byId, streaming) {
      const blocks = String(text || "").split(/\n{2,}/);
      for (const block of blocks) {
        const lines = block.split("\n").filter((l) => l.trim());
        if (!lines.length) continue;
        // A Markdown table (a quoted table row under its header row) renders as a table.
        const row = /^\|(.*)\|$/;
        if (lines.length >= 3 && lines.every((l) => row.test(l)) && /^\|(\s*:?-+:?\s*\|)+$/.test(lines[1])) {
          const cells = (line) => row.exec(line)[1].split(" | ").map((c) => c.trim());
          const head = h("tr", null, ...cells(lines[0]).map((c) => this.rich(h("th", { scope: "col" }), c, byId, streaming)));
          const body = lines.slice(2).map((l) => h("tr", null, ...cells(l).map((c) => this.rich(h("td"), c, byId, streaming))));
          bubble.append(h("table", null, h("thead", null, head), h("tbody", null, ...body)));
          continue;
        }
        const bullet = /^\s*(?:[-*•]|\d+[.)])\s+/;
        if (lines.every((l) => bullet.test(l))) {
          const list = h(/^\s*\d/.test(lines[0]) ? "ol" : "ul");
          for (const line of lines) list.append(this.rich(h("li"), line.replace(bullet, ""), byId, streaming));
          bubble.append(list);
        } else {
          const p = h("p");
          lines.forEach((line, i) => {
            if (i) p.append(h("br"));
            this.rich(p, line, byId, streaming);
          });
          bubble.append(p);
        }
      }
    }

    // Text with [n] markers, **bold** and `code`, as nodes (never HTML).
    rich(parent, text, byId, streaming) {
      const re = /\[(\d{1,3})\]|\*\*([^*\n]+)\*\*|`([^`\n]+)`/g;
      let last = 0;
      let match;
      while ((match = re.exec(text))) {
        let before = text.slice(last, match.index);
        last = re.lastIndex;
        if (match[2]) parent.append(before, h("strong", null, match[2]));
        else if (match[3]) parent.append(before, h("code", null, match[3]));
        else {
          const n = Number(match[1]);
          const citation = byId.get(n);
          const url = citation && safeUrl(citation.url, this.config.base);
          let sup = null;
          if (url) {
            const label = `Source ${n}: ${this.path(citation)}`;
            sup = link(withTextFragment(url, citation.quote), { "data-kb-citation": true, "aria-label": label, title: label, onclick: (e) => this.leaving(e) }, String(n));
          } else if (streaming) sup = h("span", null, String(n));
          // A marker hugs the word before it (no space, no line break in between).
          if (sup) {
            const [, head, word] = /^([\s\S]*?)(\S*)\s*$/.exec(before);
            parent.append(head, h("span", { class: "nb" }, word, h("sup", { class: "ref" }, sup)));
          }
          else parent.append(before, match[0]);
        }
      }
      parent.append(text.slice(last));
      return parent;
    }

    path(c) {
      const title = String(c.title || "");
      const heading = String(c.heading || "");
      return heading && heading !== title ? `${title} › ${heading}` : title || heading;
    }

    pathNodes(c) {
      const title = String(c.title || "");
      const heading = String(c.heading || "");
      const path = h("span", { class: "path" });
      if (heading && heading !== title) path.append(h("span", { class: "art" }, title), " › ", heading);
      else path.append(title || heading);
      return path;
    }

    source(c) {
      const url = safeUrl(c.url, this.config.base);
      if (!url) return null;
      const a = link(
        withTextFragment(url, c.quote),
        { class: "source", "data-kb-citation": true, onclick: (e) => this.leaving(e) },
        h("span", { class: "num", "aria-hidden": "true" }, String(c.id)),
        h("span", { class: "stext" }, this.pathNodes(c), c.quote ? h("span", { class: "quote" }, "“" + String(c.quote) + "”") : null),
      );
      if (a.target === "_blank") a.querySelector(".path").append(icon("ext", 12), h("span", { class: "sr" }, " (opens in a new tab)"));
      return h("li", null, a);
    }

    // Following a same-tab link: close the panel so the target section is visible there.
    leaving(e) {
      const a = e.currentTarget;
      if (a.target !== "_blank" && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
        this.state.open = false;
        this.save();
      }
    }

    errorBox(m) {
      const label = h("span", null, "Retry");
      const retry = h("button", { class: "btn outline", type: "button", "data-kb-retry": true, onclick: () => this.retry(m) }, icon("retry", 14), label);
      const wait = Math.min(Number(m.error.retryAfter) || 0, 60) * 1000;
      const tick = () => {
        const left = Math.ceil((wait - (Date.now() - (m.error.at || 0))) / 1000);
        retry.disabled = left > 0;
        label.textContent = retry.disabled ? `Retry in ${left}s` : "Retry";
        if (retry.disabled) setTimeout(tick, 500);
      };
      tick();
      return h("div", { class: "error", role: "alert", "data-kb-error": true }, icon("alert", 18), h("div", null, h("div", null, m.error.message), retry));
    }

    feedback(m) {
      const bar = h("div", { class: "fb" });
      const rated = m.rating;
      const button = (rating, name, label) =>
        h("button", {
          class: "fbtn", type: "button", "aria-label": label, title: label, "data-kb-feedback": rating,
          "aria-pressed": rated === rating ? "true" : "false", disabled: !!rated,
          onclick: () => (rating === "up" ? this.rate(m, "up", null, bar) : this.askComment(m, bar)),
        }, icon(name, 16));
      bar.append(
        h("span", null, rated ? "Thanks for your feedback" : "Was this helpful?"),
        button("up", "up", "Helpful"),
        button("down", "thumbdown", "Not helpful"),
      );
      return bar;
    }

    askComment(m, bar) {
      if (bar.nextSibling && bar.nextSibling.classList && bar.nextSibling.classList.contains("fbform")) return;
      const text = h("textarea", { maxlength: "2000", placeholder: "What was wrong or missing? (optional)", "aria-label": "Comment (optional)", "data-kb-comment": true });
      const form = h(
        "form",
        { class: "fbform", onsubmit: (e) => (e.preventDefault(), this.rate(m, "down", text.value.trim() || null, bar), form.remove()) },
        text,
        h("div", { class: "row" },
          h("button", { class: "btn ghost", type: "button", onclick: () => (this.rate(m, "down", null, bar), form.remove()) }, "Skip"),
          h("button", { class: "btn primary", type: "submit" }, "Send feedback")),
      );
      bar.after(form);
      text.focus();
    }

    async rate(m, rating, comment, bar) {
      m.rating = rating;
      this.save();
      bar.replaceWith((bar = this.feedback(m)));
      const question = m.question || "";
      const body = {
        conversation_id: this.state.conversationId || uid(),
        message_id: m.messageId || m.id, // the server's id joins the rating to its logged turn
        rating,
        question: question.slice(0, 2000) || undefined,
        answer: String(m.text || "").slice(0, 8000) || undefined,
        citations: (m.citations || []).map((c) => safeUrl(c.url, this.config.base)).filter(Boolean).map((u) => u.href).slice(0, 50),
      };
      if (comment) body.comment = comment.slice(0, 2000);
      this.emit("feedback", { ...body });
      try {
        const res = await fetch(this.config.base + "/v1/feedback", {
          method: "POST", mode: "cors", credentials: "omit",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(String(res.status));
      } catch (_) {
        bar.firstChild.textContent = "Couldn't send feedback";
      }
    }

    /* ---- asking */
    setBusy(busy) {
      this.busy = busy;
      this.log.setAttribute("aria-busy", busy ? "true" : "false");
      this.sendButton.disabled = busy || !this.input.value.trim();
    }

    submit() {
      const text = this.input.value.trim();
      if (!text || this.busy) return;
      this.input.value = "";
      this.resizeInput();
      this.ask(text);
    }

    ask(text) {
      text = String(text || "").trim().slice(0, MAX_MESSAGE);
      if (!text || this.busy) return;
      if (!this.isOpen()) this.open();
      const user = { id: uid(), role: "user", text };
      this.state.messages.push(user);
      this.stick = true;
      this.update(user);
      this.emit("question", { text });
      this.run(text);
    }

    retry(m) {
      const messages = this.state.messages;
      const index = messages.indexOf(m);
      if (index < 0 || this.busy || typeof m.question !== "string") return;
      messages.splice(index, 1);
      const view = this.views.get(m.id);
      if (view) view.remove();
      this.run(m.question);
    }

    history() {
      const turns = [];
      for (const m of this.state.messages) {
        if (m.role !== "assistant" || m.error || m.pending || !m.text || !m.question) continue;
        turns.push({ role: "user", content: m.question.slice(0, MAX_TURN) }, { role: "assistant", content: m.text.slice(0, MAX_TURN) });
      }
      return turns.slice(-MAX_TURNS);
    }

    async run(question) {
      const state = this.state;
      if (!state.conversationId) state.conversationId = "w-" + uid();
      const body = { message: question, history: this.history(), conversation_id: state.conversationId, stream: true, channel: "widget" };
      if (this.config.tags.length) body.tags = this.config.tags;
      const m = { id: uid(), role: "assistant", text: "", question, pending: true };
      state.messages.push(m);
      this.update(m);
      this.setBusy(true);
      this.save();
      const controller = new AbortController();
      this.controller = controller;
      let stall = 0;
      let stalled = false;
      const arm = () => {
        clearTimeout(stall);
        stall = setTimeout(() => ((stalled = true), controller.abort()), STALL_MS);
      };
      let finished = false;
      try {
        arm();
        const res = await fetch(this.config.base + "/v1/chat", {
          method: "POST", mode: "cors", credentials: "omit", signal: controller.signal,
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify(body),
        });
        if (!res.ok) {
          let problem = {};
          try {
            problem = await res.json();
          } catch (_) {
            /* not JSON */
          }
          throw { status: res.status, retryAfter: res.headers.get("Retry-After") || problem.retry_after };
        }
        if (!res.body) throw { status: 0 };
        await readEvents(
          res.body,
          (name, data) => {
            if (name === "meta" && typeof data.conversation_id === "string" && ID_RE.test(data.conversation_id)) {
              state.conversationId = data.conversation_id;
              if (typeof data.message_id === "string" && ID_RE.test(data.message_id)) m.messageId = data.message_id;
            }
            else if (name === "delta" && typeof data.text === "string") {
              m.text += data.text;
              this.scheduleUpdate(m);
            } else if (name === "citations" && Array.isArray(data.citations)) m.citations = data.citations;
            else if (name === "done") {
              m.text = typeof data.answer === "string" ? data.answer : m.text; // authoritative
              m.citations = Array.isArray(data.citations) ? data.citations : m.citations || [];
              m.suggestions = Array.isArray(data.suggestions) ? data.suggestions : [];
              m.grounded = data.grounded !== false;
              if (typeof data.message_id === "string" && ID_RE.test(data.message_id)) m.messageId = data.message_id;
              finished = true;
            } else if (name === "error") throw { status: Number(data.status) || 500, retryAfter: data.retry_after };
          },
          arm,
        );
        if (!finished) throw { status: 0 };
        delete m.pending;
        this.emit("answer", { question, answer: m.text, grounded: m.grounded, citations: m.citations, conversationId: state.conversationId });
      } catch (error) {
        if (this.state !== state) return; // the conversation was reset meanwhile
        if (this.unloading) return; // stays pending: the next page offers a retry
        const status = stalled ? 408 : (error && error.status) || 0;
        if (error instanceof TypeError) corsHint(this.config.base);
        delete m.pending;
        m.error = { status, retryAfter: error && error.retryAfter, at: Date.now() };
        m.error.message = friendly(m.error);
        this.emit("error", { status, message: m.error.message });
      } finally {
        clearTimeout(stall);
        if (this.controller === controller) this.controller = null;
        if (this.state === state) {
          if (this.frame) cancelAnimationFrame(this.frame), (this.frame = 0);
          this.update(m);
          this.setBusy(false);
          this.save();
        }
      }
    }
  }

  /* A fetch that fails before any response from another origin is, nearly always, the
     service refusing this site (CORS): tell the page's developer how to allow it. */
  let hinted = false;
  function corsHint(base) {
    let origin;
    try {
      origin = new URL(base).origin;
    } catch (_) {
      return;
    }
    if (hinted || origin === location.origin) return;
    hinted = true;
    console.warn(
      "kb-chat: the request to " + base + " failed before any answer. If the console shows a " +
        "CORS error, add " + location.origin + " to KB_ALLOWED_ORIGINS on the service.",
    );
  }

  /* ---------------------------------------------------------------- boot */

  const instances = [];

  function mount(target) {
    if (target && target.__kbWidget) return target.__kbWidget;
    let host = target;
    const inline = !!target;
    if (!host) {
      host = document.createElement("div");
      host.setAttribute("data-kb-host", "");
      document.body.append(host);
    } else host.setAttribute("data-kb-inline", "");
    const widget = new Widget(host, readConfig(inline ? target : null), inline);
    Object.defineProperty(host, "__kbWidget", { value: widget });
    instances.push(widget);
    return widget;
  }

  function boot() {
    const targets = document.querySelectorAll("[data-kb-widget]");
    if (targets.length) targets.forEach((el) => mount(el));
    else mount(null);
    // Any element of the host page can open the chat or ask a question.
    document.addEventListener("click", (e) => {
      const el = e.target instanceof Element ? e.target.closest("[data-kb-open],[data-kb-ask]") : null;
      if (!el || !instances.length) return;
      e.preventDefault();
      const question = el.getAttribute("data-kb-ask");
      if (question) instances[0].ask(question);
      else instances[0].open();
    });
  }

  const first = () => instances[0];
  window.KBWidget = Object.freeze({
    open: () => first() && first().open(),
    close: () => first() && first().close(),
    toggle: () => first() && first().toggle(),
    reset: () => first() && first().reset(false),
    ask: (text) => first() && first().ask(text),
    mount: (el) => {
      if (el instanceof Element) mount(el);
    },
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot, { once: true });
  else boot();
})();
