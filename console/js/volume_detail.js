// One volume: its fields, metadata, attachments and snapshots (tab "Overview"), and what
// happened to it (tab "Timeline"). The timeline outlives the volume, so a deleted volume
// still shows its history.

/** Volumes name their group (`group_id`) from 3.13. */
const GROUP_ID_FROM = "3.13";

import { session, get, post, del, versionAtLeast } from "./api.js";
import { h, fill, facts, actionMenu, statusBadge, isMoving, timeCell, shortId, poller, errorBox, pageHead, toast, field, openDialog, FieldError } from "./ui.js";
import { volumeActions, createVolume } from "./volume_dialogs.js";
import { renderTimeline } from "./timeline.js";
import { snapshotActions } from "./snapshots.js";

export function render(root, { id, tab }, { navigate }) {
  let volume = null;
  let gone = false;
  let current = tab === "timeline" ? "timeline" : "overview";
  const head = h("div");
  const errorSlot = h("div");
  const overview = h("div", { id: "panel-overview", role: "tabpanel", "aria-labelledby": "tab-overview" });
  const timeline = h("div", { id: "panel-timeline", role: "tabpanel", "aria-labelledby": "tab-timeline" });
  const tabs = [
    ["overview", "Overview", overview],
    ["timeline", "Timeline", timeline],
  ];
  const tabButtons = tabs.map(([key, label]) => h("button", {
    type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`,
    onclick: () => navigate(`#/volumes/${id}/${key}`),
  }, label));
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Volume sections" }, tabButtons);
  tablist.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const i = tabButtons.indexOf(document.activeElement);
    const j = (i + (ev.key === "ArrowRight" ? 1 : tabButtons.length - 1)) % tabButtons.length;
    tabButtons[j].focus();
    tabButtons[j].click();
  });
  tabs.forEach(([key, , panel], i) => {
    const on = key === current;
    tabButtons[i].setAttribute("aria-selected", String(on));
    tabButtons[i].tabIndex = on ? 0 : -1;
    panel.hidden = !on;
  });

  fill(root,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/volumes" }, "Volumes"), " / ", h("span", {}, shortId(id))),
    head, errorSlot, tablist, overview, timeline);

  const changed = (kind, result) => {
    if (kind === "create" && result?.id) {
      navigate(`#/volumes/${result.id}`);
      return;
    }
    if (kind === "snapshot") snapsStale = true;
    refresh();
  };

  let groupName = "";
  let groupOf = "";
  let snapsStale = true;
  let snaps = null;
  let timelineCtl = null;

  function drawHead() {
    if (!volume) {
      fill(head, pageHead(gone ? "Volume deleted" : "Volume"));
      return;
    }
    const actions = volumeActions(volume, changed).map((a) => h("button", {
      type: "button", class: a.danger ? "btn btn-danger" : "btn", onclick: a.run,
    }, a.label));
    // A row of buttons on a wide screen, one menu on a phone.
    fill(head, h("div", { class: "page-head" },
      h("h1", {}, volume.name || h("em", {}, "(no name)"), " ", statusBadge(volume.status)),
      h("div", { class: "page-actions wrap wide-only" }, actions),
      h("div", { class: "page-actions narrow-only" }, actionMenu("Actions", volumeActions(volume, changed), { buttonClass: "btn" }))));
  }

  function drawOverview() {
    if (!volume) {
      fill(overview, gone
        ? h("div", { class: "alert alert-info", role: "note" }, `Volume ${id} does not exist any more (or never did in your project). Its timeline is kept: see the Timeline tab.`)
        : h("p", { class: "muted" }, "Loading…"));
      return;
    }
    const v = volume;
    const meta = Object.entries(v.metadata || {});
    fill(overview,
      h("section", { class: "card" }, h("h2", {}, "Details"),
        facts([
          ["ID", h("code", {}, v.id)],
          ["Status", statusBadge(v.status)],
          ["Size", `${v.size} GiB`],
          ["Type", v.volume_type || "—"],
          // Only a server answering 3.13 has the field; an older one shows no row at all.
          "group_id" in v ? ["Group", v.group_id
            ? h("span", { "data-testid": "volume-group" }, groupName ? `${groupName} ` : "", h("code", {}, v.group_id))
            : h("span", { class: "muted", "data-testid": "volume-group" }, "none")] : null,
          ["Availability zone", v.availability_zone],
          ["Bootable", v.bootable === "true" ? "yes" : "no"],
          ["Multi-attach", v.multiattach ? "yes" : "no"],
          ["Description", v.description || "—"],
          ["Created", timeCell(v.created_at)],
          ["Updated", timeCell(v.updated_at)],
          ["Source snapshot", v.snapshot_id ? h("code", {}, v.snapshot_id) : "—"],
          ["Source volume", v.source_volid ? h("a", { href: `#/volumes/${v.source_volid}` }, shortId(v.source_volid)) : "—"],
          ["Owner", `${v.user_id} @ ${v["os-vol-tenant-attr:tenant_id"] || session.project}`],
          session.isAdmin ? ["Host", v["os-vol-host-attr:host"] ? h("code", {}, v["os-vol-host-attr:host"]) : "not placed yet"] : null,
        ])),
      h("section", { class: "card" }, h("div", { class: "section-head" }, h("h2", {}, "Metadata"),
        h("button", { type: "button", class: "btn btn-small", onclick: addMetadata }, "Add or change a key")),
      meta.length
        ? h("table", { class: "table compact", "data-testid": "metadata" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
          h("tbody", {}, meta.map(([k, val]) => h("tr", {}, h("td", {}, h("code", {}, k)), h("td", {}, val),
            h("td", {}, ["readonly", "attached_mode"].includes(k) ? h("span", { class: "muted" }, "set by the server") : h("button", {
              type: "button", class: "btn btn-small", "aria-label": `Remove metadata ${k}`,
              onclick: async () => {
                try {
                  await del(`/volumes/${v.id}/metadata/${encodeURIComponent(k)}`);
                  toast(`Removed ${k}.`);
                } catch (err) {
                  toast(err.message, "error");
                }
                refresh();
              },
            }, "Remove"))))))
        : h("p", { class: "muted" }, "No metadata.")),
      h("section", { class: "card" }, h("h2", {}, "Attachments"),
        v.attachments?.length
          ? h("table", { class: "table compact" },
            h("thead", {}, h("tr", {}, ["Server", "Host", "Device", "Attached"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, v.attachments.map((a) => h("tr", {}, h("td", {}, a.server_id ? h("code", {}, a.server_id) : "—"), h("td", {}, a.host_name || "—"), h("td", {}, a.device || "—"), h("td", {}, timeCell(a.attached_at))))))
          : h("p", { class: "muted" }, "Not attached.")),
      h("section", { class: "card" }, h("div", { class: "section-head" }, h("h2", {}, "Snapshots"),
        h("button", { type: "button", class: "btn btn-small", onclick: () => volumeActions(v, changed).find((a) => a.label === "Create Snapshot").run() }, "Create Snapshot")),
      snapshotsTable()));
  }

  function snapshotsTable() {
    if (!snaps) return h("p", { class: "muted" }, "Loading…");
    if (snaps.error) return errorBox(snaps.error, "Could not load the snapshots");
    if (!snaps.items.length) return h("p", { class: "muted" }, "No snapshots.");
    return h("table", { class: "table compact", "data-testid": "volume-snapshots" },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Size", "Created", ""].map((c) => h("th", { scope: "col" }, c || h("span", { class: "sr-only" }, "Actions"))))),
      h("tbody", {}, snaps.items.map((s) => h("tr", { dataset: { snapshotId: s.id } },
        h("td", {}, s.name || h("em", {}, shortId(s.id))), h("td", {}, statusBadge(s.status)), h("td", {}, `${s.size} GiB`), h("td", {}, timeCell(s.created_at)),
        h("td", { class: "actions" }, h("button", {
          type: "button", class: "btn btn-small",
          onclick: async () => { const r = await createVolume({ source: "snapshot", id: s.id }); if (r) navigate(`#/volumes/${r.id}`); },
        }, "Create volume from it"), " ",
        snapshotActions(s, () => { snapsStale = true; refresh(); }, { compact: true }))))));
  }

  async function addMetadata() {
    const r = await openDialog({
      title: "Set a metadata key",
      body: h("div", { class: "form-grid" },
        field("Key", h("input", { type: "text", name: "key", maxlength: 255 })),
        field("Value", h("input", { type: "text", name: "value", maxlength: 255 }))),
      onSubmit: async (form) => {
        const key = form.elements.namedItem("key").value.trim();
        const value = form.elements.namedItem("value").value;
        if (!/^[a-zA-Z0-9-_:. /]{1,255}$/.test(key)) throw new FieldError("key", "Keys use letters, digits, space and - _ : . / only.");
        await post(`/volumes/${id}/metadata`, { metadata: { [key]: value } });
        toast(`Set ${key}.`);
        return true;
      },
    });
    if (r) refresh();
  }

  async function loadGroupName() {
    const gid = volume?.group_id;
    if (!gid || groupOf === gid) return;
    groupOf = gid;
    groupName = "";
    try {
      groupName = (await get(`/groups/${gid}`, { version: GROUP_ID_FROM }))?.group?.name || "";
    } catch {
      // The id alone still says which group.
    }
  }

  async function loadVolume() {
    try {
      const version = versionAtLeast(session.maxVersion, GROUP_ID_FROM) ? GROUP_ID_FROM : undefined;
      volume = (await get(`/volumes/${id}`, { version }))?.volume || null;
      await loadGroupName();
      gone = false;
      fill(errorSlot);
    } catch (err) {
      if (err.status === 404 && !err.unavailable) {
        if (volume) toast(`Volume ${volume.name || shortId(id)} is gone.`);
        volume = null;
        gone = true;
        fill(errorSlot);
      } else {
        fill(errorSlot, errorBox(err, "Could not load the volume"));
      }
    }
  }

  async function loadSnaps() {
    if (!volume) return;
    try {
      snaps = { items: (await get("/snapshots/detail", { query: { volume_id: id } }))?.snapshots || [] };
    } catch (err) {
      snaps = { error: err, items: [] };
    }
  }

  async function refresh() {
    await loadVolume();
    if (snapsStale || snaps?.items?.some((s) => isMoving(s.status))) {
      await loadSnaps();
      snapsStale = false;
    }
    drawHead();
    if (current === "overview") drawOverview();
    if (current === "timeline") {
      if (!timelineCtl) timelineCtl = renderTimeline(timeline, id);
      await timelineCtl.refresh();
    }
    const moving = (volume && isMoving(volume.status)) || snaps?.items?.some((s) => isMoving(s.status));
    if (moving) poll.kick();
    return moving;
  }
  const poll = poller(refresh, 1500);
  refresh();
  return () => poll.stop();
}
