// The dispatcher console: a queue of incidents, one case with its owners on a map, and the actions.
// Every piece of user text goes in with textContent, never as HTML.
"use strict";

const STATE_ZH = {
  received: "待派遣", dispatched: "已派遣", in_progress: "处置中", replied: "已反馈", closed: "已结案",
  rated: "已评价", escalated: "已上报", rejected: "不予受理", reopened: "重新办理",
};
const ACTION_ZH = {
  dispatch: "派遣", accept: "受理", reply: "反馈", verify: "核查结案", close: "即办结案", rate: "评价",
  escalate: "上报", reopen: "重办", reject: "不予受理", reroute: "重新定位", reassign: "改派", split: "拆分",
};

const map = L.map("map", { zoomControl: true, attributionControl: false }).setView([22.62, 114.03], 14);
const layer = L.featureGroup().addTo(map);
let current = null;

function showLogin(message) {
  $("login").hidden = false;
  $("console").hidden = true;
  $("login-error").textContent = message || "";
}

async function start() {
  let me;
  try {
    me = await whoAmI();
  } catch (e) {
    return showLogin(e.message);
  }
  if (!me) return showLogin("");
  $("who").textContent = `${me.name} (${me.role})`;
  $("login").hidden = true;
  $("console").hidden = false;
  map.invalidateSize();
  const cats = await api("/api/v1/incident-categories");
  const select = document.querySelector("#filters [name=category]");
  for (const c of cats.categories) {
    const option = el("option", `${c.name_zh} ${c.name}`);
    option.value = c.code;
    select.appendChild(option);
  }
  await loadQueue();
}

async function loadQueue() {
  const form = new FormData($("filters"));
  const params = new URLSearchParams({ limit: "100" });
  for (const key of ["state", "category", "flag"]) if (form.get(key)) params.set(key, form.get(key));
  if (form.get("overdue")) params.set("overdue", "true");
  const page = await api("/api/v1/incidents?" + params);
  $("queue-count").textContent = `${page.total} 件 cases`;
  const list = $("queue");
  list.replaceChildren();
  for (const item of page.items) {
    const li = el("li");
    li.dataset.id = item.id;
    li.appendChild(el("strong", `#${item.id} ${item.category_name_zh}`));
    li.appendChild(el("span", STATE_ZH[item.state] || item.state, "badge state"));
    if (item.overdue) li.appendChild(el("span", "超时", "badge overdue"));
    for (const f of item.flags) li.appendChild(el("span", f, "badge " + f));
    li.appendChild(el("div", item.description));
    li.addEventListener("click", () => openCase(item.id));
    if (current === item.id) li.classList.add("selected");
    list.appendChild(li);
  }
}

async function openCase(id) {
  current = id;
  document.querySelectorAll("#queue li").forEach((li) => li.classList.toggle("selected", li.dataset.id == id));
  const doc = await api(`/api/v1/incidents/${id}`);
  $("case").hidden = false;
  $("case-title").textContent = `#${doc.id} ${doc.category_name_zh} · ${doc.category_name}`;
  $("case-state").textContent =
    `${STATE_ZH[doc.state] || doc.state} (${doc.state}) · 层级 level: ${doc.level || "—"} · 时限 due: ${doc.due_at || "—"}` +
    (doc.overdue ? " · 超时 OVERDUE" : "") + (doc.flags.length ? " · " + doc.flags.join(", ") : "");
  $("case-description").textContent = doc.description + (doc.location.address ? ` — ${doc.location.address}` : "");
  const owners = $("owners");
  owners.replaceChildren();
  for (const key of ["microgrid", "grid", "community", "subdistrict"]) {
    const area = doc.owner[key];
    owners.appendChild(el("dt", key));
    owners.appendChild(el("dd", area ? `${area.name} ${area.code} (v${area.version})` : "—"));
  }
  if (doc.owner.party_cell) {
    owners.appendChild(el("dt", "党小组"));
    owners.appendChild(el("dd", `${doc.owner.party_cell.name} ${doc.owner.party_cell.code}`));
  }
  const people = $("people");
  people.replaceChildren();
  for (const p of doc.owner.people || []) {
    const li = el("li", `${p.name} · ${p.role} · `);
    const tel = el("a", p.phone);
    tel.href = "tel:" + p.phone.replace(/[^0-9+*]/g, "");
    li.appendChild(tel);
    people.appendChild(li);
  }
  const actions = document.querySelector("#action-form [name=action]");
  actions.replaceChildren();
  for (const a of doc.allowed_actions) {
    const option = el("option", `${ACTION_ZH[a] || a} ${a}`);
    option.value = a;
    actions.appendChild(option);
  }
  $("action-form").hidden = doc.allowed_actions.length === 0;
  $("action-error").textContent = "";
  const events = $("events");
  events.replaceChildren();
  for (const e of doc.events) {
    events.appendChild(el("li", `${e.at} ${e.actor} ${ACTION_ZH[e.action] || e.action}` +
      (e.to_state ? ` → ${e.to_state}` : "") + (e.note ? ` · ${e.note}` : "")));
  }
  await drawCase(doc);
}

async function drawCase(doc) {
  layer.clearLayers();
  const area = doc.owner.microgrid || doc.owner.grid || doc.owner.community;
  if (area) {
    try {
      const feature = await api(`/api/v1/areas/${area.id}`);
      L.geoJSON(feature, { style: { color: "#1d3557", weight: 2, fillOpacity: 0.1 } }).addTo(layer);
    } catch (e) { /* a retired area: the point alone is shown */ }
  }
  if (doc.location.lat !== null) {
    L.circleMarker([doc.location.lat, doc.location.lon], { radius: 7, color: "#e63946" }).addTo(layer);
  }
  if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { maxZoom: 18, padding: [20, 20] });
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await logIn(event.target);
    await start();
  } catch (e) {
    showLogin(e.message);
  }
});

$("filters").addEventListener("change", () => loadQueue().catch((e) => ($("queue-count").textContent = e.message)));

$("action-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { action: form.get("action") };
  for (const key of ["note", "assignee", "reason"]) if (form.get(key)) body[key] = form.get(key);
  if (form.get("satisfaction")) body.satisfaction = Number(form.get("satisfaction"));
  try {
    await api(`/api/v1/incidents/${current}/actions`, { method: "POST", body: JSON.stringify(body) });
    event.target.reset();
    await openCase(current);
    await loadQueue();
  } catch (e) {
    $("action-error").textContent = e.message;
  }
});

start();
