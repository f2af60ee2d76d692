// The volume dialogs: create, edit, extend, snapshot, attachments, delete, reset status.
// Each returns a promise that settles when the dialog closes (truthy if something changed).

import { session, get, post, put, del, volumeAction, versionAtLeast, listAll } from "./api.js";
import { h, fill, field, openDialog, confirmDialog, FieldError, toast, shortId, timeCell, statusBadge } from "./ui.js";
import { transferVolume } from "./transfers.js";

export const VOLUME_STATUSES = [
  "creating", "available", "reserved", "attaching", "in-use", "detaching", "maintenance", "deleting",
  "awaiting-transfer", "error", "error_deleting", "error_extending", "error_restoring", "backing-up",
  "error_backing-up", "restoring-backup", "downloading", "uploading", "retyping", "extending", "reverting",
];

// ---- what the server offers (types, zones, quota), each possibly not there yet ------

/** `{ok: true, names: [...]}` or `{ok: false, message}` for the zone list. */
export async function loadZones() {
  try {
    const data = await get("/os-availability-zone");
    const names = (data?.availabilityZoneInfo || []).map((z) => ({ name: z.zoneName, available: z.zoneState?.available !== false }));
    return { ok: true, zones: names };
  } catch (err) {
    return { ok: false, unavailable: Boolean(err.unavailable), message: err.message };
  }
}

export async function loadTypes() {
  try {
    return { ok: true, types: await listAll("/types", "volume_types") };
  } catch (err) {
    return { ok: false, unavailable: Boolean(err.unavailable), message: err.message };
  }
}

/**
 * The project's volume and gigabyte quota with usage: from `os-quota-sets?usage=true`,
 * else from `/limits`. `{ok, volumes: {limit, used, reserved}, gigabytes: {...}, perVolume}`.
 */
export async function loadQuota() {
  try {
    const q = (await get(`/os-quota-sets/${encodeURIComponent(session.project)}`, { query: { usage: "true" } }))?.quota_set || {};
    const pick = (k) => (q[k] && typeof q[k] === "object" ? { limit: q[k].limit, used: q[k].in_use || 0, reserved: q[k].reserved || 0 } : null);
    return { ok: true, volumes: pick("volumes"), gigabytes: pick("gigabytes"), snapshots: pick("snapshots"), perVolume: pick("per_volume_gigabytes")?.limit ?? -1 };
  } catch (err) {
    try {
      const a = (await get("/limits"))?.limits?.absolute || {};
      return {
        ok: true,
        volumes: { limit: a.maxTotalVolumes, used: a.totalVolumesUsed || 0, reserved: 0 },
        gigabytes: { limit: a.maxTotalVolumeGigabytes, used: a.totalGigabytesUsed || 0, reserved: 0 },
        snapshots: { limit: a.maxTotalSnapshots, used: a.totalSnapshotsUsed || 0, reserved: 0 },
        perVolume: -1,
      };
    } catch {
      // No quota API yet: count what the project has, so the dialog still says something.
      let usage = null;
      try {
        const vols = (await get("/volumes/detail", { query: { limit: 1000 } }))?.volumes || [];
        usage = { volumes: vols.length, gigabytes: vols.reduce((n, v) => n + (v.size || 0), 0), more: vols.length >= 1000 };
      } catch {
        usage = null;
      }
      return { ok: false, unavailable: Boolean(err.unavailable), message: err.message, usage };
    }
  }
}

/** "3 of 10 volumes", or "3 volumes (no limit)". Reserved counts as used. */
const of = (r, noun) => {
  if (!r || r.limit === undefined) return `? ${noun}`;
  const used = r.used + (r.reserved || 0);
  return r.limit < 0 ? `${used} ${noun} (no limit)` : `${used} of ${r.limit} ${noun}`;
};

/** "Quota: used 3 of 10 volumes, 12 of 1000 GiB". */
export function quotaLine(quota) {
  if (!quota) return h("p", { class: "quota muted", "data-testid": "quota" }, "Loading quota…");
  if (!quota.ok) {
    const u = quota.usage;
    const have = u ? `You have ${u.more ? "at least " : ""}${u.volumes} volume${u.volumes === 1 ? "" : "s"} using ${u.gigabytes} GiB. ` : "";
    return h("p", { class: "quota muted", "data-testid": "quota" }, have + (quota.unavailable
      ? "Quota limits are not available on this server yet."
      : `Quota usage could not be read: ${quota.message}`));
  }
  return h("p", { class: "quota", "data-testid": "quota" }, `Quota: used ${of(quota.volumes, "volumes")}, ${of(quota.gigabytes, "GiB")}`);
}

