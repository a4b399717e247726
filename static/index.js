// The landing page's database status, from /health (a file, not inline: the CSP runs no inline script).
"use strict";

fetch("/health").then((r) => r.json().then((body) => ({ ok: r.ok, body }))).then(({ ok, body }) => {
  const box = document.getElementById("health");
  box.className = ok ? "ok" : "down";
  box.textContent = ok
    ? `数据库正常 / database ok — PostGIS ${body.database.postgis}, PostgreSQL ${body.database.postgresql}`
    : "数据库不可用 / database unavailable";
}).catch(() => { document.getElementById("health").className = "down"; });
