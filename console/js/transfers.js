// Volume transfers: offer a volume to another project (the auth key is shown once, right
// after the offer, and never again: the server keeps only its hash), withdraw an offer,
// and accept one with the id and key the giver passed on.

import { session, get, post, del, versionAtLeast } from "./api.js";
import { h, field, openDialog, confirmDialog, FieldError, toast, shortId } from "./ui.js";

/** `/volume-transfers` from 3.55 (with `no_snapshots`), the extension's route before. */
const modern = () => versionAtLeast(session.maxVersion, "3.55");
const base = () => (modern() ? "/volume-transfers" : "/os-volume-transfer");

/** The pending transfer of volume `v`, or null. */
async function pendingTransfer(v) {
  const list = (await get(base(), { query: { volume_id: v.id } }))?.transfers || [];
  return list.find((t) => t.volume_id === v.id) || null;
}

/** Shows the new transfer's id and key; the only time the key can be read. */
function showKey(t) {
  const copy = (text, label) => h("button", {
    type: "button", class: "btn btn-small", "aria-label": `Copy the ${label}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast(`Copied the ${label}.`);
      } catch {
        toast(`Select the ${label} and copy it by hand.`, "error");
      }
    },
  }, "Copy");
  return openDialog({
    title: "Transfer created",
    body: h("div", { class: "form-grid" },
      h("p", {}, "Give both to the person who accepts the volume into their project. ",
        h("strong", {}, "The auth key is shown only now"), ": Clinker keeps a hash of it, not the key."),
      field("Transfer ID", h("div", { class: "copy-row" }, h("code", { "data-testid": "transfer-id" }, t.id), copy(t.id, "transfer ID"))),
      field("Auth key", h("div", { class: "copy-row" }, h("code", { "data-testid": "transfer-key" }, t.auth_key || "(not shown: this answer was replayed)"), t.auth_key ? copy(t.auth_key, "auth key") : null))),
  });
}

/** Offers volume `v`, or, while it awaits a transfer, offers to withdraw that one. */
export async function transferVolume(v) {
  if (v.status === "awaiting-transfer") return cancelTransfer(v);
  const keepSnaps = modern()
    ? h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "no_snapshots" }), " Keep its snapshots in this project"))
    : null;
  let made = null;
  const offered = await openDialog({
    title: `Transfer ${v.name || shortId(v.id)}`,
    body: h("div", { class: "form-grid" },
      h("p", {}, "Offers the volume to another project. Until it is accepted the volume waits (awaiting-transfer) and cannot be attached or deleted; you can withdraw the offer."),
      field("Transfer name", h("input", { name: "name", type: "text", maxlength: 255, value: v.name || "" })),
      keepSnaps),
    submitLabel: "Create Transfer",
    onSubmit: async (form) => {
      const transfer = { volume_id: v.id };
      const name = form.elements.namedItem("name").value.trim();
      if (name) transfer.name = name;
      if (keepSnaps && form.elements.namedItem("no_snapshots").checked) transfer.no_snapshots = true;
      const res = await post(base(), { transfer }, { version: modern() ? "3.55" : undefined });
      made = res.data?.transfer;
      return true;
    },
  });
  if (!offered || !made) return offered;
  await showKey(made);
  return made;
}

async function cancelTransfer(v) {
  let t = null;
  try {
    t = await pendingTransfer(v);
  } catch (err) {
    toast(err.message, "error");
    return null;
  }
  if (!t) {
    toast("No pending transfer of this volume is visible to you.", "error");
    return null;
  }
  return confirmDialog({
    title: `Withdraw the transfer of ${v.name || shortId(v.id)}?`,
    message: `Transfer ${t.name ? `“${t.name}” ` : ""}(${shortId(t.id)}) is deleted and its key stops working; the volume is available again.`,
    confirmLabel: "Withdraw",
    onConfirm: async () => {
      await del(`${base()}/${t.id}`);
      toast("Transfer withdrawn.");
      return true;
    },
  });
}

/** Accepts a transfer into the signed-in project. */
export function acceptTransfer() {
  return openDialog({
    title: "Accept a volume transfer",
    body: h("div", { class: "form-grid" },
      h("p", {}, `The volume, and unless the giver kept them its snapshots, move into project ${session.project}; they count against its quota.`),
      field("Transfer ID", h("input", { name: "transfer_id", type: "text", required: true, autocomplete: "off" })),
      field("Auth key", h("input", { name: "auth_key", type: "text", required: true, autocomplete: "off", spellcheck: "false" }))),
    submitLabel: "Accept Transfer",
    onSubmit: async (form) => {
      const id = form.elements.namedItem("transfer_id").value.trim();
      const key = form.elements.namedItem("auth_key").value.trim();
      if (!id) throw new FieldError("transfer_id", "Enter the transfer ID you were given.");
      if (!key) throw new FieldError("auth_key", "Enter the auth key you were given.");
      const res = await post(`${base()}/${encodeURIComponent(id)}/accept`, { accept: { auth_key: key } });
      const t = res.data?.transfer;
      toast(`Volume ${t?.name ? `“${t.name}” ` : ""}${shortId(t?.volume_id)} is now in your project.`);
      return t || true;
    },
  });
}
