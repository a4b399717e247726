// The 12345 dispatcher console: take a call (caller, category, description, a place by address text with
// live suggestions, a map click or coordinates), check where it goes before saving (preview: building,
// owners, receivers, flags, a nearby open case it would join), and work the queue (polled every few
// seconds, new and overdue cases marked, live countdowns, filters and search) and one case (callers,
// photos, deadlines in the server's local time, history, the dispatch rule and its receivers, actions,
// rerouting by dragging the pin or by building code, notifications, a printable work order).
//
// Every piece of user text goes in with textContent (el(), in staff.js), never as HTML.
"use strict";

const OPEN_STATES = new Set(["received", "dispatched", "in_progress", "replied", "escalated", "reopened"]);
const POLL_MS = 5000;
const PAGE_SIZE = 20;
const SUGGEST_MS = 250;

const S = {
  me: null,
  categories: [],
  page: 0,
  total: 0,
  items: [],
  queueUrl: null,
  etag: null,
  seen: new Set(), // case ids shown at least once this session
  fresh: new Set(), // case ids that appeared while the console was open and are not opened yet
  pollTimer: null,
  doc: null, // the open case
  preview: null, // {key, body, crs, answer}
  chosen: null, // the address candidate picked: {code, label, lon, lat}
  reading: null, // how the server read the address text
  suggestions: [],
  active: -1, // the highlighted suggestion
};

// --- maps -------------------------------------------------------------------------------------------

const caseMap = L.map("map", { zoomControl: true, attributionControl: false }).setView([22.62, 114.03], 14);
const caseLayer = L.featureGroup().addTo(caseMap);
let casePin = null;
const intakeMap = L.map("intake-map", { zoomControl: true, attributionControl: false }).setView([22.62, 114.03], 13);
const intakeLayer = L.featureGroup().addTo(intakeMap);
let intakePin = null;
const OUTLINE = { color: "#1d3557", weight: 2, fillOpacity: 0.1 };

async function outline(owner, layer) {
  const area = owner && (owner.microgrid || owner.grid || owner.community || owner.subdistrict);
  if (!area || !area.id) return;
  try {
    const feature = await api(`/api/v1/areas/${area.id}`);
    L.geoJSON(feature, { style: OUTLINE }).addTo(layer);
  } catch (e) { /* a retired area: the point alone is shown */ }
}

// --- login ------------------------------------------------------------------------------------------

function showLogin(message) {
  $("login").hidden = false;
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  stopPolling();
}

async function start() {
  let me;
  try {
    me = await whoAmI();
  } catch (e) {
    return showLogin(e.message);
  }
  if (!me) return showLogin("");
  S.me = me;
  setTimeZone(me.timezone);
  showWho();
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  intakeMap.invalidateSize();
  const cats = await api("/api/v1/incident-categories");
  S.categories = cats.categories.filter((c) => c.active !== false);
  fillCategories();
  await loadQueue(false);
  schedulePoll();
}

function showWho() {
  if (S.me) $("who").textContent = `${S.me.name} · ${term("role", S.me.role)}`;
}

function categoryName(c) {
  return I18N.lang === "zh" ? c.name_zh : `${c.name} · ${c.name_zh}`;
}

function fillCategories() {
  const filter = document.querySelector("#filters [name=category]");
  const intake = document.querySelector("#intake-form [name=category]");
  const keepFilter = filter.value;
  const keepIntake = intake.value;
  filter.replaceChildren(Object.assign(el("option", t("allCategories")), { value: "" }));
  intake.replaceChildren(Object.assign(el("option", t("chooseCategory")), { value: "" }));
  for (const c of S.categories) {
    filter.appendChild(Object.assign(el("option", categoryName(c)), { value: c.code }));
    intake.appendChild(Object.assign(el("option", categoryName(c)), { value: c.code }));
  }
  filter.value = keepFilter;
  intake.value = keepIntake;
}

// --- queue ------------------------------------------------------------------------------------------

function queueParams() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(S.page * PAGE_SIZE) });
  const filters = new FormData($("filters"));
  for (const key of ["state", "category", "flag"]) if (filters.get(key)) params.set(key, filters.get(key));
  if (filters.get("overdue")) params.set("overdue", "true");
  const search = new FormData($("search"));
  for (const key of ["q", "phone", "building"]) {
    const value = String(search.get(key) || "").trim();
    if (value) params.set(key, value);
  }
  return params;
}

// Fetch the queue page. A poll sends If-None-Match and takes 304 as "nothing changed"; only a poll of the
// view already shown marks cases not seen before as new (a page or filter change shows older cases too).
async function loadQueue(poll) {
  const url = "/api/v1/incidents?" + queueParams();
  const sameView = url === S.queueUrl;
  const headers = {};
  if (poll && sameView && S.etag) headers["If-None-Match"] = S.etag;
  const r = await fetch(url, { headers, credentials: "same-origin", cache: "no-store" });
  if (r.status === 304) {
    $("poll-status").textContent = t("polled", { time: localTime(new Date().toISOString(), true) });
    return;
  }
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  const markNew = poll && sameView;
  S.queueUrl = url;
  S.etag = r.headers.get("ETag");
  S.total = body.total;
  S.items = body.items;
  for (const item of body.items) {
    if (markNew && !S.seen.has(item.id)) S.fresh.add(item.id);
    S.seen.add(item.id);
  }
  $("queue-error").textContent = "";
  $("poll-status").textContent = t("polled", { time: localTime(new Date().toISOString(), true) });
  renderQueue();
  // The open case changed on the server (a poll saw a new version): show it as it is now.
  const open = S.doc && body.items.find((item) => item.id === S.doc.id);
  if (open && open.version !== S.doc.version && !$("case").contains(document.activeElement)) {
    await openCase(S.doc.id, false);
  }
}