function left(r) {
  if (!r || r.limit === undefined || r.limit < 0) return Infinity;
  return r.limit - r.used - (r.reserved || 0);
}

// ---- inputs ----------------------------------------------------------------------

function textInput(name, value = "", attrs = {}) {
  return h("input", { type: "text", name, value: value ?? "", maxlength: 255, ...attrs });
}

function sizeInput(name, value, min) {
  return h("input", { type: "number", name, value, min, step: 1, inputmode: "numeric", required: true });
}

function readSize(form, name, min, label = "Size") {
  const raw = form.elements.namedItem(name).value.trim();
  if (!/^\d+$/.test(raw)) throw new FieldError(name, `${label} must be a whole number of GiB.`);
  const n = Number(raw);
  if (n < min) throw new FieldError(name, `${label} must be at least ${min} GiB.`);
  return n;
}

function select(name, options, value) {
  return h("select", { name }, options.map(([v, label, disabled]) => h("option", { value: v, selected: v === value, disabled }, label)));
}

const volumeLabel = (v) => `${v.name || "(no name)"} · ${shortId(v.id)} · ${v.size} GiB · ${v.status}`;

// ---- create ----------------------------------------------------------------------

/**
 * Create Volume. `preset`: `{source: "snapshot"|"volume", id}` to start from a source.
 * Resolves to the new volume (202 body) or null.
 */
