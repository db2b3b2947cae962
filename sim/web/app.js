// smsgw-sim page: polls the control API; every SMS text is inserted with textContent, never HTML.
"use strict";
const FAULTS = ["hang", "unplug", "reboot", "garbage", "split", "urc_in_response", "urc_storm",
  "slow_submit", "cms_error", "sim_removed", "pin_required", "network_lost", "storage_full",
  "lost_submit_answer", "incoming_call"];
const FAULT_DEFAULTS = { hang: { duration: 20 }, unplug: { seconds: 3 }, garbage: { size: 32 },
  split: { duration: 30 }, urc_in_response: { duration: 30 }, urc_storm: { duration: 5, rate: 50 },
  slow_submit: { seconds: 20 }, cms_error: { code: 500, count: 1 }, sim_removed: { duration: 10 },
  network_lost: { duration: 10 }, storage_full: { duration: 60 } };
let modems = [];

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "class") e.className = v; else e.setAttribute(k, v); });
  children.forEach(c => e.append(c));
  return e;
}

function simOptions(select, preferred) {
  const current = select.value || preferred;
  select.replaceChildren(...modems.map(m => el("option", { value: m.msisdn }, `${m.id} ${m.msisdn}`)));
  if (current) select.value = current;
}

async function renderModems() {
  modems = await api("GET", "/modems");
  const body = document.querySelector("#modems tbody");
  body.replaceChildren(...modems.map(m => {
    const faults = el("td", { class: "faults" });
    FAULTS.forEach(kind => {
      const b = el("button", { title: JSON.stringify(FAULT_DEFAULTS[kind] || {}) }, kind);
      b.onclick = () => api("POST", `/modems/${m.id}/faults`, { kind, ...(FAULT_DEFAULTS[kind] || {}) }).then(refresh, alert);
      faults.append(b);
    });
    const clear = el("button", {}, "clear");
    clear.onclick = () => api("DELETE", `/modems/${m.id}/faults`).then(refresh, alert);
    const active = m.faults.map(f => f.kind).join(", ");
    return el("tr", {}, el("td", {}, m.id), el("td", { class: `state-${m.state}` }, m.state),
      el("td", {}, m.profile), el("td", {}, m.msisdn), el("td", {}, m.operator),
      el("td", {}, String(m.counters.submitted)), el("td", {}, String(m.counters.received)),
      el("td", {}, String(m.counters.status_reports)), faults, el("td", {}, active, " ", clear));
  }));
  simOptions(document.getElementById("new-target"));
}

async function renderPhones() {
  const handsets = await api("GET", "/handsets");
  const box = document.getElementById("phones");
  const tpl = document.getElementById("phone-tpl");
  for (const h of handsets) {
    let card = box.querySelector(`[data-number="${CSS.escape(h.number)}"]`);
    if (!card) {
      card = tpl.content.firstElementChild.cloneNode(true);
      card.dataset.number = h.number;
      card.querySelector("h3").textContent = `${h.number} (${h.operator || "?"}, ${h.behaviour})`;
      card.querySelector("form").onsubmit = ev => {
        ev.preventDefault();
        const text = card.querySelector(".text");
        api("POST", "/inbound", { from: h.number, to: card.querySelector(".to").value, text: text.value })
          .then(() => { text.value = ""; refresh(); }, alert);
      };
      box.append(card);
    }
    const convo = await api("GET", `/handsets/${encodeURIComponent(h.number)}/conversation`);
    const thread = card.querySelector(".thread");
    const lastSim = convo.filter(m => m.direction === "in").map(m => m.from).pop();
    simOptions(card.querySelector(".to"), lastSim);
    thread.replaceChildren(...convo.map(m => {
      const who = m.direction === "in" ? `from ${m.from}` : `to ${m.to}`;
      const parts = m.parts > 1 ? ` · ${m.parts_received ?? m.parts}/${m.parts} parts` : "";
      return el("div", { class: `bubble ${m.direction}` }, m.text, el("small", {}, `${who}${parts}`));
    }));
    thread.scrollTop = thread.scrollHeight;
  }
}

async function renderEvents() {
  const events = await api("GET", "/events?limit=60");
  document.getElementById("events").replaceChildren(...events.reverse().map(e =>
    el("li", {}, `${e.at.slice(11, 19)} ${e.type} ${JSON.stringify(Object.fromEntries(
      Object.entries(e).filter(([k]) => k !== "at" && k !== "type")))}`)));
}

async function refresh() {
  try {
    await renderModems();
    await renderPhones();
    await renderEvents();
    document.getElementById("status").textContent = `${modems.length} modems`;
  } catch (err) {
    document.getElementById("status").textContent = `control API unreachable: ${err.message}`;
  }
}

document.getElementById("new-phone").onsubmit = ev => {
  ev.preventDefault();
  api("POST", "/inbound", { from: document.getElementById("new-number").value,
    to: document.getElementById("new-target").value, text: document.getElementById("new-text").value })
    .then(() => { document.getElementById("new-text").value = ""; refresh(); }, alert);
};
document.getElementById("reset").onclick = () => {
  if (confirm("Reset the whole simulated network?")) {
    api("POST", "/reset").then(() => { document.getElementById("phones").replaceChildren(); refresh(); }, alert);
  }
};
refresh();
setInterval(refresh, 1500);