function renderQueue() {
  const pages = Math.max(1, Math.ceil(S.total / PAGE_SIZE));
  $("queue-count").textContent = t("cases", { total: S.total });
  $("page-info").textContent = t("pageOf", { page: S.page + 1, pages });
  $("prev-page").disabled = S.page === 0;
  $("next-page").disabled = S.page + 1 >= pages;
  const list = $("queue");
  list.replaceChildren();
  if (!S.items.length) list.appendChild(el("li", t("noCases"), "empty"));
  for (const item of S.items) list.appendChild(queueItem(item));
  tick();
}

function badge(text, cls) {
  return el("span", text, "badge " + cls);
}

function queueItem(item) {
  const li = el("li");
  li.dataset.id = item.id;
  li.dataset.state = item.state;
  if (item.due_at) li.dataset.due = item.due_at;
  const head = el("div", null, "line");
  head.appendChild(el("strong", `#${item.id} ${I18N.lang === "zh" ? item.category_name_zh : item.category_name}`));
  head.appendChild(badge(term("state", item.state), "state state-" + item.state));
  if (S.fresh.has(item.id)) head.appendChild(badge(t("badgeNew"), "new"));
  if (item.overdue) head.appendChild(badge(t("badgeOverdue"), "overdue"));
  for (const f of item.flags || []) if (f !== "overdue") head.appendChild(badge(term("flag", f), "flag " + f));
  li.appendChild(head);
  const when = el("div", null, "line");
  if (OPEN_STATES.has(item.state) && item.due_at) {
    const span = el("span", "", "countdown");
    span.dataset.due = item.due_at;
    when.appendChild(span);
    when.appendChild(el("span", ` · ${t("dueAt")} ${localTime(item.due_at)}`, "muted"));
  } else {
    when.appendChild(el("span", `${t("closedAt")} ${localTime(item.closed_at)}`, "muted"));
  }
  li.appendChild(when);
  li.appendChild(el("div", item.description, "desc"));
  const place = item.location && (item.location.address || item.location.building);
  if (place) li.appendChild(el("div", place, "muted place"));
  li.classList.toggle("overdue", Boolean(item.overdue));
  li.classList.toggle("new", S.fresh.has(item.id));
  li.classList.toggle("selected", Boolean(S.doc && S.doc.id === item.id));
  li.addEventListener("click", () => openCase(item.id).catch(showCaseError));
  return li;
}

// Every second: countdowns, and a case whose deadline just passed gets its 超期 mark without waiting for
// the server.
function tick() {
  const now = Date.now();
  for (const span of document.querySelectorAll(".countdown[data-due]")) {
    const left = countdown(span.dataset.due, now);
    span.textContent = left ? left.text : "";
    span.classList.toggle("late", Boolean(left && left.overdue));
    const li = span.closest("#queue li");
    if (li && left && left.overdue && !li.querySelector(".badge.overdue")) {
      li.querySelector(".line").appendChild(badge(t("badgeOverdue"), "overdue"));
      li.classList.add("overdue");
    }
  }
}

function schedulePoll() {
  stopPolling();
  S.pollTimer = setTimeout(async () => {
    try {
      await loadQueue(true);
    } catch (e) {
      if (e.status === 401) return showLogin(e.message);
      $("poll-status").textContent = t("pollFailed", { message: e.message });
    }
    if (!$("console").hidden) schedulePoll();
  }, POLL_MS);
}

function stopPolling() {
  if (S.pollTimer) clearTimeout(S.pollTimer);
  S.pollTimer = null;
}

async function reloadQueue(resetPage) {
  if (resetPage) S.page = 0;
  try {
    await loadQueue(false);
  } catch (e) {
    $("queue-error").textContent = e.message;
  }
}

// --- tabs -------------------------------------------------------------------------------------------

function showTab(name) {
  $("tab-intake").classList.toggle("active", name === "intake");
  $("tab-case").classList.toggle("active", name === "case");
  $("intake").hidden = name !== "intake";
  $("case-panel").hidden = name !== "case";
  (name === "intake" ? intakeMap : caseMap).invalidateSize();
}

// --- one case ---------------------------------------------------------------------------------------

function showCaseError(e) {
  showTab("case");
  $("action-error").textContent = e.message;
}

