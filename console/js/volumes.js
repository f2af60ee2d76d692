// Volumes: a server-paginated table (limit/marker), server-side filters and sort, a
// find-on-this-page box, and live statuses: while any volume on screen is in a moving
// state (creating, extending, deleting, ...) the page is re-read every 1.5 s and only the
// rows that changed are redrawn, so focus and scroll stay put.

import { session, get } from "./api.js";
import { h, fill, statusBadge, isMoving, timeCell, shortId, actionMenu, poller, errorBox, emptyRow, pageHead, toast } from "./ui.js";
import { createVolume, volumeActions, VOLUME_STATUSES, loadZones } from "./volume_dialogs.js";
import { acceptTransfer } from "./transfers.js";

// Kept across visits (the detail page and back), like a person expects.
const state = {
  limit: 20,
  sortKey: "created_at",
  sortDir: "desc",
  markers: [], // markers of the pages before this one; the last is this page's marker
  status: "",
  zone: "",
  bootable: "",
  name: "",
  find: "",
  allProjects: false,
};

const COLUMNS = [
  { key: "name", label: "Name", sort: "name" },
  { key: "description", label: "Description" },
  { key: "size", label: "Size", sort: "size", num: true },
  { key: "status", label: "Status", sort: "status" },
  { key: "volume_type", label: "Type" },
  { key: "availability_zone", label: "Zone", sort: "availability_zone" },
  { key: "attachments", label: "Attached to" },
  { key: "bootable", label: "Bootable" },
  { key: "created_at", label: "Created", sort: "created_at" },
];

export function attachedTo(v) {
  const a = v.attachments || [];
  if (!a.length) return "—";
  return a.map((x) => `${x.server_id ? shortId(x.server_id) : x.host_name || "?"}${x.device ? ` on ${x.device}` : ""}`).join(", ");
}

function rowKey(v) {
  return JSON.stringify([v.name, v.description, v.size, v.status, v.volume_type, v.availability_zone, v.attachments, v.bootable, v["os-vol-tenant-attr:tenant_id"], session.isAdmin]);
}

function matchesFind(v) {
  const f = state.find.trim().toLowerCase();
  if (!f) return true;
  return [v.name, v.description, v.id, v.status, v.volume_type, v.availability_zone].some((x) => String(x || "").toLowerCase().includes(f));
}