export async function createVolume(preset = {}) {
  const name = textInput("name");
  const description = h("textarea", { name: "description", rows: 2, maxlength: 255 });
  const sourceKind = select("source", [["none", "No source (empty volume)"], ["snapshot", "A snapshot"], ["volume", "Another volume"]], preset.source || "none");
  const sourcePick = h("select", { name: "source_id", disabled: true }, h("option", { value: "" }, "—"));
  const sourceField = field("Source", sourcePick, "");
  const typeSlot = h("div");
  const azSlot = h("div");
  const size = sizeInput("size", 1, 1);
  const quotaSlot = h("div", {}, quotaLine(null));
  let quota = null;
  let minSize = 1;
  let sources = { snapshot: null, volume: null };

  const sourceHint = sourceField.querySelector(".hint") || sourceField.appendChild(h("div", { class: "hint" }));
  const updateSource = async () => {
    const kind = sourceKind.value;
    if (kind === "none") {
      sourcePick.disabled = true;
      fill(sourcePick, h("option", { value: "" }, "—"));
      fill(sourceHint, "");
      minSize = 1;
      size.min = 1;
      return;
    }
    sourcePick.disabled = true;
    fill(sourcePick, h("option", { value: "" }, "Loading…"));
    try {
      if (!sources[kind]) {
        sources[kind] = kind === "snapshot"
          ? (await get("/snapshots/detail", { query: { limit: 1000 } }))?.snapshots || []
          : (await get("/volumes/detail", { query: { limit: 1000 } }))?.volumes || [];
      }
      const usable = sources[kind].filter((s) => (kind === "snapshot" ? s.status === "available" : ["available", "in-use"].includes(s.status)));
      fill(sourcePick, h("option", { value: "" }, usable.length ? `Choose a ${kind}…` : `No ${kind} can be used`),
        usable.map((s) => h("option", { value: s.id, selected: s.id === preset.id, dataset: { size: s.size } }, volumeLabel(s))));
      sourcePick.disabled = usable.length === 0;
      fill(sourceHint, kind === "snapshot" ? "Only available snapshots can be copied." : "Only available or in-use volumes can be cloned.");
      onPick();
    } catch (err) {
      fill(sourcePick, h("option", { value: "" }, "Could not load the list"));
      fill(sourceHint, err.message);
    }
  };
  const onPick = () => {
    const opt = sourcePick.selectedOptions[0];
    const s = opt && opt.dataset.size ? Number(opt.dataset.size) : 1;
    minSize = Math.max(1, s);
    size.min = minSize;
    if (Number(size.value) < minSize) size.value = minSize;
  };
  sourceKind.addEventListener("change", () => {
    preset = {};
    updateSource();
  });
  sourcePick.addEventListener("change", onPick);

  const body = h("div", { class: "form-grid" },
    quotaSlot,
    field("Name", name),
    field("Description", description),
    field("Volume source", sourceKind),
    sourceField,
    typeSlot,
    field("Size (GiB)", size, "Whole GiB; at least the size of the source."),
    azSlot);

  // Fill the slots as the server answers; the dialog opens at once.
  loadQuota().then((q) => {
    quota = q;
    fill(quotaSlot, quotaLine(q));
  });
  loadTypes().then((t) => {
    if (t.ok) {
      fill(typeSlot, field("Volume type", select("volume_type", [["", "Default type"], ...t.types.map((ty) => [ty.name, ty.description ? `${ty.name} — ${ty.description}` : ty.name])], "")));
    } else {
      fill(typeSlot, field("Volume type", textInput("volume_type", "", { placeholder: "default" }),
        t.unavailable ? "The type list is not available on this server yet: type a name, or leave empty for the default type." : t.message));
    }
  });
  loadZones().then((z) => {
    if (z.ok && z.zones.length) {
      fill(azSlot, field("Availability zone", select("availability_zone", [["", "Default (the source's zone, else the server's default)"], ...z.zones.map((zz) => [zz.name, zz.available ? zz.name : `${zz.name} (unavailable)`, !zz.available])], "")));
    } else {
      fill(azSlot, field("Availability zone", textInput("availability_zone", "", { placeholder: "default" }),
        z.unavailable || (z.ok && !z.zones.length) ? "The zone list is not available on this server yet: type a zone, or leave empty for the default." : z.message));
    }
  });
  if (preset.source) updateSource();

  return openDialog({
    title: "Create Volume",
    body,
    submitLabel: "Create",
    wide: true,
    onSubmit: async (form) => {
      const v = {};
      const n = name.value.trim();
      if (n.length > 255) throw new FieldError("name", "The name is at most 255 characters.");
      if (n) v.name = n;
      const d = description.value.trim();
      if (d) v.description = d;
      const kind = sourceKind.value;
      if (kind !== "none") {
        if (!sourcePick.value) throw new FieldError("source_id", `Choose the ${kind} to copy, or pick "No source".`);
        v[kind === "snapshot" ? "snapshot_id" : "source_volid"] = sourcePick.value;
      }
      v.size = readSize(form, "size", minSize);
      const vt = form.elements.namedItem("volume_type")?.value.trim();
      if (vt) v.volume_type = vt;
      const az = form.elements.namedItem("availability_zone")?.value.trim();
      if (az) v.availability_zone = az;
      if (quota?.ok) {
        if (left(quota.volumes) < 1) throw new FieldError("size", `Your quota is used up: ${of(quota.volumes, "volumes")}.`);
        if (v.size > left(quota.gigabytes)) throw new FieldError("size", `That is more than your quota leaves: ${of(quota.gigabytes, "GiB")} used, ${left(quota.gigabytes)} GiB left.`);
        if (quota.perVolume > 0 && v.size > quota.perVolume) throw new FieldError("size", `One volume can be at most ${quota.perVolume} GiB.`);
      }
      const res = await post("/volumes", { volume: v });
      const created = res.data?.volume;
      toast(`Accepted (HTTP ${res.status}): volume “${created?.name || shortId(created?.id)}” is ${created?.status}. Accepted is not created yet: watch its status.`);
      return created;
    },
  });
}

// ---- edit, extend, snapshot --------------------------------------------------------

export function editVolume(v) {
  const bootable = h("input", { type: "checkbox", name: "bootable", checked: v.bootable === "true" || v.bootable === true });
  return openDialog({
    title: `Edit ${v.name || shortId(v.id)}`,
    body: h("div", { class: "form-grid" },
      field("Name", textInput("name", v.name || "")),
      field("Description", h("textarea", { name: "description", rows: 3, maxlength: 255 }, v.description || "")),
      h("div", { class: "field checkbox" }, h("label", {}, bootable, " Bootable"))),
    onSubmit: async (form) => {
      const name = form.elements.namedItem("name").value.trim();
      const description = form.elements.namedItem("description").value.trim();
      await put(`/volumes/${v.id}`, { volume: { name: name || null, description: description || null } });
      const wasBootable = v.bootable === "true" || v.bootable === true;
      if (bootable.checked !== wasBootable) await volumeAction(v.id, "os-set_bootable", { bootable: bootable.checked });
      toast(`Saved ${name || shortId(v.id)}.`);
      return true;
    },
  });
}