async function openCase(id, switchTab = true) {
  const doc = await api(`/api/v1/incidents/${id}`);
  S.doc = doc;
  S.fresh.delete(doc.id);
  for (const li of document.querySelectorAll("#queue li")) {
    li.classList.toggle("selected", li.dataset.id == doc.id);
    if (li.dataset.id == doc.id) {
      li.classList.remove("new");
      const mark = li.querySelector(".badge.new");
      if (mark) mark.remove();
    }
  }
  if (switchTab) showTab("case");
  $("case").hidden = false;
  document.body.classList.add("has-case");
  renderCase(doc);
  $("action-error").textContent = "";
  $("reroute-error").textContent = "";
  await drawCase(doc);
}

function row(dl, label, value) {
  dl.appendChild(el("dt", label));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
  dl.appendChild(dd);
  return dd;
}

function renderCase(doc) {
  const category = I18N.lang === "zh" ? doc.category_name_zh : `${doc.category_name} · ${doc.category_name_zh}`;
  $("case-title").textContent = `#${doc.id} ${category}`;
  const state = $("case-state");
  state.replaceChildren(badge(term("state", doc.state), "state state-" + doc.state));
  state.appendChild(el("span", ` ${t("level")}：${term("level", doc.level)}`));
  if (doc.overdue) state.appendChild(badge(t("badgeOverdue"), "overdue"));
  for (const f of doc.flags || []) if (f !== "overdue") state.appendChild(badge(term("flag", f), "flag " + f));
  const clock = $("case-countdown");
  clock.replaceChildren();
  if (OPEN_STATES.has(doc.state) && doc.due_at) {
    clock.appendChild(el("span", `${term("stage", doc.stage)} · ${t("dueAt")} ${localTime(doc.due_at)} · `));
    const span = el("span", "", "countdown");
    span.dataset.due = doc.due_at;
    clock.appendChild(span);
  }
  const place = doc.location.address || doc.location.building;
  $("case-description").textContent = doc.description + (place ? ` — ${place}` : "");
  renderAssignment(doc);
  renderActions(doc);
  renderOwners(doc);
  renderCallers(doc);
  renderPhotos(doc);
  renderNotifications(doc);
  renderEvents(doc);
  renderLocation(doc);
  renderDeadlines(doc);
  renderWorkOrder(doc);
  $("reroute-form").hidden = !doc.allowed_actions.includes("reroute");
  tick();
}

function renderOwners(doc) {
  const owners = $("owners");
  owners.replaceChildren();
  const chain = ownerChain(doc.owner);
  if (!chain.length) row(owners, t("owners"), t("noArea"));
  for (const [level, area] of chain) row(owners, term("level", level), areaLabel(area));
  if (doc.owner && doc.owner.party_cell) row(owners, t("partyCell"), areaLabel(doc.owner.party_cell));
  const people = $("people");
  people.replaceChildren();
  for (const p of (doc.owner && doc.owner.people) || []) {
    const li = el("li", `${p.name} · ${term("role", p.role)}` + (p.area ? ` · ${p.area}` : "") + " · ");
    if (p.phone) li.appendChild(telLink(p.phone));
    people.appendChild(li);
  }
  if (!people.children.length) people.appendChild(el("li", t("noneYet"), "muted"));
}

function candidateText(c) {
  return `${c.name} · ${c.role_zh && I18N.lang === "zh" ? c.role_zh : term("role", c.role)}` + (c.area ? ` · ${c.area}` : "");
}

function renderAssignment(doc) {
  const line = $("assignee-line");
  line.replaceChildren(el("span", `${t("assignee")}：${doc.assignee || "—"}`));
  if (doc.assignee_person_id) line.appendChild(el("span", ` (${t("personId")} ${doc.assignee_person_id})`, "muted"));
  const rule = doc.assignment;
  const text = $("assignment-rule");
  text.replaceChildren();
  const list = $("candidates");
  list.replaceChildren();
  if (!rule) return;
  const roles = (rule.roles || []).map((r) => term("role", r)).join("、");
  text.appendChild(el("span", `${t("level")}：${term("level", rule.level)}` + (roles ? ` · ${roles}` : "")));
  if (rule.reason) text.appendChild(el("span", ` · ${rule.reason}`, "warning-text"));
  (rule.candidates || []).forEach((c, index) => {
    const li = el("li");
    const label = el("label");
    const radio = el("input");
    radio.type = "radio";
    radio.name = "person";
    radio.value = String(c.person_id);
    radio.checked = index === 0;
    label.appendChild(radio);
    label.appendChild(el("span", " " + candidateText(c) + " · "));
    li.appendChild(label);
    if (c.phone) li.appendChild(telLink(c.phone));
    list.appendChild(li);
  });
}

