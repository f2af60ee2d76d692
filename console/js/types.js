// Volume types (GET /types). Admins also see and edit each type's extra specs, and can
// create types. Until the server has the types API, a friendly "not available yet".

import { session, get, post, del, listAll } from "./api.js";
import { h, fill, errorBox, unavailableBox, emptyRow, pageHead, toast, openDialog, confirmDialog, field, FieldError, shortId } from "./ui.js";
import { parseSpecs, specsList, editSpecs } from "./specs.js";

function createType() {
  return openDialog({
    title: "Create Volume Type",
    body: h("div", { class: "form-grid" },
      field("Name", h("input", { type: "text", name: "name", maxlength: 255, required: true })),
      field("Description", h("input", { type: "text", name: "description", maxlength: 255 })),
      h("div", { class: "field checkbox" }, h("label", {}, h("input", { type: "checkbox", name: "public", checked: true }), " Public (every project can use it)")),
      field("Extra specs", h("textarea", { name: "specs", rows: 4, placeholder: "volume_backend_name=fast\ncapabilities:tier=gold" }), "One key=value a line; the scheduler matches them against the nodes.")),
    submitLabel: "Create",
    onSubmit: async (form) => {
      const name = form.elements.namedItem("name").value.trim();
      if (!name) throw new FieldError("name", "A type needs a name.");
      const body = { name, "os-volume-type-access:is_public": form.elements.namedItem("public").checked };
      const d = form.elements.namedItem("description").value.trim();
      if (d) body.description = d;
      const specs = parseSpecs(form.elements.namedItem("specs").value);
      if (Object.keys(specs).length) body.extra_specs = specs;
      await post("/types", { volume_type: body });
      toast(`Created type ${name}.`);
      return true;
    },
  });
}

export function render(root) {
  const body = h("div");
  const createBtn = session.isAdmin ? h("button", { type: "button", class: "btn btn-primary", disabled: true, onclick: async () => { if (await createType()) load(); } }, "Create Volume Type") : null;
  fill(root, pageHead("Volume Types", createBtn),
    h("p", { class: "muted" }, "A type names a kind of storage; its extra specs tell the scheduler which nodes may hold it."),
    body);

  async function load() {
    let types;
    try {
      types = await listAll("/types", "volume_types", session.isAdmin ? { is_public: "none" } : {});
    } catch (err) {
      fill(body, err.unavailable ? unavailableBox("The volume types API") : errorBox(err, "Could not load the volume types"));
      return false;
    }
    if (createBtn) createBtn.disabled = false;
    if (session.isAdmin) {
      await Promise.all(types.map(async (t) => {
        if (t.extra_specs && Object.keys(t.extra_specs).length) return;
        try {
          t.extra_specs = (await get(`/types/${t.id}/extra_specs`))?.extra_specs || {};
        } catch (err) {
          t.specsError = err.message;
        }
      }));
    }
    const cols = ["Name", "Description", "Public"];
    if (session.isAdmin) cols.push("Extra specs", "");
    fill(body, h("div", { class: "table-wrap" }, h("table", { class: "table responsive", "data-testid": "types-table" },
      h("caption", { class: "sr-only" }, "Volume types"),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c || h("span", { class: "sr-only" }, "Actions"))))),
      h("tbody", {}, types.length ? types.map((t) => h("tr", { dataset: { typeId: t.id } },
        h("td", { "data-label": "Name" }, h("strong", {}, t.name), h("div", { class: "muted small" }, h("code", {}, shortId(t.id)))),
        h("td", { "data-label": "Description" }, t.description || "—"),
        h("td", { "data-label": "Public" }, (t["os-volume-type-access:is_public"] ?? t.is_public) === false ? "no (private)" : "yes"),
        session.isAdmin ? h("td", { "data-label": "Extra specs" }, t.specsError ? h("span", { class: "bad-text" }, t.specsError)
          : specsList(t.extra_specs)) : null,
        session.isAdmin ? h("td", { class: "actions" },
          h("button", { type: "button", class: "btn btn-small", onclick: async () => {
            const changed = await editSpecs({
              title: `Extra specs of ${t.name}`, path: `/types/${t.id}/extra_specs`, key: "extra_specs", what: "extra specs",
              hint: "One key=value a line. Refused while volumes of this type exist, as in Cinder.", specs: t.extra_specs,
            });
            if (changed) load();
          } }, "Extra specs"), " ",
          h("button", {
            type: "button", class: "btn btn-small btn-danger",
            onclick: async () => {
              const ok = await confirmDialog({
                title: `Delete type ${t.name}?`,
                message: "Refused by the server while volumes use the type or it is a default.",
                onConfirm: async () => { await del(`/types/${t.id}`); toast(`Deleted type ${t.name}.`); return true; },
              });
              if (ok) load();
            },
          }, "Delete")) : null)) : emptyRow(cols.length, "No volume types.")))));
    return false;
  }
  load();
  return () => {};
}
