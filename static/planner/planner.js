// The planner: a draft of one community on the map, edited with server-side split, merge, move,
// reshape, draw and propose; tallies after every edit, coverage findings a moment later, save with
// If-Match. User and database text always goes in with textContent, never as HTML.
"use strict";


const COLOURS = { within: "#2a9d8f", under: "#e9c46a", over: "#e76f51", empty: "#bbbbbb" };
const FINDING_COLOURS = { error: "#d00000", warning: "#f77f00" };

const map = L.map("map", { zoomControl: true, attributionControl: false, boxZoom: false }).setView([22.62, 114.03], 14);
map.createPane("buildings").style.zIndex = 420;
map.createPane("findings").style.zIndex = 430;
const layers = {
  community: L.geoJSON(null, { interactive: false, pmIgnore: true, style: { color: "#1d3557", weight: 3, fill: false } }),
  grids: L.geoJSON(null, { interactive: false, pmIgnore: true, style: gridStyle }),
  microgrids: L.geoJSON(null, { style: microgridStyle, onEachFeature: onMicrogrid }),
  buildings: L.geoJSON(null, { pane: "buildings", pmIgnore: true, style: buildingStyle, onEachFeature: onBuilding }),
  findings: L.geoJSON(null, { pane: "findings", interactive: false, pmIgnore: true, style: findingStyle }),
  history: L.geoJSON(null, { interactive: false, pmIgnore: true, style: { color: "#6a4c93", weight: 3, dashArray: "6 4", fill: false } }),
};
for (const layer of Object.values(layers)) layer.addTo(map);

const state = {
  me: null, draft: null, selected: [], mode: null, movePicked: new Set(), editLayer: null, findingsTimer: null,
  busy: false,
};

// --- drawing -----------------------------------------------------------------------------------

function gridStyle(f) {
  const special = f.properties.layer !== "comprehensive";
  return { color: special ? "#7b2cbf" : "#264653", weight: special ? 3 : 2, dashArray: special ? null : "5 5",
           fill: special, fillOpacity: 0.08 };
}
function microgridStyle(f) {
  const p = f.properties;
  const picked = state.selected.includes(p.key);
  return { color: picked ? "#0000ff" : p.changed ? "#000000" : "#555555", weight: picked ? 4 : p.changed ? 2.5 : 1,
           fillColor: COLOURS[p.badge] || "#bbbbbb", fillOpacity: 0.45 };
}
function buildingStyle(f) {
  const picked = state.movePicked.has(f.properties.id);
  return { color: picked ? "#0000ff" : "#333333", weight: picked ? 3 : 1, fillColor: picked ? "#4361ee" : "#444444",
           fillOpacity: picked ? 0.8 : 0.5 };
}
function findingStyle(f) {
  return { color: FINDING_COLOURS[f.properties.severity] || "#d00000", weight: 2, fillOpacity: 0.35, dashArray: "3 3" };
}

// Tooltips are DOM nodes built with el(), which sets the text as textContent (never parsed as HTML): Leaflet
// would parse a string as HTML, and codes and names come from the database.
function onMicrogrid(feature, layer) {
  layer.bindTooltip(() => el("span", `${feature.properties.code} · ${feature.properties.households}`), { sticky: true });
  layer.on("click", (e) => microgridClicked(feature.properties, e.originalEvent));
}
function onBuilding(feature, layer) {
  const p = feature.properties;
  layer.bindTooltip(() => el("span", `${p.code} ${p.name || ""} · ${p.households}`), { sticky: true });
  layer.on("click", () => buildingClicked(feature.properties));
}

function render(doc) {
  const first = !state.draft || state.draft.id !== doc.id;
  state.draft = doc;
  const live = new Set(doc.microgrids.features.map((f) => f.properties.key));
  state.selected = state.selected.filter((k) => live.has(k));
  layers.community.clearLayers().addData(doc.community);
  layers.grids.clearLayers().addData(doc.grids);
  layers.microgrids.clearLayers().addData(doc.microgrids);
  layers.buildings.clearLayers().addData(doc.buildings);
  if (first) map.fitBounds(layers.community.getBounds());
  renderInfo();
  renderTallies();
  renderList();
  renderGrids();
  scheduleFindings();
}