function renderActions(doc) {
  const select = document.querySelector("#action-form [name=action]");
  const keep = select.value;
  select.replaceChildren();
  for (const a of doc.allowed_actions) {
    if (a === "reroute") continue; // the pin and the building box do that
    select.appendChild(Object.assign(el("option", term("action", a)), { value: a }));
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  const reports = document.querySelector("#action-form [name=report]");
  reports.replaceChildren();
  for (const r of doc.report_list || []) {
    if (!r.repeat) continue;
    const who = r.reporter && r.reporter.name ? ` ${r.reporter.name}` : "";
    reports.appendChild(Object.assign(el("option", `${localTime(r.reported_at)}${who}`), { value: String(r.id) }));
  }
  $("action-form").hidden = select.options.length === 0;
  showActionFields();
}

// The inputs the chosen action takes.
function showActionFields() {
  const action = document.querySelector("#action-form [name=action]").value;
  const form = $("action-form");
  $("dispatch-chooser").hidden = !["dispatch", "reassign"].includes(action);
  form.querySelector(".for-reason").hidden = !["reject", "escalate"].includes(action);
  form.querySelector(".for-rate").hidden = action !== "rate";
  form.querySelector(".for-split").hidden = action !== "split";
}

function renderCallers(doc) {
  const list = $("callers");
  list.replaceChildren();
  for (const r of doc.report_list || []) {
    const li = el("li");
    li.appendChild(badge(r.repeat ? t("repeatMark") : t("firstReport"), r.repeat ? "repeat" : "first"));
    li.appendChild(el("span", ` ${localTime(r.reported_at)} · ${term("channel", r.channel)}`));
    if (r.reporter) {
      if (r.reporter.name) li.appendChild(el("span", ` · ${r.reporter.name}`, "caller-name"));
      if (r.reporter.phone) {
        li.appendChild(el("span", " · "));
        li.appendChild(telLink(r.reporter.phone));
      }
    }
    li.appendChild(el("div", r.description, "desc"));
    if (r.address) li.appendChild(el("div", r.address, "muted"));
    list.appendChild(li);
  }
}

function renderPhotos(doc) {
  const box = $("photos");
  box.replaceChildren();
  for (const p of doc.photos || []) {
    if (p.href) {
      const a = el("a");
      a.href = p.href;
      a.target = "_blank";
      const img = el("img");
      img.src = p.href;
      img.alt = `#${p.id}`;
      a.appendChild(img);
      box.appendChild(a);
    } else if (p.url) {
      // A reporter's link to elsewhere: shown as a link, never loaded by the page.
      const a = el("a", p.url, "photo-link");
      a.href = p.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      box.appendChild(a);
    }
  }
  if (!box.children.length) box.appendChild(el("p", t("noneYet"), "muted"));
}

function renderNotifications(doc) {
  const list = $("notifications");
  list.replaceChildren();
  for (const n of doc.notifications || []) {
    const li = el("li");
    li.appendChild(el("span", `${localTime(n.created_at)} · ${term("event", n.event)} → ${term("audience", n.audience)} `));
    if (n.recipient_name) li.appendChild(el("span", n.recipient_name + " "));
    if (n.recipient_phone) li.appendChild(telLink(n.recipient_phone));
    let status = t("pending");
    if (n.sent_at) status = t("sentAt", { at: localTime(n.sent_at) });
    else if (n.dead_at) status = t("deadAt", { at: localTime(n.dead_at) });
    li.appendChild(badge(status, n.dead_at ? "dead" : n.sent_at ? "sent" : "pending"));
    if (n.attempts) li.appendChild(el("span", " " + t("attempts", { n: n.attempts }), "muted"));
    li.appendChild(el("div", n.body, "desc"));
    list.appendChild(li);
  }
  if (!list.children.length) list.appendChild(el("li", t("noneYet"), "muted"));
}

function eventText(e) {
  const parts = [localTime(e.at, true), `${e.actor}${e.role ? ` (${term("role", e.role)})` : ""}`, term("action", e.action)];
  if (e.to_state && e.to_state !== e.from_state) {
    parts.push(e.from_state ? `${term("state", e.from_state)} → ${term("state", e.to_state)}` : term("state", e.to_state));
  }
  const d = e.detail || {};
  if (d.assignee) parts.push(`${t("assignee")}：${d.assignee}`);
  if (d.to_level) parts.push(`${term("level", d.from_level)} → ${term("level", d.to_level)}`);
  if (d.reason) parts.push(`${t("reason")}：${d.reason}`);
  if (e.note) parts.push(e.note);
  return parts.join(" · ");
}

function renderEvents(doc) {
  const list = $("events");
  list.replaceChildren();
  for (const e of doc.events || []) list.appendChild(el("li", eventText(e)));
}

// A building as "SZMZ-00717 上芬新城东区8栋": its code (given, or the route's) and its name from the route.
function buildingLabel(code, owner) {
  const b = (owner && owner.building) || null;
  const name = b ? `${b.compound || ""}${b.name || ""}` : "";
  const shown = code || (b && b.code);
  if (!shown) return "";
  return b && b.code === shown && name ? `${shown} ${name}` : shown;
}

function renderLocation(doc) {
  const dl = $("case-location");
  dl.replaceChildren();
  const loc = doc.location;
  const building = buildingLabel(loc.building, doc.owner);
  row(dl, t("building"), building ? `${building} · ${t("confidence")} ${percent(loc.confidence)}` : "—");
  row(dl, t("source"), term("source", loc.source));
  row(dl, t("address"), loc.address);
  row(dl, t("coordinates"), loc.lon !== null && loc.lon !== undefined ? `${loc.lon.toFixed(6)}, ${loc.lat.toFixed(6)} (${loc.crs})` : "—");
}

function renderDeadlines(doc) {
  const dl = $("deadlines");
  dl.replaceChildren();
  row(dl, t("receivedAt"), localTime(doc.received_at));
  row(dl, t("dueAt"), doc.due_at ? `${localTime(doc.due_at)} (${term("stage", doc.stage)})` : "—");
  row(dl, t("deadlineAt"), localTime(doc.deadline_at));
  row(dl, t("missedAt"), localTime(doc.missed_at));
  row(dl, t("closedAt"), localTime(doc.closed_at));
}

async function drawCase(doc) {
  caseLayer.clearLayers();
  casePin = null;
  await outline(doc.owner, caseLayer);
  if (S.doc !== doc) return; // another case was opened meanwhile
  const loc = doc.location;
  const movable = doc.allowed_actions.includes("reroute");
  if (loc.lat !== null && loc.lat !== undefined) {
    // The map draws WGS-84; the case came in the default crs (wgs84).
    casePin = L.marker([loc.lat, loc.lon], { draggable: movable, title: t("reroute"), autoPan: true }).addTo(caseLayer);
    casePin.on("dragend", () => {
      const p = casePin.getLatLng();
      reroute({ lon: p.lng, lat: p.lat });
    });
  }
  caseMap.invalidateSize();
  if (caseLayer.getLayers().length) caseMap.fitBounds(caseLayer.getBounds(), { maxZoom: 18, padding: [20, 20] });
}

// A case without a place: a click on its map puts it there.
caseMap.on("click", (e) => {
  if (!S.doc || casePin || !S.doc.allowed_actions.includes("reroute")) return;
  reroute({ lon: e.latlng.lng, lat: e.latlng.lat });
});

async function reroute(where) {
  const id = S.doc.id;
  $("reroute-error").textContent = "";
  $("reroute-done").textContent = "";
  try {
    await api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: JSON.stringify({ action: "reroute", ...where }) });
    await openCase(id, false);
    $("reroute-done").textContent = t("rerouted");
    await reloadQueue(false);
  } catch (e) {
    $("reroute-error").textContent = t("refused", { message: e.message });
    if (S.doc && S.doc.id === id) await drawCase(S.doc); // the pin goes back where the case is
  }
}

