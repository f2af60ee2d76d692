// Small DOM helpers. Every text goes in through textContent (never innerHTML), so a volume
// called "<script>" is only a name.

/** `h("a", {href, class: "x", onclick}, "text", child)` → element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export const nextId = (p = "f") => `${p}-${++uid}`;

// ---- statuses ---------------------------------------------------------------------

/** Statuses that change by themselves: the console polls while one is on screen. */
export const TRANSIENT = new Set([
  "creating", "deleting", "extending", "attaching", "detaching", "downloading", "uploading",
  "retyping", "reverting", "backing-up", "restoring-backup", "restoring", "updating", "unmanaging",
  "reserved", "maintenance", "awaiting-transfer",
]);
const AUTO = new Set([...TRANSIENT].filter((s) => !["reserved", "maintenance", "awaiting-transfer"].includes(s)));
export const isMoving = (status) => AUTO.has(status);

export function statusBadge(status) {
  const s = String(status || "unknown");
  let kind = "neutral";
  if (s === "available" || s === "in-use" || s === "SUCCESS" || s === "enabled" || s === "up") kind = "ok";
  else if (s.startsWith("error") || s === "FAILURE" || s === "REVERTED" || s === "disabled" || s === "down") kind = "bad";
  else if (isMoving(s) || s === "RUNNING" || s === "PENDING" || s === "REVERTING") kind = "busy";
  return h("span", { class: `badge badge-${kind}`, dataset: { status: s } },
    kind === "busy" ? h("span", { class: "spinner", "aria-hidden": "true" }) : null, s);
}

// ---- time and sizes --------------------------------------------------------------

