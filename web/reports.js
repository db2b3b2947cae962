// smsgw reports page: delivery statistics, campaign progress and the agent inbox.
// Plain DOM, text only (textContent): message text is never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";
let current = null;

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options,
    { headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.detail || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function cell(row, value, numeric) {
  row.appendChild(el("td", value === null || value === undefined ? "–" : value,
    numeric ? "num" : ""));
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 120) return value.toFixed(1) + " s";
  if (value < 7200) return (value / 60).toFixed(1) + " min";
  return (value / 3600).toFixed(1) + " h";
}

function reportRow(row, r) {
  cell(row, r.key);
  cell(row, r.messages, true);
  cell(row, r.sent, true);
  cell(row, r.delivered, true);
  cell(row, r.failed, true);
  cell(row, r.delivery_rate === null ? null : (100 * r.delivery_rate).toFixed(1) + " %", true);
  cell(row, seconds(r.median_delivery_s), true);
  cell(row, r.replies, true);
  cell(row, r.opt_outs, true);
  cell(row, r.segments, true);
  cell(row, r.cost.toFixed(2) + " " + r.currency, true);
  cell(row, Object.entries(r.failed_by_reason).map(([k, v]) => k + ": " + v).join(", "));
}

function chart(rows) {
  const box = $("chart");
  box.replaceChildren();
  const top = Math.max(1, ...rows.map((r) => r.messages));
  for (const r of rows) {
    const col = el("div", null, "col");
    col.title = r.key + ": " + r.delivered + " delivered, " + r.failed + " failed, " +
      r.messages + " messages";
    for (const [value, kind] of [[r.delivered, "ok"], [r.failed, "bad"],
                                 [r.messages - r.delivered - r.failed, "rest"]]) {
      const part = el("div", null, kind);
      part.style.height = (100 * Math.max(value, 0) / top) + "%";
      col.appendChild(part);
    }
    box.appendChild(col);
  }
}

async function loadReport() {
  const by = $("by").value;
  const since = new Date(Date.now() - Number($("days").value) * 86400000).toISOString();
  const query = "by=" + encodeURIComponent(by) + "&since=" + encodeURIComponent(since);
  $("csv").href = "/ui/api/messaging/report?" + query + "&format=csv";
  const report = await api("/ui/api/messaging/report?" + query);
  $("key-head").textContent = by;
  const body = $("report").querySelector("tbody");
  body.replaceChildren();
  for (const r of report.rows) {
    const row = el("tr");
    reportRow(row, r);
    body.appendChild(row);
  }
  const foot = $("report").querySelector("tfoot");
  foot.replaceChildren();
  const total = el("tr");
  reportRow(total, Object.assign({}, report.total, { key: "total" }));
  foot.appendChild(total);
  chart(report.rows);
}

async function loadCampaigns() {
  const found = await api("/ui/api/messaging/campaigns");
  const body = $("campaigns").querySelector("tbody");
  body.replaceChildren();
  for (const c of found.campaigns) {
    const p = c.progress;
    const row = el("tr");
    cell(row, c.name + " (" + c.template + ")");
    cell(row, c.status);
    const bar = el("div", null, "progress");
    const total = Math.max(c.accepted, 1);
    for (const [value, kind] of [[p.delivered, "ok"], [p.failed, "bad"]]) {
      const part = el("div", null, kind);
      part.style.width = (100 * value / total) + "%";
      bar.appendChild(part);
    }
    const holder = el("td");
    holder.appendChild(bar);
    row.appendChild(holder);
    for (const value of [p.queued, p.delivered, p.failed, p.refused, p.replies, p.opt_outs]) {
      cell(row, value, true);
    }
    body.appendChild(row);
  }
}

async function loadThreads() {
  const found = await api("/ui/api/messaging/conversations");
  const list = $("threads");
  list.replaceChildren();
  for (const t of found.conversations) {
    const item = el("li", null, (t.needs_agent ? "flagged " : "") +
      (current && current.id === t.id ? "active" : ""));
    item.appendChild(el("b", t.number));
    item.appendChild(el("div", "via " + t.modem_id + (t.assignee ? " · " + t.assignee : "") +
      (t.needs_agent ? " · needs an agent" : ""), "muted small"));
    item.addEventListener("click", () => openThread(t.id));
    list.appendChild(item);
  }
  if (!found.conversations.length) list.appendChild(el("li", "No open conversations.", "muted"));
}

async function openThread(id) {
  const t = await api("/ui/api/messaging/conversations/" + encodeURIComponent(id));
  current = t;
  $("thread").hidden = false;
  $("thread-title").textContent = t.number;
  $("thread-meta").textContent = "via " + t.modem_id + " · " + t.status +
    (t.flag_reason ? " · " + t.flag_reason : "");
  $("assignee").value = t.assignee || "";
  const list = $("messages");
  list.replaceChildren();
  for (const m of t.messages) {
    const item = el("li", m.text, m.direction);
    item.appendChild(el("small", new Date(m.at).toLocaleString() +
      (m.status ? " · " + m.status : "")));
    list.appendChild(item);
  }
  list.scrollTop = list.scrollHeight;
  await loadThreads();
}

async function act(action, body) {
  if (!current) return;
  try {
    await api("/ui/api/messaging/conversations/" + encodeURIComponent(current.id) + "/" +
      action, { method: "POST", body: body || {} });
    $("thread-status").textContent = action + ": done";
    await openThread(current.id);
  } catch (error) {
    $("thread-status").textContent = action + " failed: " + error.message;
  }
}

async function refresh() {
  await Promise.all([loadReport(), loadCampaigns(), loadThreads()]);
}

async function start() {
  try {
    const session = await api("/ui/api/session");
    csrf = session.csrf;
    $("who").textContent = session.key;
  } catch (error) {
    $("need-login").hidden = false;
    return;
  }
  $("app").hidden = false;
  $("by").addEventListener("change", loadReport);
  $("days").addEventListener("change", loadReport);
  $("assign").addEventListener("click", () => act("assign", { assignee: $("assignee").value || null }));
  $("close").addEventListener("click", () => act("close"));
  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text) return;
    act("reply", { text }).then(() => { $("reply-text").value = ""; });
  });
  await refresh();
  setInterval(() => refresh().catch(() => {}), 10000);
}

document.addEventListener("DOMContentLoaded", start);