export function extendVolume(v) {
  const size = sizeInput("new_size", v.size + 1, v.size + 1);
  const quotaSlot = h("div", {}, quotaLine(null));
  let quota = null;
  loadQuota().then((q) => {
    quota = q;
    fill(quotaSlot, quotaLine(q));
  });
  return openDialog({
    title: `Extend ${v.name || shortId(v.id)}`,
    body: h("div", { class: "form-grid" },
      quotaSlot,
      h("p", {}, `Now ${v.size} GiB. A volume can only grow; ${v.status === "in-use" ? "an attached volume needs API version 3.42." : "it stays usable."}`),
      field("New size (GiB)", size)),
    submitLabel: "Extend",
    onSubmit: async (form) => {
      const n = readSize(form, "new_size", v.size + 1, "The new size");
      if (quota?.ok && n - v.size > left(quota.gigabytes)) {
        throw new FieldError("new_size", `Growing by ${n - v.size} GiB is more than your quota leaves (${left(quota.gigabytes)} GiB).`);
      }
      await volumeAction(v.id, "os-extend", { new_size: n });
      toast(`Extending ${v.name || shortId(v.id)} to ${n} GiB.`);
      return true;
    },
  });
}

export function snapshotVolume(v) {
  const force = v.status === "in-use"
    ? h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "force" }), " Snapshot while attached (force)"))
    : null;
  return openDialog({
    title: `Create Snapshot of ${v.name || shortId(v.id)}`,
    body: h("div", { class: "form-grid" },
      field("Snapshot name", textInput("name", v.name ? `${v.name}-snap` : "")),
      field("Description", h("textarea", { name: "description", rows: 2, maxlength: 255 })),
      force),
    submitLabel: "Create Snapshot",
    onSubmit: async (form) => {
      const s = { volume_id: v.id };
      const name = form.elements.namedItem("name").value.trim();
      const description = form.elements.namedItem("description").value.trim();
      if (name) s.name = name;
      if (description) s.description = description;
      if (force && form.elements.namedItem("force").checked) s.force = true;
      const res = await post("/snapshots", { snapshot: s });
      toast(`Snapshot “${res.data?.snapshot?.name || shortId(res.data?.snapshot?.id)}” accepted: ${res.data?.snapshot?.status}.`);
      return res.data?.snapshot || true;
    },
  });
}

// ---- attachments -----------------------------------------------------------------

export async function manageAttachments(v0) {
  let changed = false;
  const list = h("div", { class: "attach-list" });
  const draw = (v) => {
    const rows = v.attachments || [];
    fill(list, rows.length
      ? h("table", { class: "table compact" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Attached to"), h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "Since"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h("tbody", {}, rows.map((a) => h("tr", {},
          h("td", {}, a.server_id ? `server ${a.server_id}` : `host ${a.host_name || "?"}`),
          h("td", {}, a.device || "—"),
          h("td", {}, timeCell(a.attached_at)),
          h("td", {}, h("button", {
            type: "button", class: "btn btn-small btn-danger",
            onclick: async (ev) => {
              ev.currentTarget.disabled = true;
              try {
                await volumeAction(v.id, "os-detach", { attachment_id: a.attachment_id });
                changed = true;
                toast(`Detached from ${a.server_id || a.host_name}.`);
              } catch (err) {
                toast(err.message, "error");
              }
              draw((await get(`/volumes/${v.id}`)).volume);
            },
          }, "Detach"))))))
      : h("p", { class: "muted" }, "Not attached."));
  };
  draw(v0);
  const target = select("target", [["instance_uuid", "Server (instance UUID)"], ["host_name", "Host name"]], "instance_uuid");
  const result = await openDialog({
    title: `Attachments of ${v0.name || shortId(v0.id)}`,
    wide: true,
    body: h("div", { class: "form-grid" },
      h("h3", {}, "Current"), list,
      h("h3", {}, "Attach"),
      h("p", { class: "muted" }, "Records an attachment as Nova would (legacy os-attach): the volume becomes in-use."),
      field("Attach to", target),
      field("Server UUID or host name", textInput("target_value", "", { placeholder: "e.g. 3f0c9c84-8d7e-4a55-9e6e-3b0b0e1f1c11" })),
      field("Device", textInput("mountpoint", "/dev/vdb")),
      field("Mode", select("mode", [["rw", "read/write"], ["ro", "read-only"]], "rw"))),
    submitLabel: "Attach",
    cancelLabel: "Close",
    onSubmit: async (form) => {
      const value = form.elements.namedItem("target_value").value.trim();
      const mountpoint = form.elements.namedItem("mountpoint").value.trim();
      if (!value) throw new FieldError("target_value", "Say what to attach to.");
      if (target.value === "instance_uuid" && !/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(value)) {
        throw new FieldError("target_value", "A server is named by its UUID.");
      }
      if (!mountpoint) throw new FieldError("mountpoint", "Give the device path, such as /dev/vdb.");
      await volumeAction(v0.id, "os-attach", { [target.value]: value, mountpoint, mode: form.elements.namedItem("mode").value });
      toast(`Attached to ${value}.`);
      return true;
    },
  });
  return result || changed;
}

