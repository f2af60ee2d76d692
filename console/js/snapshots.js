// Snapshots: a paginated table (limit/marker) with live statuses, and their actions.

import { session, get, put, del, post } from "./api.js";
import { h, fill, statusBadge, isMoving, timeCell, shortId, actionMenu, poller, errorBox, emptyRow, pageHead, toast, openDialog, confirmDialog, field } from "./ui.js";
import { createVolume } from "./volume_dialogs.js";

const SNAPSHOT_STATUSES = ["creating", "available", "deleting", "error", "error_deleting", "updating", "unmanaging", "backing-up", "restoring"];

const state = { limit: 20, markers: [], status: "", allProjects: false };

function editSnapshot(s) {
  return openDialog({
    title: `Edit snapshot ${s.name || shortId(s.id)}`,
    body: h("div", { class: "form-grid" },
      field("Name", h("input", { type: "text", name: "name", value: s.name || "", maxlength: 255 })),
      field("Description", h("textarea", { name: "description", rows: 3, maxlength: 255 }, s.description || ""))),
    onSubmit: async (form) => {
      const name = form.elements.namedItem("name").value.trim();
      const description = form.elements.namedItem("description").value.trim();
      await put(`/snapshots/${s.id}`, { snapshot: { name: name || null, description: description || null } });
      toast(`Saved snapshot ${name || shortId(s.id)}.`);
      return true;
    },
  });
}

function deleteSnapshot(s) {
  return confirmDialog({
    title: `Delete snapshot ${s.name || shortId(s.id)}?`,
    message: `The snapshot (${s.size} GiB, ${s.status}) is deleted. Volumes made from it are not affected. This cannot be undone.`,
    onConfirm: async () => {
      await del(`/snapshots/${s.id}`);
      toast(`Deleting snapshot ${s.name || shortId(s.id)}.`);
      return true;
    },
  });
}

function resetSnapshot(s) {
  return openDialog({
    title: `Reset status of snapshot ${s.name || shortId(s.id)}`,
    body: h("div", { class: "form-grid" },
      h("p", {}, "Admin only: sets the status in the database, nothing else. Now: ", statusBadge(s.status)),
      field("Status", h("select", { name: "status" }, SNAPSHOT_STATUSES.map((x) => h("option", { value: x, selected: x === s.status }, x))))),
    submitLabel: "Reset Status",
    danger: true,
    onSubmit: async (form) => {
      await post(`/snapshots/${s.id}/action`, { "os-reset_status": { status: form.elements.namedItem("status").value } });
      toast("Status reset.");
      return true;
    },
  });
}

/** The actions menu of one snapshot. */
export function snapshotActions(s, changed, { compact = false } = {}) {
  const run = (fn) => async () => {
    if (await fn(s)) changed();
  };
  return actionMenu(compact ? "More" : "Actions", [
    { label: "Edit", run: run(editSnapshot) },
    compact ? null : { label: "Create volume from it", run: async () => { const v = await createVolume({ source: "snapshot", id: s.id }); if (v) location.hash = `#/volumes/${v.id}`; } },
    session.isAdmin ? { label: "Reset Status", run: run(resetSnapshot) } : null,
    { label: "Delete", danger: true, run: run(deleteSnapshot) },
  ]);
}

