// The worker's phone view: the cases given to the person tied to this login (GET /api/v1/incidents?mine=true),
// one case with its place, callers and deadlines, and the actions the case allows a worker: accept, reply
// (with a note), ask to escalate (with a reason). User text goes in with textContent only.
"use strict";

const W = { me: null, items: [], doc: null, etag: null, timer: null };
const WORKER_ACTIONS = ["accept", "reply", "escalate"];
const OPEN = new Set(["received", "dispatched", "in_progress", "replied", "escalated", "reopened"]);
const POLL = 15000;

const caseMap = L.map("case-map", { zoomControl: false, attributionControl: false }).setView([22.62, 114.03], 14);
const caseLayer = L.featureGroup().addTo(caseMap);

function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  clearTimeout(W.timer);
}

async function start() {
  let me;
  try {
    me = await whoAmI();
  } catch (e) {
    return showLogin(e.message);
  }
  if (!me) return showLogin("");
  W.me = me;
  setTimeZone(me.timezone);
  showWho();
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  // A login tied to no person has no cases of its own: asking for them would only be refused.
  $("no-person").hidden = me.person !== null;
  if (me.person === null) return;
  await loadMine(false);
  schedule();
}

function showWho() {
  if (!W.me) return;
  const person = W.me.person;
  $("who").textContent = person ? `${person.name} · ${term("role", person.role)}` : `${W.me.name} · ${term("role", W.me.role)}`;
}

async function loadMine(poll) {
  const headers = poll && W.etag ? { "If-None-Match": W.etag } : {};
  const r = await fetch("/api/v1/incidents?mine=true&limit=100", { headers, credentials: "same-origin", cache: "no-store" });
  if (r.status === 304) return;
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  W.etag = r.headers.get("ETag");
  W.items = body.items;
  $("mine-count").textContent = t("cases", { total: body.total });
  $("list-error").textContent = "";
  renderList();
}

function schedule() {
  clearTimeout(W.timer);
  W.timer = setTimeout(async () => {
    try {
      await loadMine(true);
    } catch (e) {
      if (e.status === 401) return showLogin(e.message);
      $("list-error").textContent = e.message;
    }
    schedule();
  }, POLL);
}

function renderList() {
  const list = $("mine");
  list.replaceChildren();
  if (!W.items.length) list.appendChild(el("li", t("noCases"), "muted"));
  for (const item of W.items) {
    const li = el("li");
    li.dataset.id = item.id;
    const head = el("div");
    head.appendChild(el("strong", `#${item.id} ${I18N.lang === "zh" ? item.category_name_zh : item.category_name}`));
    head.appendChild(el("span", term("state", item.state), "badge"));
    if (item.overdue) head.appendChild(el("span", t("badgeOverdue"), "badge overdue"));
    li.appendChild(head);
    if (OPEN.has(item.state) && item.due_at) {
      const span = el("span", "", "countdown");
      span.dataset.due = item.due_at;
      li.appendChild(span);
    }
    li.appendChild(el("div", item.description, "desc"));
    const place = item.location && (item.location.address || item.location.building);
    if (place) li.appendChild(el("div", place, "muted"));
    li.classList.toggle("overdue", Boolean(item.overdue));
    li.addEventListener("click", () => openCase(item.id).catch((e) => ($("list-error").textContent = e.message)));
    list.appendChild(li);
  }
  tick();
}

function tick() {
  for (const span of document.querySelectorAll(".countdown[data-due]")) {
    const left = countdown(span.dataset.due);
    span.textContent = left ? left.text : "";
    span.classList.toggle("late", Boolean(left && left.overdue));
  }
}

async function openCase(id) {
  const doc = await api(`/api/v1/incidents/${id}`);
  W.doc = doc;
  $("list-view").hidden = true;
  $("case-view").hidden = false;
  $("act-error").textContent = "";
  renderCase(doc);
  window.scrollTo(0, 0);
  await drawCase(doc);
}

function fact(dl, label, value) {
  dl.appendChild(el("dt", label));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
  dl.appendChild(dd);
}

