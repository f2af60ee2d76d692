// Nodes (admin): each storage node with its capacity (scheduler-stats/get_pools?detail)
// and its service state (os-services), enable and disable. Either API may be missing on
// this server yet; the page shows what it can and says what it cannot.

import { put, get } from "./api.js";
import { h, fill, statusBadge, errorBox, unavailableBox, pageHead, toast, openDialog, field, poller, timeCell } from "./ui.js";

const nodeOf = (host) => String(host || "").split("@")[0];
const backendOf = (pool) => String(pool || "").split("#")[0];
const num = (x) => (x === undefined || x === null || x === "" || Number.isNaN(Number(x)) ? null : Number(x));
const gb = (x) => (x === null ? "?" : `${Math.round(x * 10) / 10} GiB`);

async function attempt(fn) {
  try {
    return { ok: true, data: await fn() };
  } catch (err) {
    return { ok: false, err };
  }
}

function capacity(pool) {
  const c = pool.capabilities || {};
  const total = num(c.total_capacity_gb);
  const free = num(c.free_capacity_gb);
  const provisioned = num(c.provisioned_capacity_gb) ?? num(c.allocated_capacity_gb);
  const ratio = num(c.max_over_subscription_ratio);
  const scale = Math.max(total || 0, provisioned || 0, 1);
  const used = total !== null && free !== null ? Math.max(0, total - free) : null;
  // The main bar: what volumes were promised (provisioned) against the capacity; under
  // it, a thin bar of what the disk really holds (thin volumes use less than promised,
  // other data on a shared file system more).
  const bar = h("div", { class: "capbar", role: "img", "aria-label": `${gb(provisioned)} provisioned, ${gb(free)} free, of ${gb(total)}` });
  if (provisioned !== null) {
    const p = h("span", { class: "cap-provisioned" });
    p.style.width = `${Math.min(100, (provisioned / scale) * 100)}%`;
    bar.append(p);
  }
  if (total !== null && provisioned !== null && provisioned > total) {
    const m = h("span", { class: "cap-total-mark", title: "physical capacity" });
    m.style.left = `${(total / scale) * 100}%`;
    bar.append(m);
  }
  let disk = null;
  if (used !== null) {
    const u = h("span", { class: "cap-used" });
    u.style.width = `${Math.min(100, (used / scale) * 100)}%`;
    disk = h("div", { class: "diskbar", role: "img", "aria-label": `${gb(used)} used on disk` }, u);
  }
  return h("div", { class: "capacity" },
    bar,
    disk,
    h("div", { class: "cap-legend" },
      h("span", {}, h("span", { class: "swatch cap-provisioned", "aria-hidden": "true" }), ` ${gb(provisioned)} provisioned to volumes`),
      used !== null ? h("span", {}, h("span", { class: "swatch cap-used", "aria-hidden": "true" }), ` ${gb(used)} used on disk`) : null,
      h("span", {}, h("span", { class: "swatch cap-free", "aria-hidden": "true" }), ` ${gb(free)} free of ${gb(total)}`),
      ratio !== null && c.thin_provisioning_support !== false && ratio !== 1 ? h("span", { class: "muted" }, `thin: up to ${ratio}× the capacity may be provisioned`) : null),
    c.provisioned_capacity_gb === undefined && c.allocated_capacity_gb === undefined ? h("p", { class: "muted small" }, "The node did not report what is provisioned.") : null);
}

async function setEnabled(host, binary, enable) {
  if (enable) {
    await put("/os-services/enable", { host, binary });
    toast(`Enabled ${host}: the scheduler may place volumes there again.`);
    return true;
  }
  return openDialog({
    title: `Disable ${host}?`,
    body: h("div", { class: "form-grid" },
      h("p", {}, "The scheduler stops placing new volumes on this node. Its volumes stay where they are and keep working."),
      field("Reason (optional)", h("input", { type: "text", name: "reason", maxlength: 255 }))),
    submitLabel: "Disable",
    danger: true,
    onSubmit: async (form) => {
      const reason = form.elements.namedItem("reason").value.trim();
      if (reason) await put("/os-services/disable-log-reason", { host, binary, disabled_reason: reason });
      else await put("/os-services/disable", { host, binary });
      toast(`Disabled ${host}.`);
      return true;
    },
  });
}