function renderInfo() {
  const d = state.draft;
  $("draft-info").textContent = `${d.area} ${d.name} · ` +
    t("draft", { id: d.id, revision: d.revision, steps: d.steps.length }) + (d.status === "saved" ? ` · ${t("saved")}` : "");
  $("undo").disabled = !d.can_undo;
  $("redo").disabled = !d.can_redo;
  $("save").disabled = d.steps.length === 0 || d.status === "saved";
}

function renderTallies() {
  const tl = state.draft.tallies;
  const box = $("tallies");
  box.replaceChildren();
  for (const [key, value] of [["microgrids", tl.microgrids], ["total", tl.households], ["within", tl.within],
                              ["under", tl.under], ["over", tl.over], ["empty", tl.empty], ["changed", tl.changed]]) {
    box.append(el("dt", t(key)), el("dd", value));
    box.lastChild.id = `tally-${key}`;
  }
}

function renderList() {
  const rows = [...state.draft.microgrids.features].sort((a, b) =>
    (b.properties.changed - a.properties.changed) || a.properties.code.localeCompare(b.properties.code));
  const body = $("mg-list");
  body.replaceChildren();
  for (const f of rows) {
    const p = f.properties;
    const tr = el("tr");
    tr.dataset.key = p.key;
    tr.dataset.code = p.code;
    if (state.selected.includes(p.key)) tr.className = "selected";
    tr.append(el("td", p.code.slice(-6) + (p.changed ? " *" : "")), el("td", p.households));
    const badge = el("td");
    badge.append(el("span", t(p.badge), `badge ${p.badge}`));
    tr.append(badge, el("td", p.party_cell ? p.party_cell.name : "—"),
              el("td", p.people.map((x) => x.name).join("、") || "—"));
    tr.title = `${p.code} ${p.name}`;
    tr.addEventListener("click", (e) => microgridClicked(p, e, true));
    body.append(tr);
  }
}

function renderGrids() {
  const select = $("propose-grid");
  const keep = select.value;
  select.replaceChildren();
  for (const f of state.draft.grids.features) {
    if (f.properties.layer !== "comprehensive" || f.properties.new) continue;
    const option = el("option", `${f.properties.code.slice(-3)} ${f.properties.name}`);
    option.value = f.properties.key;
    select.append(option);
  }
  if (keep) select.value = keep;
}

function scheduleFindings() {
  clearTimeout(state.findingsTimer);
  state.findingsTimer = setTimeout(loadFindings, 300);
}

async function loadFindings() {
  const d = state.draft;
  if (!d) return;
  let doc;
  try {
    doc = await api(`/api/v1/drafts/${d.id}/findings`);
  } catch (e) {
    return say(e.message, true);
  }
  if (!state.draft || state.draft.id !== d.id) return;
  layers.findings.clearLayers().addData(doc);
  const list = $("findings");
  list.replaceChildren();
  $("findings-summary").textContent = d.steps.length === 0 ? t("noChanges") :
    doc.features.length === 0 ? t("noFindings") :
    t("findingsSummary", { errors: doc.summary.errors, warnings: doc.summary.warnings });
  for (const f of doc.features) {
    const p = f.properties;
    const item = el("li", p.message, `finding ${p.severity}`);
    item.dataset.problem = p.problem;
    if (p.blocking) item.append(el("span", t("blocking"), "badge over"));
    if (p.confirm) item.append(el("span", t("confirm"), "badge under"));
    list.append(item);
  }
  $("tab-findings").dataset.revision = String(doc.revision);
}

// --- selection and modes -------------------------------------------------------------------------

