// The shell: sign-in gate, header, navigation, and a hash router (#/volumes, #/volumes/ID,
// ...). Each page's render returns a cleanup function that stops its polling.

import { session, signedIn, checkSession, signOut, setUnauthorizedHandler, loadMode } from "./api.js";
import { h, fill, toast, errorBox } from "./ui.js";
import * as signin from "./signin.js";
import * as volumes from "./volumes.js";
import * as volumeDetail from "./volume_detail.js";
import * as snapshots from "./snapshots.js";
import * as types from "./types.js";
import * as groupTypes from "./group_types.js";
import * as nodes from "./nodes.js";
import * as messages from "./messages.js";

const PAGES = [
  { path: "volumes", label: "Volumes", page: volumes },
  { path: "snapshots", label: "Snapshots", page: snapshots },
  { path: "types", label: "Volume Types", page: types },
  { path: "group-types", label: "Group Types", page: groupTypes, admin: true },
  { path: "nodes", label: "Nodes", page: nodes, admin: true },
  { path: "messages", label: "Messages", page: messages },
];

let cleanup = null;
const main = () => document.getElementById("main");

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(query) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderHeader(active) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!signedIn()) {
    fill(nav);
    fill(who);
    return;
  }
  fill(nav, h("ul", {}, PAGES.filter((p) => !p.admin || session.isAdmin).map((p) =>
    h("li", {}, h("a", { href: `#/${p.path}`, "aria-current": p.path === active ? "page" : null }, p.label)))));
  const title = session.mode === "keystone"
    ? `Keystone user ${session.userName} (${session.user}) in project ${session.projectName} (${session.project})${session.expiresAt ? `; the token expires ${session.expiresAt}` : ""}`
    : `Token ${session.user}:${session.project}`;
  fill(who,
    h("span", { class: "who-text", title },
      h("span", { class: "who-user", "data-testid": "who-user" }, session.userName),
      h("span", { class: "who-sep", "aria-hidden": "true" }, " @ "),
      h("span", { class: "who-project", "data-testid": "who-project", dataset: { projectId: session.project } }, session.projectName)),
    session.isAdmin ? h("span", { class: "badge badge-admin", "data-testid": "admin-badge" }, "admin") : null,
    h("button", { type: "button", class: "btn btn-small", onclick: () => { signOut(); navigate("#/signin"); } }, "Sign out"));
}

async function route() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A page failing to clean up must not block the next one.
    }
    cleanup = null;
  }
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  const { parts, query } = parseRoute();
  const root = main();
  const menuToggle = document.getElementById("menu-toggle");
  menuToggle.setAttribute("aria-expanded", "false");
  document.getElementById("top").classList.remove("open");

  if (!signedIn() || parts[0] === "signin") {
    renderHeader(null);
    document.title = "Sign in · Clinker";
    cleanup = signin.render(root, { next: parts[0] === "signin" ? query.get("next") : location.hash, done: onSignedIn });
    return;
  }
  const name = parts[0] || "volumes";
  const entry = PAGES.find((p) => p.path === name);
  renderHeader(entry ? entry.path : null);
  fill(root);
  if (!entry) {
    fill(root, h("h1", {}, "Page not found"), h("p", {}, "There is no such page. ", h("a", { href: "#/volumes" }, "Go to the volumes.")));
    return;
  }
  if (entry.admin && !session.isAdmin) {
    document.title = `${entry.label} · Clinker`;
    fill(root, h("h1", {}, entry.label),
      h("div", { class: "alert alert-info", role: "note", "data-testid": "admin-only" },
        `This page is for administrators. You are signed in as ${session.userName}, who is not an admin.`));
    return;
  }
  document.title = `${entry.label} · Clinker`;
  const ctx = { navigate, query };
  try {
    if (name === "volumes" && parts[1]) cleanup = volumeDetail.render(root, { id: parts[1], tab: parts[2] || "overview" }, ctx);
    else cleanup = entry.page.render(root, {}, ctx);
  } catch (err) {
    fill(root, errorBox(err, "This page failed to load"));
  }
  root.focus({ preventScroll: true });
}

async function onSignedIn(next) {
  let who;
  try {
    who = await checkSession();
  } catch (err) {
    // A Keystone token Clinker will not serve (a project id it cannot name) is no sign-in.
    if (session.mode === "keystone") signOut();
    throw err;
  }
  if (session.mode !== "keystone") {
    session.user = who.user || session.user;
    session.project = who.project || session.project;
  }
  session.isAdmin = Boolean(who.is_admin);
  session.checked = true;
  navigate(next && next !== "#/signin" && !next.startsWith("#/signin") ? next : "#/volumes");
}

async function start() {
  document.getElementById("menu-toggle").addEventListener("click", (ev) => {
    const top = document.getElementById("top");
    const open = top.classList.toggle("open");
    ev.currentTarget.setAttribute("aria-expanded", String(open));
  });
  setUnauthorizedHandler((err) => {
    toast(err.message, "error");
    signOut();
    navigate("#/signin");
  });
  await loadMode();
  if (session.user && session.project) {
    try {
      const who = await checkSession();
      session.isAdmin = Boolean(who.is_admin);
      session.checked = true;
    } catch (err) {
      if (err.status === 401 && session.mode === "keystone") {
        signOut();
      } else if (err.status !== 401 && err.status !== 400) {
        // The server is down or odd: keep the remembered sign-in and let pages say why.
        session.checked = true;
        toast(err.message, "error");
      }
    }
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