function renderCase(doc) {
  $("case-title").textContent = `#${doc.id} ${I18N.lang === "zh" ? doc.category_name_zh : doc.category_name}`;
  const state = $("case-state");
  state.replaceChildren(el("span", term("state", doc.state), "badge"));
  if (doc.overdue) state.appendChild(el("span", t("badgeOverdue"), "badge overdue"));
  const clock = $("case-countdown");
  clock.replaceChildren();
  if (OPEN.has(doc.state) && doc.due_at) {
    clock.appendChild(el("span", `${t("dueAt")} ${localTime(doc.due_at)} · `));
    const span = el("span", "", "countdown");
    span.dataset.due = doc.due_at;
    clock.appendChild(span);
  }
  $("case-description").textContent = doc.description;
  const loc = doc.location;
  $("case-place").textContent = [loc.address, loc.building].filter(Boolean).join(" · ");
  const facts = $("case-facts");
  facts.replaceChildren();
  fact(facts, t("assignee"), doc.assignee);
  fact(facts, t("level"), term("level", doc.level));
  for (const [level, area] of ownerChain(doc.owner)) fact(facts, term("level", level), areaLabel(area));
  fact(facts, t("receivedAt"), localTime(doc.received_at));
  fact(facts, t("deadlineAt"), localTime(doc.deadline_at));
  const callers = $("callers");
  callers.replaceChildren();
  for (const r of doc.report_list || []) {
    const li = el("li", `${localTime(r.reported_at)} · ${term("channel", r.channel)}`);
    if (r.reporter && r.reporter.name) li.appendChild(el("span", ` · ${r.reporter.name}`));
    if (r.reporter && r.reporter.phone) {
      li.appendChild(el("span", " · "));
      li.appendChild(telLink(r.reporter.phone));
    }
    li.appendChild(el("div", r.description, "muted"));
    callers.appendChild(li);
  }
  const allowed = new Set(doc.allowed_actions);
  $("act-accept").hidden = !allowed.has("accept");
  $("reply-form").hidden = !allowed.has("reply");
  $("escalate-form").hidden = !allowed.has("escalate");
  const events = $("events");
  events.replaceChildren();
  for (const e of doc.events || []) {
    const parts = [localTime(e.at, true), e.actor, term("action", e.action)];
    if (e.to_state && e.to_state !== e.from_state) parts.push(term("state", e.to_state));
    if (e.note) parts.push(e.note);
    events.appendChild(el("li", parts.join(" · ")));
  }
  tick();
}

async function drawCase(doc) {
  caseLayer.clearLayers();
  const area = doc.owner && (doc.owner.microgrid || doc.owner.grid || doc.owner.community);
  if (area && area.id) {
    try {
      L.geoJSON(await api(`/api/v1/areas/${area.id}`), { style: { color: "#1d3557", weight: 2, fillOpacity: 0.1 } }).addTo(caseLayer);
    } catch (e) { /* a retired area: the point alone */ }
  }
  if (doc.location.lat !== null && doc.location.lat !== undefined) {
    L.circleMarker([doc.location.lat, doc.location.lon], { radius: 8, color: "#e63946" }).addTo(caseLayer);
  }
  caseMap.invalidateSize();
  if (caseLayer.getLayers().length) caseMap.fitBounds(caseLayer.getBounds(), { maxZoom: 18, padding: [16, 16] });
}

async function act(body) {
  const id = W.doc.id;
  $("act-error").textContent = "";
  $("act-done").textContent = "";
  for (const b of document.querySelectorAll("#act button")) b.disabled = true;
  try {
    await api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: JSON.stringify(body) });
    $("reply-form").reset();
    $("escalate-form").reset();
    await openCase(id);
    $("act-done").textContent = `${t("done")}：${term("action", body.action)}`;
    await loadMine(false);
  } catch (e) {
    $("act-error").textContent = t("refused", { message: e.message });
  } finally {
    for (const b of document.querySelectorAll("#act button")) b.disabled = false;
  }
}

$("act-accept").addEventListener("click", () => act({ action: "accept" }));
$("reply-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const note = String(new FormData(e.target).get("note") || "").trim();
  if (!note) return ($("act-error").textContent = t("needNote"));
  act({ action: "reply", note });
});
$("escalate-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const reason = String(new FormData(e.target).get("reason") || "").trim();
  if (!reason) return ($("act-error").textContent = t("needReason"));
  act({ action: "escalate", reason });
});
$("back").addEventListener("click", () => {
  W.doc = null;
  $("case-view").hidden = true;
  $("list-view").hidden = false;
  $("act-done").textContent = "";
});
$("refresh").addEventListener("click", () => loadMine(false).catch((e) => ($("list-error").textContent = e.message)));
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await logIn(event.target);
    await start();
  } catch (e) {
    showLogin(e.message);
  }
});
$("logout").addEventListener("click", async () => {
  clearTimeout(W.timer);
  await logOut().catch(() => null);
  location.reload();
});
$("lang").addEventListener("click", () => {
  switchLanguage();
  showWho();
  renderList();
  if (W.doc) renderCase(W.doc);
});

setInterval(tick, 1000);
applyLabels();
start();