function microgridClicked(p, event, fromList = false) {
  if (state.mode === "move") {
    if (!fromList) moveTo(p.key);
    return;
  }
  if (state.mode) return;
  const many = event && (event.shiftKey || event.ctrlKey || event.metaKey);
  if (many) {
    state.selected = state.selected.includes(p.key) ? state.selected.filter((k) => k !== p.key) : [...state.selected, p.key];
  } else {
    state.selected = [p.key];
  }
  layers.microgrids.setStyle(microgridStyle);
  renderList();
  if (fromList) {
    const layer = layers.microgrids.getLayers().find((l) => l.feature.properties.key === p.key);
    if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 18, padding: [60, 60] });
  }
  if (state.selected.length === 1) loadHistory(p);
}

function buildingClicked(b) {
  if (state.mode !== "move") return;
  if (state.movePicked.has(b.id)) state.movePicked.delete(b.id);
  else state.movePicked.add(b.id);
  layers.buildings.setStyle(buildingStyle);
  hint(t("hintMove", { n: state.movePicked.size }));
}

function setMode(mode) {
  endMode();
  state.mode = mode;
  document.body.dataset.mode = mode || "";
  $("mode").hidden = !mode;
  $("mode-done").hidden = mode !== "reshape";
  $("give-way-label").hidden = mode !== "reshape";
  $("mode-lasso").hidden = mode !== "move";
}

function endMode() {
  map.pm.disableDraw();
  if (state.editLayer) {
    state.editLayer.pm.disable();
    map.removeLayer(state.editLayer);
    state.editLayer = null;
  }
  state.mode = null;
  state.movePicked.clear();
  document.body.dataset.mode = "";
  $("mode").hidden = true;
  layers.buildings.setStyle(buildingStyle);
}

function hint(text) {
  $("mode-hint").textContent = text;
}

function selectedOne() {
  if (state.selected.length !== 1) {
    say(t("selectOne"), true);
    return null;
  }
  return state.selected[0];
}

function startTool(tool) {
  if (!state.draft || state.busy) return;
  say("");
  if (tool === "merge") {
    if (state.selected.length < 2) return say(t("selectTwo"), true);
    return edit({ op: "merge", keys: state.selected });
  }
  if (tool === "split") {
    if (!selectedOne()) return;
    setMode("split");
    hint(t("hintSplit"));
    map.pm.enableDraw("Line", { snappable: true, finishOn: null });
  } else if (tool === "move") {
    setMode("move");
    hint(t("hintMove", { n: 0 }));
  } else if (tool === "reshape") {
    const key = selectedOne();
    if (!key) return;
    setMode("reshape");
    hint(t("hintReshape"));
    const source = layers.microgrids.getLayers().find((l) => l.feature.properties.key === key);
    state.editLayer = L.geoJSON(source.feature, { style: { color: "#0000ff", weight: 3, fillOpacity: 0.1 } })
      .getLayers()[0];
    state.editLayer.feature = source.feature;
    state.editLayer.addTo(map);
    state.editLayer.pm.enable({ snappable: true, snapDistance: 15, allowSelfIntersection: false });
  } else if (tool === "draw") {
    setMode("draw");
    hint(t("hintDraw"));
    map.pm.enableDraw("Polygon", { snappable: true });
  }
}

map.on("pm:create", async (e) => {
  const geometry = e.layer.toGeoJSON().geometry;
  map.removeLayer(e.layer);
  const mode = state.mode;
  if (mode === "split") {
    const key = state.selected[0];
    setMode(null);
    await edit({ op: "split", key, line: geometry });
  } else if (mode === "draw") {
    setMode(null);
    const dialog = $("draw-dialog");
    dialog.querySelector("[name=name]").value = "";
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "ok") return;
      const form = new FormData($("draw-form"));
      await edit({ op: "draw", geometry, name: form.get("name"), layer: form.get("layer") });
    }, { once: true });
  } else if (mode === "move") {
    // The lasso: every building whose first vertex lies inside the drawn ring is picked.
    const ring = geometry.coordinates[0];
    for (const f of state.draft.buildings.features) {
      const first = f.geometry.type === "Polygon" ? f.geometry.coordinates[0][0] : f.geometry.coordinates[0][0][0];
      if (inside(first, ring)) state.movePicked.add(f.properties.id);
    }
    layers.buildings.setStyle(buildingStyle);
    hint(t("hintMove", { n: state.movePicked.size }));
  }
});