export function render(root) {
  const body = h("div", { "data-testid": "nodes" });
  const refreshBtn = h("button", { type: "button", class: "btn", onclick: () => load() }, "Refresh");
  fill(root, pageHead("Nodes", refreshBtn),
    h("p", { class: "muted" }, "Each storage node (a cinder-volume service), its capacity as last reported, and whether the scheduler may use it."),
    body);

  async function load() {
    const [pools, services] = await Promise.all([
      attempt(async () => (await get("/scheduler-stats/get_pools", { query: { detail: "true" } }))?.pools || []),
      attempt(async () => (await get("/os-services"))?.services || []),
    ]);
    if (!pools.ok && !services.ok && pools.err.unavailable && services.err.unavailable) {
      fill(body, unavailableBox("Node information",
        "The console needs the pools API (scheduler-stats/get_pools) or the services API (os-services); this server has neither yet."));
      return true;
    }
    const notes = [];
    if (!pools.ok) notes.push(pools.err.unavailable ? unavailableBox("Capacity (scheduler-stats/get_pools)") : errorBox(pools.err, "Could not load the capacity"));
    if (!services.ok) notes.push(services.err.unavailable ? unavailableBox("Enabling and disabling nodes (os-services)") : errorBox(services.err, "Could not load the services"));

    // One entry per backend host ("node@backend"), from either source.
    const nodes = new Map();
    const entry = (host) => {
      if (!nodes.has(host)) nodes.set(host, { host, pools: [], service: null });
      return nodes.get(host);
    };
    for (const p of pools.ok ? pools.data : []) entry(backendOf(p.name)).pools.push(p);
    const volumeServices = services.ok ? services.data.filter((s) => s.binary === "cinder-volume") : [];
    const others = services.ok ? services.data.filter((s) => s.binary !== "cinder-volume") : [];
    for (const s of volumeServices) entry(s.host).service = s;

    const cards = [...nodes.values()].sort((a, b) => a.host.localeCompare(b.host)).map((n) => {
      const s = n.service;
      const disabled = s?.status === "disabled";
      return h("section", { class: `card node${disabled ? " node-disabled" : ""}`, dataset: { node: nodeOf(n.host), host: n.host, status: s?.status || "" } },
        h("div", { class: "section-head" },
          h("h2", {}, nodeOf(n.host), " ", h("code", { class: "muted small" }, n.host)),
          h("div", { class: "node-state" },
            s ? statusBadge(s.status) : null, s ? statusBadge(s.state) : null,
            s ? h("button", {
              type: "button", class: disabled ? "btn btn-small" : "btn btn-small btn-danger",
              "aria-label": `${disabled ? "Enable" : "Disable"} ${n.host}`,
              onclick: async () => {
                try {
                  if (await setEnabled(n.host, s.binary, disabled)) load();
                } catch (err) {
                  toast(err.message, "error");
                }
              },
            }, disabled ? "Enable" : "Disable") : null)),
        s ? h("p", { class: "muted small" }, `Zone ${s.zone || "?"} · last heartbeat `, timeCell(s.updated_at),
          s.disabled_reason ? h("span", {}, ` · disabled: ${s.disabled_reason}`) : null) : null,
        n.pools.length
          ? n.pools.map((p) => h("div", { class: "pool" },
            h("div", { class: "pool-name" }, h("code", {}, p.name),
              p.capabilities?.storage_protocol ? h("span", { class: "muted small" }, ` · ${p.capabilities.storage_protocol}`) : null,
              p.capabilities?.thin_provisioning_support ? h("span", { class: "muted small" }, " · thin") : null),
            capacity(p)))
          : h("p", { class: "muted" }, !pools.ok ? "Capacity not available on this server yet."
            : disabled ? "The scheduler lists no capacity for a disabled node." : "No capacity report from this node yet."));
    });
    // Redrawn every 10 s: keep the keyboard focus on the same button.
    const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    fill(body, notes, cards.length ? h("div", { class: "node-grid" }, cards) : h("p", { class: "muted" }, "No nodes reported."),
      others.length ? h("section", { class: "card" }, h("h2", {}, "Other services"),
        h("table", { class: "table compact" },
          h("thead", {}, h("tr", {}, ["Binary", "Host", "Zone", "Status", "State"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, others.map((s) => h("tr", {}, h("td", {}, s.binary), h("td", {}, s.host), h("td", {}, s.zone), h("td", {}, statusBadge(s.status)), h("td", {}, statusBadge(s.state))))))) : null);
    if (focused) [...body.querySelectorAll("button[aria-label]")].find((b) => b.getAttribute("aria-label") === focused)?.focus();
    return true;
  }
  const poll = poller(load, 10000);
  load().then(() => poll.kick());
  return () => poll.stop();
}
