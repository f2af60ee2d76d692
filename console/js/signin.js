// Sign-in, by the server's auth_strategy. noauth: a user and a project; the token is
// "user:project". The pair is remembered in localStorage, and recent pairs are one click
// away. Keystone: a user name, password, project and domain, which Clinker relays to
// Keystone; the token it answers is kept in this tab (sessionStorage), the password nowhere.

import { session, remember, recentSignIns, keystoneSignIn } from "./api.js";
import { h, fill, field } from "./ui.js";

const PROJECT_RE = /^[0-9a-f-]{1,255}$/;

function randomProject() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function render(root, { next, done }) {
  return session.mode === "keystone" ? renderKeystone(root, { next, done }) : renderNoauth(root, { next, done });
}

function renderKeystone(root, { next, done }) {
  const user = h("input", { name: "user", type: "text", autocomplete: "username", required: true, maxlength: 255, spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 4096 });
  const project = h("input", { name: "project", type: "text", required: true, maxlength: 64, spellcheck: "false" });
  const domain = h("input", { name: "domain", type: "text", maxlength: 64, value: "Default", spellcheck: "false" });
  const error = h("div", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true, "data-mode": "keystone" },
    h("h1", {}, "Sign in to Clinker"),
    h("p", { class: "muted" }, "This server checks every request with Keystone. Sign in with your Keystone user and the project to work in; Clinker passes them to Keystone and keeps nothing. The token Keystone gives is kept in this browser tab until you sign out or close it."),
    error,
    field("User name", user),
    field("Password", password),
    field("Project name", project),
    field("Domain", domain, "The domain of the user and of the project; Default unless your cloud says otherwise."),
    h("div", { class: "form-actions" }, submit));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(error);
    const u = user.value.trim();
    const p = project.value.trim();
    const d = domain.value.trim() || "Default";
    const missing = !u ? user : !password.value ? password : !p ? project : null;
    if (missing) {
      fill(error, "Enter the user name, the password and the project name.");
      missing.focus();
      return;
    }
    submit.disabled = true;
    try {
      await keystoneSignIn({ user: u, password: password.value, project: p, domain: d });
      password.value = "";
      await done(next);
    } catch (err) {
      fill(error, String(err.message || err));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });

  fill(root, h("div", { class: "signin-wrap" }, form));
  user.focus();
  return () => {};
}

function renderNoauth(root, { next, done }) {
  const user = h("input", { name: "user", type: "text", autocomplete: "username", required: true, value: session.user || "", maxlength: 255, spellcheck: "false" });
  const project = h("input", { name: "project", type: "text", required: true, value: session.project || "", maxlength: 255, spellcheck: "false", inputmode: "latin" });
  const error = h("div", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true },
    h("h1", {}, "Sign in to Clinker"),
    h("p", { class: "muted" }, "This server uses noauth: you are who you say you are. Pick a user and a project; every request then carries the token ",
      h("code", {}, "user:project"), ". Users the server lists in ", h("code", {}, "admin_users"), " (by default ", h("code", {}, "admin"), ") are administrators."),
    error,
    field("User", user),
    field("Project id", project, "Hexadecimal or a UUID, as in Cinder's URLs."),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn btn-link", onclick: () => { project.value = randomProject(); project.focus(); } }, "Use a new random project id")),
    h("div", { class: "form-actions" }, submit));

  const recent = recentSignIns();
  const recentBox = recent.length
    ? h("section", { class: "card recent", "aria-labelledby": "recent-title" },
      h("h2", { id: "recent-title" }, "Recently used"),
      h("ul", { class: "plain" }, recent.map((r) => h("li", {}, h("button", {
        type: "button", class: "btn btn-link",
        onclick: () => {
          user.value = r.user;
          project.value = r.project;
          form.requestSubmit();
        },
      }, `${r.user} @ ${r.project}`)))))
    : null;

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(error);
    const u = user.value.trim();
    const p = project.value.trim().toLowerCase();
    if (!u || u.includes(":")) {
      fill(error, "Enter a user name (without a colon).");
      user.focus();
      return;
    }
    if (!PROJECT_RE.test(p)) {
      fill(error, "The project id must be hexadecimal digits or a UUID (for example 5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c).");
      project.focus();
      return;
    }
    submit.disabled = true;
    try {
      remember(u, p);
      await done(next);
    } catch (err) {
      fill(error, String(err.message || err));
    } finally {
      submit.disabled = false;
    }
  });

  fill(root, h("div", { class: "signin-wrap" }, form, recentBox));
  (user.value ? project : user).focus();
  return () => {};
}