function inside([x, y], ring) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

async function moveTo(key) {
  if (!state.movePicked.size) return;
  const buildings = [...state.movePicked];
  setMode(null);
  await edit({ op: "move", buildings, to: key });
}

// --- talking to the server ----------------------------------------------------------------------

function say(text, error = false) {
  const box = $("message");
  box.textContent = text || "";
  box.className = error ? "error" : "";
}

function showConflict(message) {
  $("conflict-text").textContent = t("conflict", { message });
  $("conflict").hidden = false;
}

async function run(path, body) {
  const d = state.draft;
  state.busy = true;
  say(t("working"));
  try {
    const doc = await api(`/api/v1/drafts/${d.id}/${path}`, {
      method: "POST", headers: { "If-Match": `"${d.revision}"` }, body: body ? JSON.stringify(body) : undefined,
    });
    render(doc);
    say(doc.label || "");
    return doc;
  } catch (e) {
    if (e.status === 409) showConflict(e.message);
    else say(e.message, true);
    return null;
  } finally {
    state.busy = false;
  }
}

const edit = (body) => run("edits", body);

async function saveDraft(confirm = false) {
  const d = state.draft;
  say(t("working"));
  try {
    const done = await api(`/api/v1/drafts/${d.id}/save`, {
      method: "POST", headers: { "If-Match": `"${d.revision}"` }, body: JSON.stringify({ confirm }),
    });
    await openCommunity(d.area, true);
    say(t("savedMessage", { created: done.created.join(", ") || "—", updated: done.updated.join(", ") || "—",
                            retired: done.retired.join(", ") || "—" }));
  } catch (e) {
    if (e.code === "confirmation_required") {
      $("confirm-text").textContent = e.message;
      const dialog = $("confirm-dialog");
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", () => {
        if (dialog.returnValue === "ok") saveDraft(true);
        else say(e.message, true);
      }, { once: true });
    } else if (e.status === 409) {
      say("");
      showConflict(e.message);
    } else {
      say(t("refused", { message: e.message }), true);
    }
  }
}

async function openCommunity(code, fresh = false) {
  endMode();
  $("conflict").hidden = true;
  layers.history.clearLayers();
  try {
    let draftId = null;
    if (!fresh) {
      const open = await api(`/api/v1/drafts?area=${encodeURIComponent(code)}`);
      const mine = open.drafts.find((x) => x.created_by === state.me.name);
      if (mine) draftId = mine.id;
    }
    const doc = draftId
      ? await api(`/api/v1/drafts/${draftId}`)
      : await api("/api/v1/drafts", { method: "POST", body: JSON.stringify({ area: code }) });
    state.draft = null;
    state.selected = [];
    render(doc);
    say(draftId ? t("resumed", { id: draftId }) : t("newDraft"));
    location.hash = `area=${code}`;
  } catch (e) {
    say(e.status === 404 || e.status === 403 ? t("outside", { message: e.message }) : e.message, true);
  }
}

