// Key=value specs, as volume types (extra specs) and group types (group specs) carry them:
// the text form a person types, and the dialog that lists, removes and adds them.

import { post, del } from "./api.js";
import { h, fill, toast, openDialog, field, FieldError } from "./ui.js";

const SPEC_KEY = /^[a-zA-Z0-9-_:.]{1,255}$/;

/** `key=value` lines to an object; the error names the form field `name`. */
export function parseSpecs(text, name = "specs") {
  const specs = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq < 1) throw new FieldError(name, `Line ${i + 1}: write key=value.`);
    const k = line.slice(0, eq).trim();
    if (!SPEC_KEY.test(k)) throw new FieldError(name, `Line ${i + 1}: “${k}” is not a valid key (letters, digits, - _ : . only).`);
    specs[k] = line.slice(eq + 1).trim();
  }
  return specs;
}

/** A cell listing specs, or "none". */
export function specsList(specs) {
  const entries = Object.entries(specs || {});
  return entries.length
    ? h("ul", { class: "plain specs" }, entries.map(([k, v]) => h("li", {}, h("code", {}, k), " = ", h("code", {}, v))))
    : h("span", { class: "muted" }, "none");
}

/**
 * The specs of one type, to remove and add. `path` is the specs collection
 * (`/types/{id}/extra_specs`), `key` its body's key (`extra_specs`), `what` its words.
 * Resolves true when anything changed.
 */
export async function editSpecs({ title, path, key, what, hint, version, specs }) {
  const list = h("div");
  let changed = false;
  const draw = (sp) => fill(list, Object.keys(sp).length
    ? h("table", { class: "table compact", "data-testid": "specs-table" }, h("tbody", {}, Object.entries(sp).map(([k, v]) => h("tr", { dataset: { specKey: k } },
      h("td", {}, h("code", {}, k)), h("td", {}, v),
      h("td", {}, h("button", {
        type: "button", class: "btn btn-small", "aria-label": `Remove ${k}`,
        onclick: async () => {
          try {
            await del(`${path}/${encodeURIComponent(k)}`, { version });
            changed = true;
            const copy = { ...sp };
            delete copy[k];
            draw(copy);
          } catch (err) {
            toast(err.message, "error");
          }
        },
      }, "Remove"))))))
    : h("p", { class: "muted" }, `No ${what}.`));
  draw(specs || {});
  const r = await openDialog({
    title,
    wide: true,
    body: h("div", { class: "form-grid" }, list,
      field("Add or change", h("textarea", { name: "specs", rows: 3, placeholder: "key=value" }), hint)),
    submitLabel: "Save",
    cancelLabel: "Close",
    onSubmit: async (form) => {
      const add = parseSpecs(form.elements.namedItem("specs").value);
      if (!Object.keys(add).length) return changed;
      await post(path, { [key]: add }, { version });
      toast(`Saved the ${what}.`);
      return true;
    },
  });
  return r || changed;
}
