// The API client: the token (noauth's "user:project", or a Keystone token), the project in
// the path, Cinder's fault body turned into words, and a clear difference between "this
// call failed" and "this server has no such API yet" (a route miss answers a plain-text
// 404; a refused microversion answers 406).

const KEY_USER = "clinker.user";
const KEY_PROJECT = "clinker.project";
const KEY_RECENT = "clinker.recent";
// A Keystone token lives in sessionStorage: it is a bearer secret, so it goes with the
// tab, unlike noauth's remembered user and project, which are not secrets.
const KEY_KEYSTONE = "clinker.keystone";

function storedKeystone() {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY_KEYSTONE) || "null");
    return v && typeof v.token === "string" && typeof v.project === "string" ? v : null;
  } catch {
    return null;
  }
}

/**
 * Who is signed in. `mode` is the server's `auth_strategy`, read from
 * `/clinker/v1/console/config` before anything else. `user` and `project` are what the
 * API knows (ids); `userName` and `projectName` what the header shows. `isAdmin` comes from
 * the server (`/clinker/v1/whoami`).
 */
export const session = {
  mode: "",
  user: "",
  project: "",
  userName: "",
  projectName: "",
  token: "",
  roles: [],
  expiresAt: "",
  isAdmin: false,
  checked: false,
  maxVersion: "3.0",
};

/** Reads the server's `auth_strategy`, then what this browser remembers for it. */
export async function loadMode() {
  let mode = "noauth";
  try {
    const res = await fetch("/clinker/v1/console/config", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (res.ok) mode = (await res.json())?.auth_strategy === "keystone" ? "keystone" : "noauth";
  } catch {
    // The server is down: the sign-in page will say so when it is used.
  }
  session.mode = mode;
  if (mode === "keystone") {
    const k = storedKeystone();
    if (k && !(Date.parse(k.expiresAt) <= Date.now())) adopt(k);
  } else {
    session.user = localStorage.getItem(KEY_USER) || "";
    session.project = localStorage.getItem(KEY_PROJECT) || "";
    session.userName = session.user;
    session.projectName = session.project;
  }
  return mode;
}

function adopt(k) {
  session.token = k.token;
  session.user = k.user || k.userName || "";
  session.userName = k.userName || k.user || "";
  session.project = k.project;
  session.projectName = k.projectName || k.project;
  session.roles = Array.isArray(k.roles) ? k.roles : [];
  session.expiresAt = k.expiresAt || "";
}

/** The token every call carries. */
export function authToken() {
  return session.mode === "keystone" ? session.token : `${session.user}:${session.project}`;
}

export function signedIn() {
  return Boolean(session.user && session.project && session.checked);
}

export function remember(user, project) {
  session.user = user;
  session.project = project;
  session.userName = user;
  session.projectName = project;
  localStorage.setItem(KEY_USER, user);
  localStorage.setItem(KEY_PROJECT, project);
  const recent = recentSignIns().filter((r) => !(r.user === user && r.project === project));
  recent.unshift({ user, project });
  localStorage.setItem(KEY_RECENT, JSON.stringify(recent.slice(0, 8)));
}

export function recentSignIns() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY_RECENT) || "[]");
    return Array.isArray(v) ? v.filter((r) => r && typeof r.user === "string" && typeof r.project === "string") : [];
  } catch {
    return [];
  }
}

export function signOut() {
  session.checked = false;
  session.isAdmin = false;
  if (session.mode === "keystone") {
    // The token is forgotten here; Keystone honours it until it expires, as it does a
    // token any client drops.
    sessionStorage.removeItem(KEY_KEYSTONE);
    Object.assign(session, { token: "", user: "", project: "", userName: "", projectName: "", roles: [], expiresAt: "" });
    return;
  }
  localStorage.removeItem(KEY_USER);
  localStorage.removeItem(KEY_PROJECT);
}

/** A failed call, with a message a person can read. */
export class ApiError extends Error {
  constructor(message, { status = 0, fault = "", requestId = "", unavailable = false } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fault = fault;
    this.requestId = requestId;
    /** True when the server has no such API (yet): not the user's fault, nothing to retry. */
    this.unavailable = unavailable;
  }
}

/** Cinder prefixes some messages with an exception class ("VolumeLimitExceeded: ..."). */
function tidy(message) {
  return String(message || "").replace(/^[A-Z][a-z]+(?:[A-Z][a-z]+)+: /, "").trim();
}