// --- work order -------------------------------------------------------------------------------------

function renderWorkOrder(doc) {
  const table = $("workorder-table");
  table.replaceChildren();
  const line = (label, value) => {
    const tr = el("tr");
    tr.appendChild(el("th", label));
    const td = el("td");
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    tr.appendChild(td);
    table.appendChild(tr);
  };
  const loc = doc.location;
  const place = [loc.address, loc.building, loc.lon !== null && loc.lon !== undefined ? `${loc.lon.toFixed(6)}, ${loc.lat.toFixed(6)}` : null]
    .filter(Boolean).join(" · ");
  line(t("caseNo"), `#${doc.id}` + (doc.external_id ? ` (${doc.external_id})` : ""));
  line(t("category"), `${doc.category_name_zh} · ${doc.category_name}`);
  line(t("state"), term("state", doc.state));
  line(t("channel"), term("channel", doc.channel));
  line(t("receivedAt"), localTime(doc.received_at));
  line(t("place"), place);
  line(t("description"), doc.description);
  const callers = (doc.report_list || [])
    .filter((r) => r.reporter && (r.reporter.name || r.reporter.phone))
    .map((r) => [r.reporter.name, r.reporter.phone].filter(Boolean).join(" "));
  line(t("caller"), callers.join("；"));
  line(t("dueAt"), doc.due_at ? `${localTime(doc.due_at)} (${term("stage", doc.stage)})` : "—");
  line(t("deadlineAt"), localTime(doc.deadline_at));
  line(t("assignee"), doc.assignee);
  line(t("ownerChain"), ownerChain(doc.owner).map(([level, area]) => `${term("level", level)} ${areaLabel(area)}`).join(" → "));
  const people = ((doc.owner && doc.owner.people) || []).slice(0, 6).map((p) => `${p.name} (${term("role", p.role)}) ${p.phone || ""}`);
  line(t("peopleToCall"), people.join("；"));
  $("workorder-footer").textContent =
    `${t("dispatcher")}：${S.me ? S.me.name : ""} · ${t("printedAt")}：${localTime(new Date().toISOString())}`;
}

function openWorkOrder() {
  if (!S.doc) return;
  renderWorkOrder(S.doc);
  $("workorder").hidden = false;
  document.body.classList.add("workorder-open");
}

function closeWorkOrder() {
  $("workorder").hidden = true;
  document.body.classList.remove("workorder-open");
}

// --- intake -----------------------------------------------------------------------------------------

const intakeForm = $("intake-form");
const field = (name) => intakeForm.elements.namedItem(name);

function coordinates() {
  const lon = String(field("lon").value).trim();
  const lat = String(field("lat").value).trim();
  if (!lon || !lat) return null;
  const x = Number(lon);
  const y = Number(lat);
  return Number.isFinite(x) && Number.isFinite(y) ? [x, y] : null;
}

