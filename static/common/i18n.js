// Labels in Chinese (the default) and English for the staff pages that load it (dispatch console, worker
// view), in the style of the planner's own i18n.js: elements carry data-i18n="key" (their text),
// data-i18n-placeholder="key" or data-i18n-aria="key"; scripts call t(key, values) for the text they write.
// A page adds its dictionaries with addLabels({zh: {...}, en: {...}}). Only the language choice is kept
// (localStorage "gridmap.lang", shared with the planner).
//
// Also here: instants shown as local time in the server's zone (GET /api/v1/auth/me → timezone), and
// the countdown to a deadline.
"use strict";

const I18N = { labels: { zh: {}, en: {} }, lang: localStorage.getItem("gridmap.lang") === "en" ? "en" : "zh" };

function addLabels(more) {
  for (const lang of Object.keys(more)) I18N.labels[lang] = Object.assign(I18N.labels[lang] || {}, more[lang]);
}

// The label of ``key`` with {name} replaced by values[name]; the Chinese one when English has none, the
// key itself when neither has it.
function t(key, values = {}) {
  const text = (I18N.labels[I18N.lang] || {})[key] ?? I18N.labels.zh[key] ?? key;
  return String(text).replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

// The label of a code from a vocabulary ("state.received" → 待派遣); the code itself when unknown.
function term(kind, code) {
  if (code === null || code === undefined || code === "") return "—";
  const key = `${kind}.${code}`;
  const text = (I18N.labels[I18N.lang] || {})[key] ?? I18N.labels.zh[key];
  return text === undefined ? String(code) : text;
}

function applyLabels(root = document) {
  document.documentElement.lang = I18N.lang === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
  const lang = document.getElementById("lang");
  if (lang) lang.textContent = I18N.lang === "zh" ? "English" : "中文";
  const title = document.body && document.body.dataset.title;  // <body data-title="key">
  if (title) document.title = "gridmap · " + t(title);
}

function switchLanguage() {
  I18N.lang = I18N.lang === "zh" ? "en" : "zh";
  localStorage.setItem("gridmap.lang", I18N.lang);
  applyLabels();
}

// --- time -------------------------------------------------------------------------------------------

const TIME = { zone: "Asia/Shanghai", formats: {} };

// The zone instants are shown in (the server's, from /auth/me); an unknown zone keeps the default.
function setTimeZone(zone) {
  if (!zone) return;
  try {
    new Intl.DateTimeFormat("zh-CN", { timeZone: zone });
    TIME.zone = zone;
    TIME.formats = {};
  } catch (e) { /* not a zone this browser knows: keep the default */ }
}

function _format(seconds) {
  const key = seconds ? "s" : "m";
  if (!TIME.formats[key]) {
    TIME.formats[key] = new Intl.DateTimeFormat("zh-CN", {
      timeZone: TIME.zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: seconds ? "2-digit" : undefined, hourCycle: "h23",
    });
  }
  return TIME.formats[key];
}

// An ISO-8601 instant as "2026-11-18 10:00" (or with seconds) in the server's zone; "—" for none.
function localTime(iso, seconds = false) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  const part = {};
  for (const p of _format(seconds).formatToParts(date)) part[p.type] = p.value;
  const hour = part.hour === "24" ? "00" : part.hour;
  return `${part.year}-${part.month}-${part.day} ${hour}:${part.minute}` + (seconds ? `:${part.second}` : "");
}

const _pad = (n) => String(n).padStart(2, "0");

// Time left to ``iso`` at ``nowMs``: {overdue, text} ("剩余 04:59", "剩余 1:04:59", "剩余 2天 03:04:05",
// "已超期 3 分钟"); null without a deadline.
function countdown(iso, nowMs = Date.now()) {
  if (!iso) return null;
  const left = Math.floor((new Date(iso).getTime() - nowMs) / 1000);
  if (left < 0) {
    const minutes = Math.floor(-left / 60);
    if (minutes < 60) return { overdue: true, text: t("overdueByMinutes", { n: minutes }) };
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return { overdue: true, text: t("overdueByHours", { h: hours, m: minutes % 60 }) };
    return { overdue: true, text: t("overdueByDays", { d: Math.floor(hours / 24), h: hours % 24 }) };
  }
  const s = left % 60;
  const m = Math.floor(left / 60) % 60;
  const h = Math.floor(left / 3600);
  let text;
  if (h === 0) text = `${_pad(m)}:${_pad(s)}`;
  else if (h < 24) text = `${h}:${_pad(m)}:${_pad(s)}`;
  else text = t("days", { d: Math.floor(h / 24) }) + ` ${_pad(h % 24)}:${_pad(m)}:${_pad(s)}`;
  return { overdue: false, text: t("remaining", { time: text }) };
}

addLabels({
  zh: {
    remaining: "剩余 {time}", days: "{d}天", overdueByMinutes: "已超期 {n} 分钟",
    overdueByHours: "已超期 {h} 小时 {m} 分钟", overdueByDays: "已超期 {d} 天 {h} 小时",
  },
  en: {
    remaining: "{time} left", days: "{d}d", overdueByMinutes: "overdue by {n} min",
    overdueByHours: "overdue by {h} h {m} min", overdueByDays: "overdue by {d} d {h} h",
  },
});
