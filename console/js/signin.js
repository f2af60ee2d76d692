// Sign-in for noauth: a user and a project; the token is "user:project". The pair is
// remembered in localStorage, and recent pairs are one click away.

import { session, remember, recentSignIns } from "./api.js";
import { h, fill, field } from "./ui.js";

const PROJECT_RE = /^[0-9a-f-]{1,255}$/;

function randomProject() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function render(root, { next, done }) {
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
      await done(u, p, next);
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