// The intake body (the same for preview and create) and its crs.
function intakeBody() {
  const get = (name) => String(field(name).value || "").trim();
  const body = { category: get("category"), description: get("description"), channel: get("channel") || "hotline_12345" };
  const name = get("reporter_name");
  const phone = get("reporter_phone");
  if (name || phone) body.reporter = { name: name || null, phone: phone || null };
  if (get("address")) body.address = get("address");
  if (S.chosen) body.building = S.chosen.code;
  const point = coordinates();
  if (point) [body.lon, body.lat] = point;
  if (get("external_id")) body.external_id = get("external_id");
  return { body, crs: point ? field("crs").value : "wgs84" };
}

function locatedBy() {
  const { body } = intakeBody();
  let how = t("byNothing");
  if (body.lon !== undefined) how = t("byPoint");
  else if (body.building) how = t("byBuilding");
  else if (body.address) how = t("byAddress");
  $("located-by").textContent = t("locatedBy", { how });
}

function clearFieldErrors() {
  $("phone-error").textContent = "";
  field("reporter_phone").classList.remove("invalid");
  $("intake-error").textContent = "";
}

function showIntakeError(e) {
  if (e.field && /phone/.test(e.field)) {
    $("phone-error").textContent = e.message;
    field("reporter_phone").classList.add("invalid");
  } else {
    $("intake-error").textContent = e.message;
  }
}

// The form no longer says what the preview checked: saving needs a new check.
function previewStale() {
  const { body, crs } = intakeBody();
  const key = JSON.stringify([body, crs]);
  const stale = !S.preview || S.preview.key !== key;
  $("preview-stale").hidden = !S.preview || !stale;
  $("save-btn").disabled = stale || Boolean(S.preview && S.preview.answer.repeat);
  $("repeat-warning").hidden = stale || !(S.preview && S.preview.answer.repeat);
  return stale;
}

function checkIntake(body) {
  if (!body.category) return t("chooseCategory");
  if (!body.description) return t("description");
  if (body.lon === undefined && !body.building && !body.address) return t("noLocation");
  return null;
}

async function runPreview() {
  clearFieldErrors();
  $("intake-done").replaceChildren();
  const { body, crs } = intakeBody();
  const missing = checkIntake(body);
  if (missing) {
    $("intake-error").textContent = missing;
    return;
  }
  $("preview-btn").disabled = true;
  $("intake-error").textContent = t("previewing");
  try {
    const answer = await api(`/api/v1/incidents/preview?crs=${encodeURIComponent(crs)}`, { method: "POST", body: JSON.stringify(body) });
    $("intake-error").textContent = "";
    S.preview = { key: JSON.stringify([body, crs]), body, crs, answer };
    renderPreview();
    await drawPreview(answer);
  } catch (e) {
    $("intake-error").textContent = "";
    showIntakeError(e);
  } finally {
    $("preview-btn").disabled = false;
  }
}

function renderPreview() {
  if (!S.preview) return;
  const a = S.preview.answer;
  $("preview").hidden = false;
  const loc = a.location || {};
  $("preview-would").textContent = term("would", a.would);
  const building = buildingLabel(loc.building, a.owner);
  const confidence = loc.confidence !== null && loc.confidence !== undefined ? ` · ${t("confidence")} ${percent(loc.confidence)}` : "";
  $("preview-building").textContent = `${building || "—"}${confidence} · ${term("source", loc.source)}`;
  const reading = S.reading || {};
  const parsed = [];
  if (reading.place) parsed.push(reading.place);
  if (reading.door) parsed.push(`${reading.door}${t("door")}`);
  const unit = loc.unit ?? reading.unit;
  const floor = loc.floor ?? reading.floor;
  if (unit !== null && unit !== undefined) parsed.push(`${unit}${t("unit")}`);
  if (floor !== null && floor !== undefined) parsed.push(`${floor}${I18N.lang === "zh" ? "楼" : " " + t("floor")}`);
  $("preview-parsed").textContent = parsed.length ? parsed.join(" · ") : "—";
  const chain = ownerChain(a.owner);
  $("preview-owner").textContent = chain.length
    ? chain.map(([level, area]) => `${term("level", level)} ${areaLabel(area)}`).join(" → ")
    : t("noArea");
  $("preview-level").textContent = term("level", a.level);
  $("preview-flags").textContent = (a.flags || []).length ? a.flags.map((f) => term("flag", f)).join("、") : t("noFlags");
  const receivers = $("preview-receivers");
  receivers.replaceChildren();
  const assignment = a.assignment || {};
  for (const c of assignment.candidates || []) {
    const li = el("li", candidateText(c) + " · ");
    if (c.phone) li.appendChild(telLink(c.phone));
    receivers.appendChild(li);
  }
  if (!receivers.children.length) {
    receivers.appendChild(el("li", assignment.reason || t("noCandidates"), "warning-text"));
  }
  const doubts = $("preview-doubts");
  doubts.replaceChildren();
  for (const d of loc.doubts || []) doubts.appendChild(el("li", d));
  if (a.repeat) {
    $("repeat-text").textContent = t("repeatWarning", { id: a.repeat.id });
    const category = S.categories.find((c) => c.code === a.repeat.category);
    $("repeat-info").replaceChildren(el("span", t("repeatInfo", {
      state: term("state", a.repeat.state), category: category ? categoryName(category) : a.repeat.category,
      at: localTime(a.repeat.received_at), reports: a.repeat.reports,
    })));
    if (a.repeat.description) $("repeat-info").appendChild(el("div", a.repeat.description, "desc"));
  }
  previewStale();
}

