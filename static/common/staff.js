// Shared by the staff pages (dispatch console, planner): element helpers that only ever set text,
// API calls, and logging in and out. A refused call throws ApiError with the status, the error code
// and any findings.
//
// The session lives in an HttpOnly cookie the server sets at login: no script on the page, injected
// or not, can read it, and the pages keep no token anywhere. The browser sends the cookie by itself;
// every write also sends X-CSRF-Token, copied from the readable gridmap_csrf cookie, which another
// site cannot read or send.
"use strict";

const $ = (id) => document.getElementById(id);
// A new element with ``text`` as its text (never parsed as HTML) and an optional class.
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
};

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || String(status));
    this.status = status;
    this.code = body && body.error && body.error.code;
    this.findings = (body && body.error && body.error.findings) || [];
    this.field = (body && body.error && body.error.field) || null;  // the request field at fault, if any
    this.detail = (body && body.error && body.error.detail) || null;
  }
}

// The CSRF twin of the session cookie ("" when logged out).
function csrfToken() {
  const pair = document.cookie.split("; ").find((c) => c.startsWith("gridmap_csrf="));
  return pair ? decodeURIComponent(pair.slice("gridmap_csrf=".length)) : "";
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  const method = (options.method || "GET").toUpperCase();
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  const r = await fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

// Who is logged in (GET /api/v1/auth/me), or null when this browser holds no session. Without the
// CSRF cookie there is no session to ask about, so the page does not provoke a 401; a session that
// ended on the server throws the server's reason.
async function whoAmI() {
  return csrfToken() ? api("/api/v1/auth/me") : null;
}

// Log in with a form holding `name` and `password`; the answer sets the session cookies.
async function logIn(form) {
  const data = new FormData(form);
  return api("/api/v1/auth/login", {
    method: "POST", body: JSON.stringify({ username: data.get("name"), password: data.get("password") }),
  });
}

// End the session on the server, which also clears both cookies.
async function logOut() {
  await api("/api/v1/auth/logout", { method: "POST" });
}