export function render(root) {
  let items = [];
  let hasNext = false;
  let volumeNames = new Map();
  const tbody = h("tbody");
  const errorSlot = h("div");
  const status = h("p", { class: "table-status muted", role: "status" });
  const pageLabel = h("span", { class: "muted" });
  const prev = h("button", { type: "button", class: "btn", onclick: () => { state.markers.pop(); reload(); } }, "← Previous");
  const next = h("button", { type: "button", class: "btn", onclick: () => { const l = items[items.length - 1]; if (l) state.markers.push(l.id); reload(); } }, "Next →");
  const statusSel = h("select", { id: "snap-status" }, h("option", { value: "" }, "Any"), SNAPSHOT_STATUSES.map((x) => h("option", { value: x, selected: x === state.status }, x)));
  statusSel.addEventListener("change", () => { state.status = statusSel.value; state.markers = []; reload(); });
  const all = session.isAdmin
    ? h("label", { class: "filter checkbox" }, h("input", { type: "checkbox", checked: state.allProjects, onchange: (ev) => { state.allProjects = ev.target.checked; state.markers = []; reload(); } }), " All projects")
    : null;

  fill(root,
    pageHead("Snapshots"),
    h("p", { class: "muted" }, "Take a snapshot from a volume's actions. A snapshot can become a new volume."),
    h("div", { class: "toolbar" }, h("span", { class: "filter" }, h("label", { for: "snap-status" }, "Status"), statusSel), all),
    errorSlot,
    h("div", { class: "table-wrap" }, h("table", { class: "table responsive", "data-testid": "snapshots-table" },
      h("caption", { class: "sr-only" }, "Snapshots"),
      h("thead", {}, h("tr", {}, ["Name", "Description", "Size", "Status", "Volume", "Progress", "Created"].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      tbody)),
    h("div", { class: "pager" }, prev, pageLabel, next),
    status);

  function draw() {
    fill(tbody, items.length ? items.map((s) => h("tr", { dataset: { snapshotId: s.id, status: s.status } },
      h("td", { "data-label": "Name" }, h("strong", {}, s.name || h("em", {}, `(no name) ${shortId(s.id)}`))),
      h("td", { "data-label": "Description" }, h("span", { class: "clip" }, s.description || "—")),
      h("td", { "data-label": "Size" }, `${s.size} GiB`),
      h("td", { "data-label": "Status" }, statusBadge(s.status)),
      h("td", { "data-label": "Volume" }, h("a", { href: `#/volumes/${s.volume_id}` }, volumeNames.get(s.volume_id) || shortId(s.volume_id))),
      h("td", { "data-label": "Progress" }, s["os-extended-snapshot-attributes:progress"] || "—"),
      h("td", { "data-label": "Created" }, timeCell(s.created_at)),
      h("td", { class: "actions" }, snapshotActions(s, reload)))) : emptyRow(8, "No snapshots."));
    prev.disabled = !state.markers.length;
    next.disabled = !hasNext;
    fill(pageLabel, `Page ${state.markers.length + 1}`);
    const moving = items.filter((s) => isMoving(s.status)).length;
    fill(status, `${items.length} snapshot${items.length === 1 ? "" : "s"} on this page${moving ? ` · ${moving} changing, refreshing every 1.5 s` : ""}`);
  }

  async function load() {
    try {
      const data = await get("/snapshots/detail", {
        query: { limit: state.limit, marker: state.markers[state.markers.length - 1], status: state.status, all_tenants: state.allProjects ? "1" : undefined },
      });
      items = data?.snapshots || [];
      hasNext = Array.isArray(data?.snapshots_links) && data.snapshots_links.some((l) => l.rel === "next");
      fill(errorSlot);
      const missing = [...new Set(items.map((s) => s.volume_id))].filter((id) => !volumeNames.has(id));
      if (missing.length) {
        try {
          const vols = (await get("/volumes", { query: { limit: 1000, all_tenants: state.allProjects ? "1" : undefined } }))?.volumes || [];
          volumeNames = new Map(vols.map((v) => [v.id, v.name || shortId(v.id)]));
          for (const id of missing) if (!volumeNames.has(id)) volumeNames.set(id, shortId(id));
        } catch {
          // Names are a nicety; the ids still link.
        }
      }
    } catch (err) {
      if (err.status === 404 && state.markers.length) {
        state.markers = [];
        return load();
      }
      fill(errorSlot, errorBox(err, "Could not load the snapshots"));
    }
    draw();
    return items.some((s) => isMoving(s.status));
  }
  const poll = poller(load, 1500);
  async function reload() {
    if (await load()) poll.kick();
  }
  reload();
  return () => poll.stop();
}