async function drawPreview(answer) {
  intakeLayer.clearLayers();
  intakePin = null;
  await outline(answer.owner, intakeLayer);
  const loc = answer.location || {};
  if (loc.lat !== null && loc.lat !== undefined && (loc.crs || "wgs84") === "wgs84") {
    intakePin = L.marker([loc.lat, loc.lon]).addTo(intakeLayer);
  }
  if (intakeLayer.getLayers().length) intakeMap.fitBounds(intakeLayer.getBounds(), { maxZoom: 18, padding: [20, 20] });
}

async function save(joinRepeat) {
  clearFieldErrors();
  if (previewStale()) return runPreview();
  const { body, crs } = S.preview;
  const payload = Object.assign({}, body);
  if (joinRepeat !== undefined) payload.join_repeat = joinRepeat;
  for (const id of ["save-btn", "join-repeat", "file-new"]) $(id).disabled = true;
  $("intake-error").textContent = t("saving");
  try {
    const doc = await api(`/api/v1/incidents?crs=${encodeURIComponent(crs)}`, { method: "POST", body: JSON.stringify(payload) });
    $("intake-error").textContent = "";
    resetIntake();
    const done = $("intake-done");
    done.replaceChildren(el("strong", doc.repeat ? t("savedJoined", { id: doc.id }) : t("savedNew", { id: doc.id })));
    const open = el("button", t("openCase"));
    open.type = "button";
    open.id = "open-saved";
    open.addEventListener("click", () => openCase(doc.id).catch(showCaseError));
    done.appendChild(el("span", " "));
    done.appendChild(open);
    S.fresh.add(doc.id);
    await reloadQueue(false);
  } catch (e) {
    $("intake-error").textContent = "";
    showIntakeError(e);
  } finally {
    for (const id of ["join-repeat", "file-new"]) $(id).disabled = false;
    previewStale();
  }
}

function resetIntake() {
  intakeForm.reset();
  S.preview = null;
  S.chosen = null;
  S.reading = null;
  hideSuggestions();
  $("chosen-building").hidden = true;
  $("reading").textContent = "";
  $("preview").hidden = true;
  $("save-btn").disabled = true;
  intakeLayer.clearLayers();
  intakePin = null;
  clearFieldErrors();
  locatedBy();
}

// Address suggestions: the text typed, debounced, read by the server's gazetteer.
let suggestTimer = null;
let suggestSeq = 0;

function hideSuggestions() {
  $("suggestions").hidden = true;
  $("suggestions").replaceChildren();
  S.suggestions = [];
  S.active = -1;
  field("address").setAttribute("aria-expanded", "false");
}

async function suggest() {
  const q = String(field("address").value || "").trim();
  const seq = ++suggestSeq;
  if (!q) {
    hideSuggestions();
    $("reading").textContent = "";
    S.reading = null;
    return;
  }
  let answer;
  try {
    answer = await api(`/api/v1/address-suggestions?${new URLSearchParams({ q, limit: "8" })}`);
  } catch (e) {
    if (seq === suggestSeq) $("reading").textContent = e.message;
    return;
  }
  if (seq !== suggestSeq) return; // an older answer arriving late
  S.reading = answer.reading || null;
  const r = answer.reading || {};
  const parts = [r.place, r.door ? `${r.door}${t("door")}` : null, r.unit ? `${r.unit}${t("unit")}` : null,
    r.floor ? `${r.floor}${I18N.lang === "zh" ? "楼" : " " + t("floor")}` : null].filter(Boolean);
  $("reading").textContent = parts.length ? `${t("parsed")}：${parts.join(" · ")}` : "";
  S.suggestions = answer.candidates || [];
  S.active = -1;
  const list = $("suggestions");
  list.replaceChildren();
  S.suggestions.forEach((c, index) => {
    const li = el("li");
    li.setAttribute("role", "option");
    li.dataset.code = c.code;
    li.dataset.index = index;
    li.appendChild(el("span", c.label));
    li.appendChild(el("span", ` ${c.code} · ${percent(c.score)}`, "muted"));
    if (answer.best && answer.best.code === c.code) li.classList.add("best");
    li.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the box
    li.addEventListener("click", () => choose(index));
    list.appendChild(li);
  });
  list.hidden = S.suggestions.length === 0;
  field("address").setAttribute("aria-expanded", String(!list.hidden));
}

function choose(index) {
  const c = S.suggestions[index];
  if (!c) return;
  S.chosen = c;
  $("chosen-text").textContent = t("chosenBuilding", { label: c.label, code: c.code });
  $("chosen-building").hidden = false;
  hideSuggestions();
  if (c.lat !== null && c.lat !== undefined) {
    intakeLayer.clearLayers();
    intakePin = L.marker([c.lat, c.lon]).addTo(intakeLayer);
    intakeMap.setView([c.lat, c.lon], 17);
  }
  locatedBy();
  previewStale();
}

function highlight(index) {
  const items = [...$("suggestions").children];
  if (!items.length) return;
  S.active = (index + items.length) % items.length;
  items.forEach((li, i) => li.classList.toggle("active", i === S.active));
  field("address").setAttribute("aria-activedescendant", "");
}

