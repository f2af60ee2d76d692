// Group types (3.11, an admin's page): list, create, delete, and each type's group specs,
// which Cinder shows to admins only. A server without the API, or one refusing 3.11,
// gets a friendly "not available yet".

import { session, get, post, del, listAll, versionAtLeast } from "./api.js";
import { h, fill, errorBox, unavailableBox, emptyRow, pageHead, toast, openDialog, confirmDialog, field, FieldError, shortId } from "./ui.js";
import { parseSpecs, specsList, editSpecs } from "./specs.js";

/** Group types came with 3.11; every call names it. */
const V = "3.11";

function createGroupType() {
  return openDialog({
    title: "Create Group Type",
    body: h("div", { class: "form-grid" },
      field("Name", h("input", { type: "text", name: "name", maxlength: 255, required: true })),
      field("Description", h("input", { type: "text", name: "description", maxlength: 255 })),
      h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "public", checked: true }), " Public (every project can use it)")),
      field("Group specs", h("textarea", { name: "specs", rows: 3, placeholder: "consistent_group_snapshot_enabled=<is> True" }), "One key=value a line.")),
    submitLabel: "Create",
    onSubmit: async (form) => {
      const name = form.elements.namedItem("name").value.trim();
      if (!name) throw new FieldError("name", "A group type needs a name.");
      const body = { name, is_public: form.elements.namedItem("public").checked };
      const d = form.elements.namedItem("description").value.trim();
      if (d) body.description = d;
      const specs = parseSpecs(form.elements.namedItem("specs").value);
      if (Object.keys(specs).length) body.group_specs = specs;
      await post("/group_types", { group_type: body }, { version: V });
      toast(`Created group type ${name}.`);
      return true;
    },
  });
}

function deleteGroupType(t) {
  return confirmDialog({
    title: `Delete group type ${t.name}?`,
    message: "Refused by the server while groups use the type or it is the default group type.",
    onConfirm: async () => {
      await del(`/group_types/${t.id}`, { version: V });
      toast(`Deleted group type ${t.name}.`);
      return true;
    },
  });
}

async function loadTypes() {
  const types = await listAll("/group_types", "group_types", { is_public: "none" }, 5000, V);
  // The list carries group specs for admins; a server that leaves them out is asked per type.
  await Promise.all(types.map(async (t) => {
    if (t.group_specs) return;
    try {
      t.group_specs = (await get(`/group_types/${t.id}/group_specs`, { version: V }))?.group_specs || {};
    } catch (err) {
      t.specsError = err.message;
    }
  }));
  return types;
}

export function render(root) {
  const body = h("div");
  const createBtn = h("button", { type: "button", class: "btn btn-primary", disabled: true, onclick: async () => { if (await createGroupType()) load(); } }, "Create Group Type");
  fill(root, pageHead("Group Types", createBtn),
    h("p", { class: "muted" }, "A group type names a kind of volume group; its group specs say what the group's backend must do (consistent snapshots, replication)."),
    body);

  async function load() {
    if (!versionAtLeast(session.maxVersion, V)) {
      fill(body, unavailableBox("The group types API", `It needs microversion ${V}; this server speaks up to ${session.maxVersion}.`));
      return;
    }
    let types;
    try {
      types = await loadTypes();
    } catch (err) {
      fill(body, err.unavailable ? unavailableBox("The group types API") : errorBox(err, "Could not load the group types"));
      return;
    }
    createBtn.disabled = false;
    const cols = ["Name", "Description", "Public", "Group specs", ""];
    fill(body, h("div", { class: "table-wrap" }, h("table", { class: "table responsive", "data-testid": "group-types-table" },
      h("caption", { class: "sr-only" }, "Group types"),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c || h("span", { class: "sr-only" }, "Actions"))))),
      h("tbody", {}, types.length ? types.map((t) => h("tr", { dataset: { groupTypeId: t.id, name: t.name } },
        h("td", { "data-label": "Name" }, h("strong", {}, t.name), h("div", { class: "muted small" }, h("code", {}, shortId(t.id)))),
        h("td", { "data-label": "Description" }, t.description || "—"),
        h("td", { "data-label": "Public" }, t.is_public === false ? "no (private)" : "yes"),
        h("td", { "data-label": "Group specs" }, t.specsError ? h("span", { class: "bad-text" }, t.specsError) : specsList(t.group_specs)),
        h("td", { class: "actions" },
          h("button", {
            type: "button", class: "btn btn-small",
            onclick: async () => {
              const changed = await editSpecs({
                title: `Group specs of ${t.name}`, path: `/group_types/${t.id}/group_specs`, key: "group_specs", what: "group specs",
                hint: "One key=value a line.", version: V, specs: t.group_specs,
              });
              if (changed) load();
            },
          }, "Group specs"), " ",
          h("button", { type: "button", class: "btn btn-small btn-danger", onclick: async () => { if (await deleteGroupType(t)) load(); } }, "Delete"))))
        : emptyRow(cols.length, "No group types.")))));
  }
  load();
  return () => {};
}
