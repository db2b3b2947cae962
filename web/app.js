// smsgw status page. Plain DOM, no framework, no build step.
// Everything that comes from the network is put on the page with textContent (never innerHTML):
// an SMS that says <img src=x onerror=...> is shown as those characters.
"use strict";

const REFRESH_MS = 2000;
const HIDDEN_REFRESH_MS = 10000;
const SVG = "http://www.w3.org/2000/svg";

let csrf = null;
let timer = null;
const revealed = new Map(); // inbound id -> the sender in full, once revealed

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function s(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

function show(id, visible) { $(id).hidden = !visible; }

function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function lasted(iso) {
  return iso ? ago(iso).replace(" ago", "") : "";
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { status: response.status, data };
}

// --- session ---------------------------------------------------------------------------------

function loggedOut(message) {
  csrf = null;
  clearTimeout(timer);
  timer = null;
  show("app", false);
  show("logout", false);
  show("gw-status", false);
  $("who").textContent = "";
  $("updated").textContent = "";
  show("login", true);
  $("login-error").textContent = message || "";
  $("key").focus();
}

function loggedIn(data) {
  csrf = data.csrf;
  $("who").textContent = `key ${data.key}`;
  show("login", false);
  show("app", true);
  show("logout", true);
  refresh();
}

async function login(event) {
  event.preventDefault();
  const input = $("key");
  const { status, data } = await call("POST", "/ui/login", { key: input.value.trim() });
  if (status === 200) {
    input.value = "";
    $("login-error").textContent = "";
    loggedIn(data);
  } else {
    $("login-error").textContent = (data && data.detail) || `login failed (${status})`;
  }
}

async function logout() {
  await call("POST", "/ui/logout");
  loggedOut("Logged out.");
}

// --- refresh ---------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(timer);
  let result;
  try {
    result = await call("GET", "/ui/api/overview");
  } catch (_) {
    $("updated").textContent = "gateway unreachable; retrying";
    timer = setTimeout(refresh, REFRESH_MS);
    return;
  }
  if (result.status === 401) {
    loggedOut("Your session ended; log in again.");
    return;
  }
  if (result.status === 200 && result.data) render(result.data);
  timer = setTimeout(refresh, document.hidden ? HIDDEN_REFRESH_MS : REFRESH_MS);
}

function render(data) {
  const gw = data.gateway || {};
  const status = $("gw-status");
  status.hidden = false;
  status.textContent = gw.can_send ? "sending" : (gw.status === "running" ? "cannot send" : gw.status);
  status.className = "pill " + (gw.can_send ? "ok" : "bad");
  $("updated").textContent = `updated ${clock(data.generated_at)}`;
  renderAlerts(data.alerts || []);
  renderModems(data.modems || []);
  renderTraffic(data.traffic);
  renderQueue(data.queue || {});
  renderFailures(data.failures || []);
  renderInbound(data.inbound || []);
}

function renderAlerts(alerts) {
  show("alerts-section", alerts.length > 0);
  $("alerts").replaceChildren(...alerts.map((a) =>
    h("li", { "data-alert": a.kind, "data-modem": a.modem_id },
      h("b", { text: a.modem_id }), `: ${a.detail} `,
      h("span", { class: "muted small", text: `since ${ago(a.raised_at)}` }))));
}

function bars(count, grade) {
  const kind = count <= 1 ? "weak" : count === 2 ? "fair" : "";
  return h("span", { class: `bars ${kind}`, title: grade, "aria-label": `${count} of 4 bars` },
    [1, 2, 3, 4].map((i) => h("i", { class: i <= count ? "on" : "" })));
}

function sparkline(points) {
  const svg = s("svg", { class: "spark", viewBox: "0 0 110 26", preserveAspectRatio: "none",
                         role: "img" });
  const title = s("title");
  title.textContent = "signal over the last hours";
  svg.append(title);
  const values = points.filter((p) => p !== null);
  if (!values.length) {
    svg.append(s("line", { x1: 0, y1: 25, x2: 110, y2: 25 }));
    return svg;
  }
  const low = Math.min(...values, -110), high = Math.max(...values, -60);
  const x = (i) => (points.length > 1 ? (i / (points.length - 1)) * 108 + 1 : 55);
  const y = (v) => 24 - ((v - low) / (high - low || 1)) * 22;
  let run = [];
  const flush = () => {
    if (run.length) svg.append(s("polyline", { points: run.join(" ") }));
    run = [];
  };
  points.forEach((v, i) => {
    if (v === null) { flush(); return; }
    run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    if (run.length === 1 && (i === points.length - 1 || points[i + 1] === null)) {
      run.push(`${(x(i) + 1).toFixed(1)},${y(v).toFixed(1)}`);
    }
  });
  flush();
  return svg;
}