async function toError(res) {
  const requestId = res.headers.get("x-openstack-request-id") || "";
  const text = await res.text();
  let fault = "";
  let message = "";
  try {
    const body = JSON.parse(text);
    const first = body && typeof body === "object" ? Object.keys(body)[0] : undefined;
    if (first && body[first] && typeof body[first] === "object") {
      fault = first;
      message = tidy(body[first].message);
    }
  } catch {
    // Not JSON: a route miss or a proxy's page. Never show it raw.
  }
  const status = res.status;
  if (status === 404 && !fault) {
    return new ApiError("Not available on this server yet.", { status, requestId, unavailable: true });
  }
  if (status === 406) {
    return new ApiError(
      `This server does not support the API version this page needs yet${message ? ` (${message})` : ""}.`,
      { status, fault, requestId, unavailable: true },
    );
  }
  if (status === 401) {
    return new ApiError(`The server did not accept your sign-in: ${message || "unauthorized"}. Please sign in again.`, {
      status, fault, requestId,
    });
  }
  if (status === 403) {
    return new ApiError(`You are not allowed to do this. ${message}`.trim(), { status, fault, requestId });
  }
  if (status === 413 && fault === "overLimit") {
    return new ApiError(`Over your quota: ${message}`, { status, fault, requestId });
  }
  if (status >= 500) {
    const base = message || "The server could not complete the request.";
    return new ApiError(`${base} (request ${requestId || "without an id"}; the server log has the cause.)`, {
      status, fault, requestId,
    });
  }
  return new ApiError(message || `The server refused the request (HTTP ${status}).`, { status, fault, requestId });
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * Calls the API. `path` starting with `/v3/` or `/clinker/` is used as is; anything else
 * is under `/v3/{project}`. Returns `{status, data, headers}`; throws `ApiError`.
 */
export async function call(method, path, { body, version, query, token } = {}) {
  let url = path.startsWith("/v3/") || path.startsWith("/clinker/") ? path : `/v3/${encodeURIComponent(session.project)}${path}`;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") qs.append(k, String(v));
    }
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const headers = {
    "X-Auth-Token": token || authToken(),
    Accept: "application/json",
  };
  if (version) headers["OpenStack-API-Version"] = `volume ${version}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("Cannot reach the Clinker server. Check that it is running, then try again.");
  }
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !token) onUnauthorized(err);
    throw err;
  }
  let data = null;
  const text = await res.text();
  if (text && (res.headers.get("content-type") || "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError("The server sent an answer the console cannot read.", { status: res.status });
    }
  }
  return { status: res.status, data, headers: res.headers };
}

export const get = (path, opts) => call("GET", path, opts).then((r) => r.data);
export const post = (path, body, opts = {}) => call("POST", path, { ...opts, body });
export const put = (path, body, opts = {}) => call("PUT", path, { ...opts, body });
export const del = (path, opts) => call("DELETE", path, opts);

/** `POST /volumes/{id}/action` with one action. */
export const volumeAction = (id, name, args = {}) => post(`/volumes/${id}/action`, { [name]: args });

/** Compares microversions `3.N`. */
export function versionAtLeast(have, want) {
  const [a, b] = String(have).split(".").map(Number);
  const [c, d] = String(want).split(".").map(Number);
  return a > c || (a === c && b >= d);
}

/** Asks the server who `token` is and which microversions it speaks. */
export async function checkSession(token = authToken()) {
  const who = (await call("GET", "/clinker/v1/whoami", { token })).data || {};
  try {
    const doc = (await call("GET", "/v3/", { token })).data;
    session.maxVersion = doc?.versions?.[0]?.version || "3.0";
  } catch {
    session.maxVersion = "3.0";
  }
  return who;
}

/**
 * Signs in through Keystone: Clinker relays the user name, password and project to
 * Keystone and answers the token (`X-Subject-Token`) and whom it names. The password is
 * not kept; the token is, in this tab's sessionStorage. Throws `ApiError`.
 */
export async function keystoneSignIn({ user, password, project, domain }) {
  let res;
  try {
    res = await fetch("/clinker/v1/console/auth/tokens", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ user, password, project, domain }),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("Cannot reach the Clinker server. Check that it is running, then try again.");
  }
  if (res.status === 401) {
    throw new ApiError("Keystone did not accept this user name, password, project and domain (or the user has no role in the project).", { status: 401 });
  }
  if (!res.ok) throw await toError(res);
  const token = res.headers.get("X-Subject-Token") || "";
  const t = (await res.json().catch(() => null))?.token;
  if (!token || !t?.project?.id) throw new ApiError("Keystone gave a token without a project; the console needs a project-scoped one.");
  const k = {
    token,
    user: t.user?.id || "",
    userName: t.user?.name || user,
    project: t.project.id,
    projectName: t.project.name || project,
    roles: Array.isArray(t.roles) ? t.roles : [],
    expiresAt: t.expires_at || "",
  };
  adopt(k);
  sessionStorage.setItem(KEY_KEYSTONE, JSON.stringify(k));
  return k;
}

/** Every page of a collection, following `<name>_links` (for small lists: types, AZs). */
export async function listAll(path, key, query = {}, max = 5000, version = undefined) {
  const out = [];
  let marker;
  for (;;) {
    const data = await get(path, { query: { ...query, marker }, version });
    const items = data?.[key] || [];
    out.push(...items);
    const links = data?.[`${key}_links`] || data?.[`${key.replace(/s$/, "")}_links`];
    if (!items.length || !Array.isArray(links) || !links.some((l) => l.rel === "next") || out.length >= max) break;
    marker = items[items.length - 1].id;
  }
  return out;
}