field("address").addEventListener("input", () => {
  // New text: the building picked for the old text no longer holds.
  if (S.chosen) {
    S.chosen = null;
    $("chosen-building").hidden = true;
  }
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggest, SUGGEST_MS);
});
field("address").addEventListener("keydown", (e) => {
  if ($("suggestions").hidden) return;
  if (e.key === "ArrowDown") { e.preventDefault(); highlight(S.active + 1); }
  else if (e.key === "ArrowUp") { e.preventDefault(); highlight(S.active - 1); }
  else if (e.key === "Enter" && S.active >= 0) { e.preventDefault(); choose(S.active); }
  else if (e.key === "Escape") hideSuggestions();
});
field("address").addEventListener("blur", () => setTimeout(hideSuggestions, 150));

$("unchoose").addEventListener("click", () => {
  S.chosen = null;
  $("chosen-building").hidden = true;
  locatedBy();
  previewStale();
});

intakeMap.on("click", (e) => {
  field("lon").value = e.latlng.lng.toFixed(7);
  field("lat").value = e.latlng.lat.toFixed(7);
  field("crs").value = "wgs84";
  if (intakePin) intakeLayer.removeLayer(intakePin);
  intakePin = L.marker(e.latlng).addTo(intakeLayer);
  locatedBy();
  previewStale();
});

intakeForm.addEventListener("input", () => {
  locatedBy();
  previewStale();
});
intakeForm.addEventListener("change", () => {
  locatedBy();
  previewStale();
});
intakeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  runPreview();
});
field("reporter_phone").addEventListener("input", () => {
  $("phone-error").textContent = "";
  field("reporter_phone").classList.remove("invalid");
});
$("preview-btn").addEventListener("click", runPreview);
$("save-btn").addEventListener("click", () => save(undefined));
$("join-repeat").addEventListener("click", () => save(true));
$("file-new").addEventListener("click", () => save(false));
$("intake-reset").addEventListener("click", () => {
  resetIntake();
  $("intake-done").replaceChildren();
});

// --- actions ----------------------------------------------------------------------------------------

document.querySelector("#action-form [name=action]").addEventListener("change", showActionFields);
document.querySelector("#action-form [name=assignee]").addEventListener("input", (e) => {
  // A receiver typed by hand replaces the candidate chosen.
  if (e.target.value.trim()) for (const r of document.querySelectorAll("#candidates input")) r.checked = false;
});
$("candidates").addEventListener("change", () => {
  document.querySelector("#action-form [name=assignee]").value = "";
});

$("action-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const action = form.get("action");
  const body = { action };
  const text = (key) => String(form.get(key) || "").trim();
  if (text("note")) body.note = text("note");
  if (["reject", "escalate"].includes(action) && text("reason")) body.reason = text("reason");
  if (action === "rate" && form.get("satisfaction")) body.satisfaction = Number(form.get("satisfaction"));
  if (action === "split" && form.get("report")) body.report = Number(form.get("report"));
  if (action === "dispatch" || action === "reassign") {
    // A receiver typed by hand (a department), else the candidate chosen; dispatch with neither lets the
    // server apply its rule (or explain why it cannot).
    if (text("assignee")) body.assignee = text("assignee");
    else if (form.get("person")) body.person = Number(form.get("person"));
  }
  const id = S.doc.id;
  $("action-error").textContent = "";
  $("action-submit").disabled = true;
  try {
    await api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: JSON.stringify(body) });
    event.target.reset();
    await openCase(id, false);
    await reloadQueue(false);
  } catch (e) {
    $("action-error").textContent = t("refused", { message: e.message });
  } finally {
    $("action-submit").disabled = false;
  }
});

$("reroute-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const building = String(new FormData(e.target).get("building") || "").trim();
  if (building) reroute({ building });
});

// --- the rest ---------------------------------------------------------------------------------------

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
  stopPolling();
  await logOut().catch(() => null);
  location.reload();
});
$("lang").addEventListener("click", () => {
  switchLanguage();
  showWho();
  fillCategories();
  renderQueue();
  if (S.doc) renderCase(S.doc);
  renderPreview();
  locatedBy();
});
$("filters").addEventListener("change", () => reloadQueue(true));
$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  reloadQueue(true);
});
$("search-clear").addEventListener("click", () => {
  $("search").reset();
  reloadQueue(true);
});
$("prev-page").addEventListener("click", () => {
  if (S.page > 0) S.page -= 1;
  reloadQueue(false);
});
$("next-page").addEventListener("click", () => {
  S.page += 1;
  reloadQueue(false);
});
$("tab-intake").addEventListener("click", () => showTab("intake"));
$("tab-case").addEventListener("click", () => showTab("case"));
$("print-btn").addEventListener("click", openWorkOrder);
$("workorder-print").addEventListener("click", () => window.print());
$("workorder-close").addEventListener("click", closeWorkOrder);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("workorder").hidden) closeWorkOrder();
});

setInterval(tick, 1000);
window.dispatchConsole = { state: S, caseMap, intakeMap, openCase, loadQueue };
applyLabels();
locatedBy();
start();