async function loadHistory(p) {
  $("history-title").textContent = t("historyOf", { code: p.code });
  const list = $("history");
  list.replaceChildren();
  layers.history.clearLayers();
  if (!p.id) return;
  let doc;
  try {
    doc = await api(`/api/v1/areas/${p.id}/versions`);
  } catch (e) {
    return say(e.message, true);
  }
  for (const f of doc.features) {
    const v = f.properties;
    const item = el("li", t("versionLine", { version: v.version, by: v.by || "—", from: v.valid_from.slice(0, 19) }));
    item.dataset.version = v.version;
    const button = el("button", t("show"));
    button.type = "button";
    button.addEventListener("click", () => {
      layers.history.clearLayers().addData(f);
      map.fitBounds(layers.history.getBounds(), { maxZoom: 18 });
    });
    item.append(" ", button);
    list.append(item);
  }
}

async function communities() {
  const scopes = state.me.scope.length ? state.me.scope : [""];
  const found = new Map();
  for (const scope of scopes) {
    const query = new URLSearchParams({ level: "community", limit: "1000" });
    if (scope) query.set("code", scope.slice(0, 12));
    const page = await api(`/api/v1/areas?${query}`);
    for (const f of page.features) {
      if (!scope || f.properties.code.startsWith(scope) || scope.startsWith(f.properties.code)) {
        found.set(f.properties.code, f.properties.name);
      }
    }
  }
  const select = $("community");
  select.replaceChildren();
  for (const [code, name] of [...found].sort()) {
    const option = el("option", `${code} ${name}`);
    option.value = code;
    select.append(option);
  }
}

// --- start --------------------------------------------------------------------------------------

async function start() {
  try {
    state.me = await whoAmI();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
  if (!state.me) {
    $("login").hidden = false;
    $("planner").hidden = true;
    return;
  }
  $("who").textContent = `${state.me.name} (${state.me.role})`;
  $("login").hidden = true;
  $("logout").hidden = false;
  $("planner").hidden = false;
  map.invalidateSize();
  await communities();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("area");
  const code = wanted || $("community").value;
  if (code) await openCommunity(code);
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await logIn(e.target);
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", async () => {
  await logOut().catch(() => null);
  location.reload();
});
$("lang").addEventListener("click", () => {
  switchLanguage();
  if (state.draft) render(state.draft);
});
$("pick").addEventListener("submit", (e) => {
  e.preventDefault();
  openCommunity($("community").value);
});
for (const button of document.querySelectorAll("[data-tool]")) {
  button.addEventListener("click", () => startTool(button.dataset.tool));
}
$("undo").addEventListener("click", () => run("undo"));
$("redo").addEventListener("click", () => run("redo"));
$("save").addEventListener("click", () => saveDraft(false));
$("reload").addEventListener("click", () => openCommunity(state.draft.area, true));
$("mode-cancel").addEventListener("click", () => setMode(null));
$("mode-lasso").addEventListener("click", () => map.pm.enableDraw("Polygon", { snappable: false }));
$("mode-done").addEventListener("click", async () => {
  const layer = state.editLayer;
  if (!layer) return;
  const key = layer.feature.properties.key;
  const geometry = layer.toGeoJSON().geometry;
  const giveWay = $("give-way").checked;
  setMode(null);
  await edit({ op: "reshape", key, geometry, give_way: giveWay });
});
$("propose").addEventListener("submit", (e) => {
  e.preventDefault();
  edit({ op: "propose", grid: $("propose-grid").value, min: Number($("band-min").value),
         max: Number($("band-max").value) });
});
for (const tab of document.querySelectorAll("[data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("[data-tab]")) other.classList.toggle("active", other === tab);
    for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${tab.dataset.tab}`;
  });
}
document.addEventListener("keydown", (e) => {
  if (!(e.ctrlKey || e.metaKey) || !state.draft || e.target.tagName === "INPUT") return;
  const key = e.key.toLowerCase();
  if (key === "z" && !e.shiftKey && state.draft.can_undo) { e.preventDefault(); run("undo"); }
  if ((key === "y" || (key === "z" && e.shiftKey)) && state.draft.can_redo) { e.preventDefault(); run("redo"); }
  if (e.key === "Escape") setMode(null);
});

window.planner = { state, map, layers, edit, run, saveDraft, openCommunity };
applyLabels();
start();