export function render(root, _params, { navigate }) {
  let volumes = [];
  let hasNext = false;
  let loadError = null;
  const rows = new Map(); // id → {key, tr}

  const tbody = h("tbody");
  const status = h("p", { class: "table-status muted", role: "status" });
  const errorSlot = h("div");
  const theadRow = h("tr");
  const table = h("table", { class: "table responsive", "data-testid": "volumes-table" }, h("caption", { class: "sr-only" }, "Volumes"), h("thead", {}, theadRow), tbody);
  const prev = h("button", { type: "button", class: "btn", onclick: () => { state.markers.pop(); reload(); } }, "← Previous");
  const next = h("button", {
    type: "button", class: "btn",
    onclick: () => {
      const last = volumes[volumes.length - 1];
      if (last) state.markers.push(last.id);
      reload();
    },
  }, "Next →");
  const pageLabel = h("span", { class: "muted" });

  const changed = (kind, result) => {
    if (kind === "create" && result && result.id) showNew(result);
    reload();
  };

  // ---- toolbar ----
  const createBtn = h("button", { type: "button", class: "btn btn-primary", onclick: async () => { const v = await createVolume(); if (v) changed("create", v); } }, "Create Volume");
  const acceptBtn = h("button", { type: "button", class: "btn", onclick: async () => { const t = await acceptTransfer(); if (t) changed("transfer", t); } }, "Accept Transfer");
  const find = h("input", { type: "search", id: "vol-find", value: state.find, placeholder: "name, id, status…" });
  find.addEventListener("input", () => {
    state.find = find.value;
    draw();
  });
  const statusSel = h("select", { id: "vol-status" }, h("option", { value: "" }, "Any"), VOLUME_STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s)));
  statusSel.addEventListener("change", () => { state.status = statusSel.value; state.markers = []; reload(); });
  const bootSel = h("select", { id: "vol-boot" }, [["", "Any"], ["true", "Bootable"], ["false", "Not bootable"]].map(([v, l]) => h("option", { value: v, selected: v === state.bootable }, l)));
  bootSel.addEventListener("change", () => { state.bootable = bootSel.value; state.markers = []; reload(); });
  const nameIn = h("input", { type: "search", id: "vol-name", value: state.name, placeholder: "exact name" });
  nameIn.addEventListener("change", () => { state.name = nameIn.value.trim(); state.markers = []; reload(); });
  const zoneSlot = h("span", { class: "filter" }, h("label", { for: "vol-zone" }, "Zone"), h("input", { id: "vol-zone", type: "search", value: state.zone, placeholder: "any" }));
  const wireZone = (el) => el.addEventListener("change", () => { state.zone = el.value.trim(); state.markers = []; reload(); });
  wireZone(zoneSlot.querySelector("input"));
  loadZones().then((z) => {
    if (!z.ok || !z.zones.length) return;
    const sel = h("select", { id: "vol-zone" }, h("option", { value: "" }, "Any"), z.zones.map((zz) => h("option", { value: zz.name, selected: zz.name === state.zone }, zz.name)));
    wireZone(sel);
    fill(zoneSlot, h("label", { for: "vol-zone" }, "Zone"), sel);
  });
  const limitSel = h("select", { id: "vol-limit" }, [20, 50, 100, 500, 1000].map((n) => h("option", { value: n, selected: n === state.limit }, String(n))));
  limitSel.addEventListener("change", () => { state.limit = Number(limitSel.value); state.markers = []; reload(); });
  const all = session.isAdmin
    ? h("label", { class: "filter checkbox" }, h("input", { type: "checkbox", checked: state.allProjects, onchange: (ev) => { state.allProjects = ev.target.checked; state.markers = []; reload(); } }), " All projects")
    : null;

  const toolbar = h("div", { class: "toolbar", role: "search", "aria-label": "Filter volumes" },
    h("span", { class: "filter" }, h("label", { for: "vol-find" }, "Find on this page"), find),
    h("span", { class: "filter" }, h("label", { for: "vol-name" }, "Name"), nameIn),
    h("span", { class: "filter" }, h("label", { for: "vol-status" }, "Status"), statusSel),
    zoneSlot,
    h("span", { class: "filter" }, h("label", { for: "vol-boot" }, "Bootable"), bootSel),
    h("span", { class: "filter" }, h("label", { for: "vol-limit" }, "Per page"), limitSel),
    all);

  fill(root,
    pageHead("Volumes", acceptBtn, createBtn),
    toolbar,
    errorSlot,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, prev, pageLabel, next),
    status);

  function drawHead() {
    const cols = [...COLUMNS];
    if (state.allProjects) cols.push({ key: "project", label: "Project" });
    fill(theadRow, cols.map((c) => {
      if (!c.sort) return h("th", { scope: "col" }, c.label);
      const active = state.sortKey === c.sort;
      const dir = active ? state.sortDir : null;
      return h("th", { scope: "col", "aria-sort": active ? (dir === "asc" ? "ascending" : "descending") : null },
        h("button", {
          type: "button", class: "sort",
          onclick: () => {
            if (state.sortKey === c.sort) state.sortDir = state.sortDir === "asc" ? "desc" : "asc";
            else {
              state.sortKey = c.sort;
              state.sortDir = c.sort === "created_at" || c.sort === "size" ? "desc" : "asc";
            }
            state.markers = [];
            reload();
          },
        }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (dir === "asc" ? " ▲" : " ▼") : " ↕")));
    }), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")));
  }

  function makeRow(v) {
    const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
    const tr = h("tr", { dataset: { volumeId: v.id, status: v.status } },
      cell("Name", h("a", { href: `#/volumes/${v.id}`, class: "strong" }, v.name || h("em", {}, `(no name) ${shortId(v.id)}`))),
      cell("Description", h("span", { class: "clip", title: v.description || "" }, v.description || "—")),
      cell("Size", `${v.size} GiB`),
      cell("Status", statusBadge(v.status)),
      cell("Type", v.volume_type || "—"),
      cell("Zone", v.availability_zone || "—"),
      cell("Attached to", attachedTo(v)),
      cell("Bootable", v.bootable === "true" ? "yes" : "no"),
      cell("Created", timeCell(v.created_at)),
      state.allProjects ? cell("Project", shortId(v["os-vol-tenant-attr:tenant_id"])) : null,
      h("td", { class: "actions" }, actionMenu("Actions", volumeActions(v, changed))));
    tr.querySelector(".menu-wrap button").setAttribute("aria-label", `Actions for ${v.name || v.id}`);
    return tr;
  }

  function draw() {
    const shown = volumes.filter(matchesFind);
    const keep = new Set(shown.map((v) => v.id));
    for (const [id, r] of rows) {
      if (!keep.has(id)) {
        r.tr.remove();
        rows.delete(id);
      }
    }
    tbody.querySelector("tr.empty")?.remove();
    // Rows that did not change keep their element (and so the focus inside them).
    shown.forEach((v, i) => {
      const key = rowKey(v);
      let r = rows.get(v.id);
      if (!r || r.key !== key) {
        const tr = makeRow(v);
        const hadFocus = Boolean(r && r.tr.contains(document.activeElement));
        if (r) r.tr.remove();
        r = { key, tr };
        rows.set(v.id, r);
        tbody.insertBefore(tr, tbody.children[i] || null);
        if (hadFocus) tr.querySelector(".menu-wrap button")?.focus();
      } else if (tbody.children[i] !== r.tr) {
        tbody.insertBefore(r.tr, tbody.children[i] || null);
      }
    });
    if (!shown.length) {
      tbody.append(emptyRow(COLUMNS.length + 2, loadError ? "Could not load the volumes." : volumes.length ? "No volume on this page matches." : "No volumes yet. Create one with “Create Volume”."));
    }
    const page = state.markers.length + 1;
    prev.disabled = state.markers.length === 0;
    next.disabled = !hasNext;
    fill(pageLabel, `Page ${page}`);
    const moving = volumes.filter((v) => isMoving(v.status)).length;
    fill(status, `${shown.length} of ${volumes.length} volume${volumes.length === 1 ? "" : "s"} on this page` +
      (moving ? ` · ${moving} changing, refreshing every 1.5 s` : ""));
  }

  // The 202 answer is shown at once ("creating"), before the next read.
  function showNew(v) {
    if (state.markers.length || state.sortKey !== "created_at" || state.sortDir !== "desc") return;
    if (!volumes.some((x) => x.id === v.id)) volumes.unshift({ attachments: [], bootable: "false", ...v });
    draw();
  }

  async function load() {
    const query = {
      limit: state.limit,
      marker: state.markers[state.markers.length - 1],
      sort: `${state.sortKey}:${state.sortDir}`,
      status: state.status,
      availability_zone: state.zone,
      bootable: state.bootable,
      name: state.name,
      all_tenants: state.allProjects ? "1" : undefined,
    };
    try {
      const data = await get("/volumes/detail", { query });
      volumes = data?.volumes || [];
      hasNext = Array.isArray(data?.volumes_links) && data.volumes_links.some((l) => l.rel === "next");
      loadError = null;
      fill(errorSlot);
    } catch (err) {
      loadError = err;
      if (err.status === 404 && state.markers.length) {
        // The marker volume was deleted meanwhile: start again from the first page.
        state.markers = [];
        toast("The list changed underneath; back to the first page.");
        return load();
      }
      fill(errorSlot, errorBox(err, "Could not load the volumes"));
    }
    draw();
    return volumes.some((v) => isMoving(v.status));
  }

  const poll = poller(load, 1500);
  async function reload() {
    drawHead();
    if (await load()) poll.kick();
  }
  reload();
  // Changes made elsewhere (another tab, the CLI) show up within 15 s.
  const slow = setInterval(() => {
    if (document.visibilityState === "visible") reload();
  }, 15000);
  void navigate;
  return () => {
    poll.stop();
    clearInterval(slow);
  };
}
