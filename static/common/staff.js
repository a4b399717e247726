// Shared by the staff pages (dispatch console, planner): element helpers that only ever set text,
// API calls carrying the session token, and logging in. A refused call throws ApiError with the
// status, the error code and any findings.
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
  }
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem("gridmap.token");
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

// Log in with a form holding `name` and `password`; the token is kept for this tab only.
async function logIn(form) {
  const data = new FormData(form);
  const session = await api("/api/v1/auth/login", {
    method: "POST", body: JSON.stringify({ username: data.get("name"), password: data.get("password") }),
  });
  sessionStorage.setItem("gridmap.token", session.token);
  return session;
}