function td(label, attrs, ...children) {
  // one wrapper per cell, so a phone's card layout has exactly a label and a value
  return h("td", { "data-label": label, ...attrs }, h("div", { class: "cell" }, ...children));
}

function actionButtons(m) {
  if (!m.id) return [];
  const buttons = [
    m.paused
      ? h("button", { type: "button", "data-action": "resume", onclick: () => act(m.id, "resume") },
        "Resume")
      : h("button", { type: "button", "data-action": "pause", onclick: () => act(m.id, "pause") },
        "Pause"),
    h("button", { type: "button", "data-action": "reset", onclick: () => act(m.id, "reset") },
      "Reset"),
    h("button", { type: "button", "data-action": "balance", onclick: () => act(m.id, "balance") },
      "Balance"),
  ];
  return buttons;
}

function health(m) {
  // the figures behind the alerts: submit latency, errors by class, storage, last inbound
  const lines = [];
  if (m.latency_s !== null && m.latency_s !== undefined) lines.push(`submit ${m.latency_s.toFixed(1)} s`);
  const errors = Object.entries(m.errors || {});
  if (errors.length) {
    lines.push(`errors ${errors.map(([k, v]) => `${k} ${v}`).join(", ")} of ${m.attempts}`);
  }
  if (m.storage_total) lines.push(`SIM storage ${m.storage_used}/${m.storage_total}`);
  if (m.last_inbound) lines.push(`last inbound ${ago(m.last_inbound)}`);
  return lines;
}

function renderModems(modems) {
  const counts = {};
  for (const m of modems) counts[m.state] = (counts[m.state] || 0) + 1;
  $("modem-summary").textContent = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
  const rows = modems.map((m) => {
    const balance = m.balance
      ? `balance ${m.balance.amount}${m.balance.currency ? " " + m.balance.currency : ""}`
      : (m.balance_error ? `balance: ${m.balance_error}` : null);
    const cap = m.cap ? ` / ${m.cap}` : "";
    const signalText = m.signal_dbm === null ? "no signal" : `${m.signal_dbm} dBm`;
    return h("tr", { "data-modem": m.id || m.path, "data-state": m.state },
      td("Modem", { class: "name" },
        h("b", { text: m.name || m.id || "(identifying)" }),
        h("span", { class: "sub mono", title: m.path, text: m.path.split("/").pop() })),
      td("Identity", { class: "identity" },
        h("span", { text: m.model || "" }),
        h("span", { class: "sub mono", text: m.imei ? `IMEI ${m.imei}` : "" }),
        h("span", { class: "sub mono", text: m.iccid ? `ICCID ${m.iccid}` : "" }),
        m.msisdn ? h("span", { class: "sub mono", text: m.msisdn }) : null),
      td("Network", { class: "network" },
        h("span", { class: "operator", text: m.operator || "—" }),
        h("span", { class: "sub registration", text: m.registration_text || "" }),
        h("span", { class: "sub", text: m.sim_state && m.sim_state !== "ready" ? `SIM ${m.sim_state.replace("_", " ")}` : "" })),
      td("Signal", {},
        h("div", { class: "signal" }, bars(m.signal_bars, m.signal_grade),
          h("span", { class: "dbm", text: signalText })),
        sparkline(m.sparkline || [])),
      td("State", {},
        h("span", { class: `pill state state-${m.state}`, text: m.state }),
        m.paused ? h("span", { class: "paused", text: " paused" }) : null,
        h("span", { class: "sub", title: m.since, text: `for ${lasted(m.since)}` }),
        (m.alerts || []).map((a) => h("span", { class: "alert-tag", "data-alert": a.kind, text: a.kind.replaceAll("_", " ") }))),
      td("Health", { class: "last-error" },
        h("span", { text: m.last_error || "" }),
        health(m).map((line) => h("span", { class: "sub", text: line })),
        balance ? h("span", { class: "sub balance", text: balance }) : null),
      td("Sent today", { class: "num sent" }, `${m.sent_today}${cap}`),
      td("Queue", { class: "num queue" }, String(m.queue)),
      td("Actions", { class: "actions" }, actionButtons(m)));
  });
  $("modems").tBodies[0].replaceChildren(...rows);
}