/** Cinder's naive UTC timestamps ("2026-11-25T18:18:35.800003") as a Date. */
export function parseTime(t) {
  if (!t) return null;
  const s = /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const d = new Date(s.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Microseconds since the epoch, keeping Cinder's sub-millisecond digits. */
export function micros(t) {
  const d = parseTime(t);
  if (!d) return null;
  const frac = /\.(\d+)/.exec(t || "");
  const us = frac ? Number((frac[1] + "000000").slice(3, 6)) : 0;
  return d.getTime() * 1000 + us;
}

export function fmtTime(t) {
  const d = parseTime(t);
  if (!d) return "—";
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function timeCell(t) {
  const d = parseTime(t);
  if (!d) return "—";
  return h("time", { datetime: d.toISOString(), title: `${t} UTC` }, fmtTime(t));
}

/** A duration in microseconds, in the unit that reads best. */
export function fmtDuration(us) {
  if (us === null || us === undefined || Number.isNaN(us)) return "—";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
  if (us < 6e7) return `${(us / 1e6).toFixed(2)} s`;
  return `${Math.floor(us / 6e7)} min ${Math.round((us % 6e7) / 1e6)} s`;
}

export const gib = (n) => `${n} GiB`;
export const shortId = (id) => (id ? String(id).slice(0, 8) : "");

// ---- feedback --------------------------------------------------------------------

export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const t = h("div", { class: `toast toast-${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 9000 : 4500);
}

/** An error in words, in place of (or above) what failed to load. */
export function errorBox(err, title = "Something went wrong") {
  return h("div", { class: "alert alert-error", role: "alert" },
    h("strong", {}, `${title}: `), String(err?.message || err));
}

/** The friendly state for an API this server does not have yet. */
export function unavailableBox(what, detail) {
  return h("div", { class: "alert alert-info unavailable", role: "note" },
    h("strong", {}, `${what} is not available on this server yet.`),
    " ", detail || "This page starts working as soon as the server offers the API; nothing to set up here.");
}

export function emptyRow(cols, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: cols }, text));
}

// ---- dialogs ---------------------------------------------------------------------

/**
 * A modal `<dialog>`: Escape closes it, focus stays inside, and focus returns to what
 * opened it. `onSubmit(form, dlg)` may throw an ApiError: its message is shown in the
 * dialog and the dialog stays open. Returns a promise of the submit result (or null).
 */
export function openDialog({ title, body, submitLabel = "Save", danger = false, onSubmit, wide = false, cancelLabel = "Cancel" }) {
  const opener = document.activeElement;
  const titleId = nextId("dlg-title");
  const errorSlot = h("div", { class: "dialog-error", role: "alert" });
  const submit = onSubmit
    ? h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, submitLabel)
    : null;
  const cancel = h("button", { type: "button", class: "btn", value: "cancel" }, onSubmit ? cancelLabel : "Close");
  const form = h("form", { method: "dialog", class: "dialog-form", novalidate: true },
    h("header", { class: "dialog-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "icon-btn", "aria-label": "Close", onclick: () => dlg.close() }, "×")),
    h("div", { class: "dialog-body" }, errorSlot, body),
    h("footer", { class: "dialog-foot" }, cancel, submit));
  const dlg = h("dialog", { class: wide ? "dialog dialog-wide" : "dialog", "aria-labelledby": titleId }, form);
  document.body.append(dlg);
  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => {
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      resolve(result);
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!onSubmit) return dlg.close();
      fill(errorSlot);
      submit.disabled = true;
      submit.classList.add("working");
      try {
        result = (await onSubmit(form, dlg)) ?? true;
        dlg.close();
      } catch (err) {
        if (err && err.field) {
          showFieldError(form, err.field, err.message);
        } else {
          fill(errorSlot, h("p", {}, String(err?.message || err)));
        }
      } finally {
        submit.disabled = false;
        submit.classList.remove("working");
      }
    });
    dlg.showModal();
    const first = form.querySelector(".dialog-body input:not([type=hidden]), .dialog-body select, .dialog-body textarea") || submit || cancel;
    first.focus();
  });
}

/** A validation problem on one field of a dialog form. */
export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function showFieldError(form, name, message) {
  const input = form.elements.namedItem(name);
  const slot = form.querySelector(`[data-error-for="${name}"]`);
  if (slot) fill(slot, message);
  if (input && input.focus) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    input.addEventListener("input", () => {
      input.removeAttribute("aria-invalid");
      if (slot) fill(slot);
    }, { once: true });
  }
}

/** A labelled field: `field("Name", input, "hint")`. The input needs a `name`. */
export function field(label, input, hint) {
  const id = input.id || nextId("in");
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  input.setAttribute("aria-describedby", [hintId, errId].filter(Boolean).join(" "));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("div", { class: "hint", id: hintId }, hint) : null,
    h("div", { class: "field-error", id: errId, dataset: { errorFor: input.name || "" } }));
}

export async function confirmDialog({ title, message, confirmLabel = "Delete", danger = true, extra, onConfirm }) {
  return openDialog({
    title,
    body: h("div", {}, h("p", {}, message), extra || null),
    submitLabel: confirmLabel,
    danger,
    onSubmit: onConfirm,
  });
}

// ---- menus -----------------------------------------------------------------------

/** A button opening a list of actions; arrows move, Escape closes. */
export function actionMenu(label, items, { buttonClass = "btn btn-small" } = {}) {
  const menuId = nextId("menu");
  const btn = h("button", { type: "button", class: buttonClass, "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": menuId }, label, h("span", { "aria-hidden": "true" }, " ▾"));
  const menu = h("div", { class: "menu", id: menuId, role: "menu", hidden: true });
  const wrap = h("div", { class: "menu-wrap" }, btn, menu);
  const close = (focusButton) => {
    menu.hidden = true;
    btn.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
    if (focusButton) btn.focus();
  };
  const outside = (ev) => {
    if (!wrap.contains(ev.target)) close(false);
  };
  const buttons = items.filter(Boolean).map((it) => h("button", {
    type: "button", role: "menuitem", class: it.danger ? "menu-item danger" : "menu-item", disabled: it.disabled,
    title: it.title,
    onclick: () => {
      close(true);
      it.run();
    },
  }, it.label));
  fill(menu, buttons);
  btn.addEventListener("click", () => {
    if (!menu.hidden) return close(false);
    menu.hidden = false;
    btn.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    (buttons.find((b) => !b.disabled) || buttons[0])?.focus();
  });
  menu.addEventListener("keydown", (ev) => {
    const live = buttons.filter((b) => !b.disabled);
    const i = live.indexOf(document.activeElement);
    if (ev.key === "Escape") {
      ev.preventDefault();
      ev.stopPropagation();
      close(true);
    } else if (ev.key === "ArrowDown") {
      ev.preventDefault();
      live[(i + 1) % live.length]?.focus();
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      live[(i - 1 + live.length) % live.length]?.focus();
    } else if (ev.key === "Tab") {
      close(false);
    }
  });
  return wrap;
}

// ---- polling ---------------------------------------------------------------------

/**
 * Runs `tick` every `ms` while `tick` returns true; `kick()` starts it again (after an
 * action, say). `stop()` ends it for good (the page was left).
 */
export function poller(tick, ms = 1500) {
  let timer = null;
  let stopped = false;
  let running = false;
  const schedule = () => {
    if (stopped || timer) return;
    timer = setTimeout(run, ms);
  };
  const run = async () => {
    timer = null;
    if (stopped || running) return;
    running = true;
    let again = false;
    try {
      again = await tick();
    } catch {
      again = true;
    } finally {
      running = false;
    }
    if (again) schedule();
  };
  return {
    kick: () => schedule(),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** A definition list from `[label, value]` pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

/** A page header with a title and buttons. */
export function pageHead(title, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, title), h("div", { class: "page-actions" }, actions));
}
