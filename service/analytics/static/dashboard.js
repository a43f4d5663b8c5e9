/*! kb-chat owner dashboard | Apache-2.0 */
(() => {
  "use strict";
  const KEY = "kb-admin-token";
  const UNANSWERABLE = "__unanswerable__";
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const panels = $("panels");
  const login = $("login");
  const status = $("status");
  if (!panels || !login) return; // the dashboard is off (no KB_ADMIN_TOKEN)

  let plot = null;
  let loading = 0;

  const token = () => {
    try {
      return sessionStorage.getItem(KEY);
    } catch (_) {
      return null;
    }
  };
  const setToken = (value) => {
    try {
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
    } catch (_) {
      /* storage off: the token lives until the page closes */
    }
  };

  function say(text, kind) {
    status.textContent = text || "";
    status.className = "status" + (kind ? " " + kind : "");
  }

  function showLogin(error) {
    body.dataset.state = "login";
    login.hidden = false;
    $("controls").hidden = true;
    panels.replaceChildren();
    if (plot) plot.destroy(), (plot = null);
    const message = $("login-error");
    message.hidden = !error;
    message.textContent = error || "";
    $("token").focus();
  }

  async function problem(res) {
    try {
      const doc = await res.json();
      return doc.detail || doc.title || String(res.status);
    } catch (_) {
      return String(res.status);
    }
  }

  async function api(path, options) {
    const res = await fetch(path, {
      cache: "no-store",
      credentials: "omit",
      ...options,
      headers: { Authorization: "Bearer " + token(), ...((options && options.headers) || {}) },
    });
    if (res.status === 401 || res.status === 403) {
      setToken(null);
      showLogin("That token was refused. Enter the admin token (KB_ADMIN_TOKEN).");
      throw new Error("unauthorized");
    }
    return res;
  }

  async function load() {
    if (!token()) return showLogin();
    const ticket = ++loading;
    body.dataset.state = "loading";
    login.hidden = true;
    $("controls").hidden = false;
    say("Loading…");
    let res;
    try {
      res = await api("/admin/panels?since=" + encodeURIComponent($("window").value));
    } catch (error) {
      if (error.message !== "unauthorized") say("The service could not be reached.", "error"), (body.dataset.state = "error");
      return;
    }
    if (ticket !== loading) return;
    if (!res.ok) {
      body.dataset.state = "error";
      return say(await problem(res), "error");
    }
    panels.innerHTML = await res.text(); // rendered and escaped by the server
    say("");
    draw();
    body.dataset.state = "ready";
  }

  function draw() {
    const el = $("chart");
    if (plot) plot.destroy(), (plot = null);
    if (!el || typeof uPlot === "undefined") return;
    let series;
    try {
      series = JSON.parse(el.dataset.series || "{}");
    } catch (_) {
      return;
    }
    const xs = (series.dates || []).map((d) => Date.parse(d + "T00:00:00Z") / 1000);
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const grid = { stroke: dark ? "#2a2f3b" : "#eceef3", width: 1 };
    const axis = { stroke: dark ? "#a3a9b8" : "#596070", grid, ticks: grid };
    const line = (label, stroke) => ({ label, stroke, width: 2, points: { size: 5, fill: stroke } });
    plot = new uPlot(
      {
        width: Math.max(el.clientWidth, 240),
        height: el.clientWidth < 500 ? 200 : 260,
        scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(1, max)] } },
        axes: [axis, { ...axis, size: 40 }],
        series: [
          { label: "Day", value: (_, v) => (v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10)) },
          line("Answered", "#16a34a"),
          line("Refused", "#d97706"),
          line("Thumbs down", "#dc2626"),
        ],
        legend: { live: true },
      },
      [xs, series.answered || [], series.refused || [], series.thumbs_down || []],
      el,
    );
    el.dataset.drawn = String(xs.length);
  }

  async function act(button, path, payload, done) {
    button.disabled = true;
    say("Saving…");
    let res;
    try {
      res = await api(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
    } catch (error) {
      button.disabled = false;
      if (error.message !== "unauthorized") say("The service could not be reached.", "error");
      return;
    }
    if (!res.ok) {
      button.disabled = false;
      return say(await problem(res), "error");
    }
    const message = done(await res.json());
    await load();
    say(message, "ok");
  }

  login.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    setToken(value);
    $("token").value = "";
    load();
  });
  $("signout").addEventListener("click", () => {
    setToken(null);
    say("");
    showLogin();
  });
  $("window").addEventListener("change", load);

  panels.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest('[data-action="reviewed"]') : null;
    if (!button) return;
    const id = button.dataset.id;
    act(button, "/v1/admin/review/" + encodeURIComponent(id) + "/reviewed", {}, () => "Marked reviewed.");
  });
  panels.addEventListener("submit", (event) => {
    const form = event.target instanceof HTMLFormElement && event.target.matches("form.promote") ? event.target : null;
    if (!form) return;
    event.preventDefault();
    const article = form.elements.namedItem("article").value;
    const payload = article === UNANSWERABLE ? { unanswerable: true } : { article };
    act(form.querySelector("button"), "/v1/admin/review/" + encodeURIComponent(form.dataset.id) + "/promote", payload,
      (out) => `Added “${out.line.question}” to ${out.file} as ${out.id}.`);
  });

  let resizing = 0;
  addEventListener("resize", () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => {
      const el = $("chart");
      if (plot && el) plot.setSize({ width: Math.max(el.clientWidth, 240), height: el.clientWidth < 500 ? 200 : 260 });
    });
  });

  load();
})();