function renderTraffic(traffic) {
  const box = $("traffic-chart");
  if (!traffic) { box.replaceChildren(); return; }
  const W = 600, H = 190, L = 34, B = 20, T = 8;
  const series = ["sent", "delivered", "failed"];
  const n = traffic.sent.length;
  const top = Math.max(1, ...series.flatMap((k) => traffic[k]));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  const title = s("title");
  title.textContent = "messages per minute over the last hour";
  svg.append(title);
  const x = (i) => L + (i / Math.max(1, n - 1)) * (W - L - 4);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  svg.append(s("line", { class: "axis", x1: L, y1: y(0), x2: W - 4, y2: y(0) }));
  svg.append(s("line", { class: "axis", x1: L, y1: T, x2: L, y2: y(0) }));
  for (const [value, label] of [[top, String(top)], [0, "0"]]) {
    const text = s("text", { x: L - 4, y: y(value) + 4, "text-anchor": "end" });
    text.textContent = label;
    svg.append(text);
  }
  for (const [i, label] of [[0, "−60 min"], [Math.floor(n / 2), "−30"], [n - 1, "now"]]) {
    const text = s("text", { x: x(i), y: H - 4, "text-anchor": i === 0 ? "start" : i === n - 1 ? "end" : "middle" });
    text.textContent = label;
    svg.append(text);
  }
  for (const key of series) {
    svg.append(s("polyline", { class: key, points: traffic[key].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
  }
  box.replaceChildren(svg);
  const sum = (k) => traffic[k].reduce((a, b) => a + b, 0);
  $("traffic-totals").replaceChildren(...series.map((k) =>
    h("span", { class: k, "data-series": k }, h("i"), `${k} `, h("b", { class: "total", text: String(sum(k)) }))));
}

function renderQueue(queue) {
  $("queue").tBodies[0].replaceChildren(...Object.entries(queue).map(([lane, count]) =>
    h("tr", { "data-lane": lane }, h("th", { text: lane }), h("td", { class: "num", text: String(count) }))));
}

function renderFailures(failures) {
  show("failures-empty", failures.length === 0);
  $("failures").tBodies[0].replaceChildren(...failures.map((f) =>
    h("tr", {},
      h("td", { title: f.at, text: clock(f.at) }),
      h("td", { class: "mono", text: f.id }),
      h("td", { text: f.modem_id || "" }),
      h("td", { text: f.status }),
      h("td", { text: f.reason || "" }))));
}

async function reveal(id) {
  const { status, data } = await call("GET", `/ui/api/inbound/${encodeURIComponent(id)}`);
  if (status === 200 && data) {
    revealed.set(id, data.from);
    refresh();
  }
}

function renderInbound(messages) {
  show("inbound-empty", messages.length === 0);
  $("inbound").tBodies[0].replaceChildren(...messages.map((m) => {
    const full = revealed.get(m.id);
    const from = full
      ? h("span", { class: "mono from", text: full })
      : h("span", {}, h("span", { class: "mono from", text: m.from_masked }), " ",
        h("button", { type: "button", class: "link reveal", onclick: () => reveal(m.id) }, "reveal"));
    return h("tr", { "data-inbound": m.id },
      h("td", { title: m.received_at, text: clock(m.received_at) }),
      h("td", {}, h("span", { text: m.modem_id }), h("span", { class: "sub mono", text: m.to || "" })),
      h("td", {}, from),
      h("td", { class: "text", text: m.text }));
  }));
}

// --- actions ---------------------------------------------------------------------------------

async function act(modemId, action) {
  const note = $("action-result");
  note.textContent = `${action} ${modemId}…`;
  const { status, data } = await call("POST", `/ui/api/modems/${encodeURIComponent(modemId)}/${action}`);
  if (status === 401) { loggedOut("Your session ended; log in again."); return; }
  if (status >= 400) {
    note.textContent = `${action} ${modemId}: ${(data && data.detail) || "failed (" + status + ")"}`;
  } else if (action === "balance") {
    note.textContent = data.error
      ? `balance ${modemId}: ${data.error}`
      : `balance ${modemId}: ${data.amount}${data.currency ? " " + data.currency : ""} (“${data.answer}”)`;
  } else {
    note.textContent = `${action} ${modemId}: ${data.accepted ? "done" : "not taken"}, now ${data.state}`;
  }
  refresh();
}

// --- start -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  document.addEventListener("visibilitychange", () => { if (!document.hidden && csrf) refresh(); });
  const { status, data } = await call("GET", "/ui/api/session");
  if (status === 200 && data) loggedIn(data);
  else loggedOut("");
});