// ---- delete, reset ---------------------------------------------------------------

export async function deleteVolume(v) {
  let snaps = [];
  try {
    snaps = (await get("/snapshots", { query: { volume_id: v.id } }))?.snapshots || [];
  } catch {
    snaps = [];
  }
  const cascade = snaps.length
    ? h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "cascade" }), ` Also delete its ${snaps.length} snapshot${snaps.length > 1 ? "s" : ""}`))
    : null;
  const force = session.isAdmin
    ? h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "force" }), " Force (admin: skip the status check)"))
    : null;
  return confirmDialog({
    title: `Delete ${v.name || shortId(v.id)}?`,
    message: `The volume ${v.name ? `“${v.name}” ` : ""}(${v.size} GiB, ${v.status}) and its data are deleted. This cannot be undone.`,
    extra: h("div", {}, cascade, force),
    onConfirm: async (form) => {
      const useForce = force && form.elements.namedItem("force").checked;
      const useCascade = cascade && form.elements.namedItem("cascade").checked;
      if (useForce && !useCascade) await volumeAction(v.id, "os-force_delete", {});
      else await del(`/volumes/${v.id}`, { query: { cascade: useCascade ? "true" : undefined, force: useForce && versionAtLeast(session.maxVersion, "3.23") ? "true" : undefined }, version: useForce && versionAtLeast(session.maxVersion, "3.23") ? "3.23" : undefined });
      toast(`Deleting ${v.name || shortId(v.id)}.`);
      return true;
    },
  });
}

export function resetStatus(v) {
  return openDialog({
    title: `Reset status of ${v.name || shortId(v.id)}`,
    body: h("div", { class: "form-grid" },
      h("p", {}, "Admin only. Sets the status in the database without touching the storage: use it to recover a volume stuck in a state. Now: ", statusBadge(v.status)),
      field("Status", select("status", VOLUME_STATUSES.filter((s) => s !== "deleting").map((s) => [s, s]), v.status === "deleting" ? "error" : v.status)),
      field("Attach status", select("attach_status", [["", "Leave as is"], ["attached", "attached"], ["detached", "detached (removes the attachments)"]], ""))),
    submitLabel: "Reset Status",
    danger: true,
    onSubmit: async (form) => {
      const args = { status: form.elements.namedItem("status").value };
      const as = form.elements.namedItem("attach_status").value;
      if (as) args.attach_status = as;
      await volumeAction(v.id, "os-reset_status", args);
      toast(`Status of ${v.name || shortId(v.id)} set to ${args.status}.`);
      return true;
    },
  });
}

/** The actions of one volume, for a menu or a button row. `changed(kind, result)` after each. */
export function volumeActions(v, changed) {
  const run = (fn, kind) => async () => {
    const r = await fn(v);
    if (r) changed(kind, r);
  };
  return [
    { label: "Edit", run: run(editVolume, "edit") },
    { label: "Extend", run: run(extendVolume, "extend") },
    { label: "Create Snapshot", run: run(snapshotVolume, "snapshot") },
    { label: "Manage Attachments", run: run(manageAttachments, "attach") },
    { label: "Create volume from this", run: async () => { const r = await createVolume({ source: "volume", id: v.id }); if (r) changed("create", r); } },
    // Offered only where Cinder takes it: an available volume, or withdrawn while it waits.
    v.status === "available" ? { label: "Transfer", run: run(transferVolume, "transfer") } : null,
    v.status === "awaiting-transfer" ? { label: "Withdraw Transfer", run: run(transferVolume, "transfer") } : null,
    session.isAdmin ? { label: "Reset Status", run: run(resetStatus, "reset") } : null,
    { label: "Delete", danger: true, run: run(deleteVolume, "delete") },
  ].filter(Boolean);
}
