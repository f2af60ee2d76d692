// The console against Cinder's documented shapes, for the APIs Clinker does not have yet
// (types, quota usage, availability zones, services, pools, user messages): a stand-in
// server answers with the api-ref's shapes and records what the console sends. When the
// real APIs land, run.mjs covers them against the binary; this keeps the pages honest
// before then.
//
//   node console/tests/shapes.mjs            (serves console/ from disk on a free port)

import { createServer } from "node:http";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve, dirname, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { steps, check, until, launch } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const consoleDir = resolve(here, "..");
const shots = resolve(process.env.SCREENSHOT_DIR || "test-artifacts/screenshots");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const P = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
mkdirSync(shots, { recursive: true });
// A failure picture from an earlier run would mislead.
for (const f of readdirSync(shots)) if (f === "zz-shapes-failure.png") rmSync(join(shots, f), { force: true });

// ---- the stand-in server -------------------------------------------------------------

const seen = [];
const services = [
  { binary: "cinder-scheduler", host: "controller", zone: "nova", status: "enabled", state: "up", updated_at: "2026-11-25T10:00:00.000000", disabled_reason: null },
  { binary: "cinder-volume", host: "alpha@fake", zone: "az1", status: "enabled", state: "up", updated_at: "2026-11-25T10:00:01.000000", disabled_reason: null, frozen: false, cluster: null, replication_status: "disabled", active_backend_id: null },
  { binary: "cinder-volume", host: "beta@fake", zone: "az2", status: "enabled", state: "up", updated_at: "2026-11-25T10:00:02.000000", disabled_reason: null, frozen: false, cluster: null, replication_status: "disabled", active_backend_id: null },
];
const pools = [
  { name: "alpha@fake#fake", capabilities: { total_capacity_gb: 500, free_capacity_gb: 420, allocated_capacity_gb: 80, provisioned_capacity_gb: 130, max_over_subscription_ratio: 20, thin_provisioning_support: true, reserved_percentage: 0, volume_backend_name: "fake", storage_protocol: "iSCSI", driver_version: "1.0", timestamp: "2026-11-25T10:00:00.000000" } },
  { name: "beta@fake#fake", capabilities: { total_capacity_gb: 50, free_capacity_gb: 10, allocated_capacity_gb: 40, max_over_subscription_ratio: 1, thin_provisioning_support: false, reserved_percentage: 0, volume_backend_name: "fake", storage_protocol: "iSCSI", driver_version: "1.0", timestamp: "2026-11-25T10:00:00.000000" } },
];
const types = [
  { id: "6685584b-1eac-4da6-b5c3-555430cf68ff", name: "gold", description: "SSD, az1", is_public: true, "os-volume-type-access:is_public": true, extra_specs: { "capabilities:tier": "gold", volume_backend_name: "fast" } },
  { id: "8eb69a46-df97-4e41-9586-9a40a7533803", name: "__DEFAULT__", description: "Default Volume Type", is_public: true, "os-volume-type-access:is_public": true, extra_specs: {} },
];
const messages = [
  { id: "c506cd4b-9048-43bc-97ef-0d7dec369b42", event_id: "VOLUME_VOLUME_001_003", user_message: "schedule allocate volume:Could not find any available weighted backend.", message_level: "ERROR", resource_type: "VOLUME", resource_uuid: "d5f6c517-c3e8-45fe-b994-b11118e4cacf", request_id: "req-c1216709-afba-4703-a1a3-22eda88f2f5a", created_at: "2026-11-25T09:58:00.000000", guaranteed_until: "2026-12-25T09:58:00.000000", links: [] },
  { id: "a7d2b3c4-1111-4c2b-8f00-0d7dec36d5aa", event_id: "VOLUME_VOLUME_007_010", user_message: "extend volume:Volume Driver failed to extend volume.", message_level: "ERROR", resource_type: "VOLUME", resource_uuid: "0b1f2e3d-c3e8-45fe-b994-b11118e4cacf", request_id: "req-0aa1b2c3-afba-4703-a1a3-22eda88f2f5a", created_at: "2026-11-25T09:59:00.000000", guaranteed_until: "2026-12-25T09:59:00.000000", links: [] },
];

const VID = "7d0e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
const GID = "c0ffee00-1234-4abc-9def-0123456789ab";
const grouped = {
  id: VID, name: "grouped-disk", status: "available", size: 10, availability_zone: "az1", bootable: "false", encrypted: false,
  multiattach: false, volume_type: "gold", description: null, user_id: "alice", snapshot_id: null, source_volid: null,
  attachments: [], metadata: {}, created_at: "2026-11-25T09:01:00.000000", updated_at: null, links: [],
  "os-vol-tenant-attr:tenant_id": P, replication_status: null, consistencygroup_id: null,
};

function send(res, status, body, headers = {}) {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/plain" : "application/json", ...headers });
  res.end(text);
}

function serveAsset(res, rel) {
  const path = normalize(join(consoleDir, rel || "index.html"));
  if (!path.startsWith(consoleDir) || path.includes(`${join(consoleDir, "tests")}`)) return send(res, 404, "The resource could not be found.");
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    return send(res, 404, "The resource could not be found.");
  }
  const type = path.endsWith(".html") ? "text/html" : path.endsWith(".css") ? "text/css" : path.endsWith(".js") ? "text/javascript" : path.endsWith(".svg") ? "image/svg+xml" : "application/octet-stream";
  // The same policy the binary sends: the console must work under it.
  res.writeHead(200, { "Content-Type": type, "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'" });
  res.end(bytes);
}

async function readBody(req) {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : null;
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const path = url.pathname;
  if (path.startsWith("/dashboard/")) return serveAsset(res, path.slice("/dashboard/".length));
  const token = req.headers["x-auth-token"] || "";
  const [user] = token.split(":");
  const admin = user === "admin";
  const version = req.headers["openstack-api-version"] || null;
  const body = await readBody(req);
  seen.push({ method: req.method, path, query: url.search, version, body });
  if (path === "/clinker/v1/whoami") return send(res, 200, { user, project: P, is_admin: admin });
  // "old" sees an older server: microversion 3.0 only, no catalogue APIs (route misses).
  const old = user === "old";
  if (path === "/v3/") return send(res, 200, { versions: [{ id: "v3.0", status: "CURRENT", version: old ? "3.0" : "3.71", min_version: "3.0" }] });
  const m = path.match(/^\/v3\/[0-9a-f-]+(\/.*)$/);
  const r = m ? m[1] : "";
  const key = `${req.method} ${r}`;
  if (old && version && version !== "volume 3.0") {
    return send(res, 406, { computeFault: { code: 406, message: `Version ${version.split(" ")[1]} is not supported by the API. Minimum is 3.0 and maximum is 3.0.` } });
  }
  if (old && !/^(GET|POST|PUT|DELETE) \/(volumes|snapshots)/.test(key)) return send(res, 404, "The resource could not be found.");
  const forbidden = () => send(res, 403, { forbidden: { code: 403, message: "Policy doesn't allow this to be performed." } });
  switch (true) {
    case key === "GET /volumes/detail" || key === "GET /volumes" || key === "GET /snapshots/detail" || key === "GET /snapshots":
      return send(res, 200, r.startsWith("/volumes") ? { volumes: [] } : { snapshots: [] });
    case key === "POST /volumes":
      return send(res, 202, { volume: { id: "2c1e3f00-1111-4a2b-9c3d-4e5f60718293", status: "creating", attachments: [], bootable: "false", created_at: "2026-11-25T10:01:00.000000", ...body.volume } });
    case key === "GET /os-availability-zone":
      return send(res, 200, { availabilityZoneInfo: [{ zoneName: "az1", zoneState: { available: true } }, { zoneName: "az2", zoneState: { available: true } }, { zoneName: "az3", zoneState: { available: false } }] });
    case key === `GET /os-quota-sets/${P}`:
      return send(res, 200, { quota_set: { id: P, volumes: { limit: 10, in_use: 3, reserved: 0 }, gigabytes: { limit: 1000, in_use: 12, reserved: 0 }, snapshots: { limit: 10, in_use: 0, reserved: 0 }, per_volume_gigabytes: { limit: -1, in_use: 0, reserved: 0 } } });
    case key === "GET /types":
      return send(res, 200, { volume_types: types.map((t) => (admin ? t : { ...t, extra_specs: {} })) });
    case /^GET \/types\/[^/]+\/extra_specs$/.test(key): {
      if (!admin) return forbidden();
      const t = types.find((x) => x.id === r.split("/")[2]);
      return t ? send(res, 200, { extra_specs: t.extra_specs }) : send(res, 404, { itemNotFound: { code: 404, message: "Volume type could not be found." } });
    }
    case key === "GET /os-services":
      return admin ? send(res, 200, { services }) : forbidden();
    case key === "PUT /os-services/disable" || key === "PUT /os-services/disable-log-reason" || key === "PUT /os-services/enable": {
      if (!admin) return forbidden();
      const s = services.find((x) => x.host === body.host && x.binary === body.binary);
      if (!s) return send(res, 404, { itemNotFound: { code: 404, message: `Service ${body.host} could not be found.` } });
      const enable = r.endsWith("/enable");
      s.status = enable ? "enabled" : "disabled";
      s.disabled_reason = enable ? null : body.disabled_reason || null;
      return send(res, 200, { host: s.host, service: "", binary: s.binary, status: s.status, disabled: !enable, ...(body.disabled_reason ? { disabled_reason: body.disabled_reason } : {}) });
    }
    case key === "GET /scheduler-stats/get_pools":
      return admin ? send(res, 200, { pools: url.searchParams.get("detail") === "true" ? pools : pools.map((p) => ({ name: p.name })) }) : forbidden();
    case key === "GET /messages": {
      if (!version) return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
      return send(res, 200, { messages }, { "OpenStack-API-Version": version });
    }
    case /^DELETE \/messages\//.test(key): {
      const i = messages.findIndex((x) => x.id === r.split("/")[2]);
      if (i >= 0) messages.splice(i, 1);
      return send(res, 204);
    }
    case key === `GET /volumes/${VID}`: {
      // group_id is a 3.13 field: absent below it.
      const minor = Number(String(version || "volume 3.0").split(".")[1]);
      return send(res, 200, { volume: { ...grouped, ...(minor >= 13 ? { group_id: GID } : {}) } });
    }
    case key === `GET /groups/${GID}`:
      if (!version) return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
      return send(res, 200, { group: { id: GID, name: "db-group", status: "available", availability_zone: "az1", group_type: "8eb69a46-df97-4e41-9586-9a40a7533804", volume_types: [types[0].id], created_at: "2026-11-25T09:00:00.000000", description: null } });
    default:
      return send(res, 404, "The resource could not be found.");
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- the browser ---------------------------------------------------------------------

const { step, failures: failuresOf, passed } = steps();
const { page, problems, close } = await launch(base, executablePath);
const dialog = () => page.locator("dialog[open]");
const shot = async (name, fullPage = false) => {
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove()));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
};
async function signIn(user) {
  await page.goto(`${base}/dashboard/#/signin`);
  await page.locator("input[name=user]").fill(user);
  await page.locator("input[name=project]").fill(P);
  await page.locator("form.signin button[type=submit]").click();
  await page.locator("[data-testid=who-user]").waitFor();
}

let failed = false;
try {
  await step("create dialog: quota usage, type and zone lists, quota check, the request sent", async () => {
    await signIn("admin");
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await until("the quota line", async () => (await dialog().locator("[data-testid=quota]").textContent()) === "Quota: used 3 of 10 volumes, 12 of 1000 GiB");
    await until("the type list", async () => (await dialog().locator("select[name=volume_type] option").count()) === 3);
    await until("the zone list", async () => (await dialog().locator("select[name=availability_zone] option").count()) === 4);
    check(await dialog().locator("select[name=availability_zone] option[value=az3]").isDisabled(), "an unavailable zone cannot be picked");
    await dialog().locator("[name=name]").fill("gold-disk");
    await dialog().locator("select[name=volume_type]").selectOption("gold");
    await dialog().locator("select[name=availability_zone]").selectOption("az2");
    await dialog().locator("[name=size]").fill("990");
    await dialog().locator("button[type=submit]").click();
    await until("the quota refusal", async () => /988 GiB left/.test((await dialog().locator(".field-error").allTextContents()).join(" ")));
    await shot("s1-create-with-quota");
    await dialog().locator("[name=size]").fill("5");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    const post = seen.find((s) => s.method === "POST" && s.path.endsWith("/volumes"));
    check(JSON.stringify(post?.body) === JSON.stringify({ volume: { name: "gold-disk", size: 5, volume_type: "gold", availability_zone: "az2" } }), `sent: ${JSON.stringify(post?.body)}`);
    check(post.version === null, "no version header on plain calls");
  });

  await step("types page: admins see extra specs", async () => {
    await page.locator("#nav a", { hasText: "Volume Types" }).click();
    await page.locator("[data-testid=types-table]").waitFor();
    const text = await page.locator("[data-testid=types-table]").textContent();
    check(text.includes("capabilities:tier") && text.includes("gold"), `types: ${text}`);
    await shot("s2-types-admin");
  });

  await step("nodes page: capacity bars, provisioned vs free, disable a node", async () => {
    await page.locator("#nav a", { hasText: "Nodes" }).click();
    const beta = page.locator("section.node[data-node=beta]");
    await beta.waitFor();
    check((await page.locator("section.node").count()) === 2, "two nodes");
    const alpha = await page.locator("section.node[data-node=alpha]").textContent();
    check(/130 GiB provisioned to volumes/.test(alpha) && /420 GiB free of 500 GiB/.test(alpha), `alpha: ${alpha}`);
    check((await page.locator("section.node[data-node=alpha] .capbar .cap-provisioned").evaluate((el) => el.style.width)) === "26%", "the bar is to scale");
    await beta.getByRole("button", { name: /Disable/ }).click();
    await dialog().locator("[name=reason]").fill("disk replacement");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("beta disabled", async () => (await page.locator("section.node[data-node=beta]").getAttribute("data-status")) === "disabled");
    const put = seen.find((s) => s.method === "PUT" && s.path.endsWith("/os-services/disable-log-reason"));
    check(put?.body?.host === "beta@fake" && put.body.binary === "cinder-volume" && put.body.disabled_reason === "disk replacement", `sent: ${JSON.stringify(put?.body)}`);
    check(/disk replacement/.test(await page.locator("section.node[data-node=beta]").textContent()), "the reason is shown");
    await shot("s3-nodes");
    await page.locator("section.node[data-node=beta]").getByRole("button", { name: /Enable/ }).click();
    await until("beta enabled", async () => (await page.locator("section.node[data-node=beta]").getAttribute("data-status")) === "enabled");
  });

  await step("messages page: asks with a microversion, lists, dismisses", async () => {
    await page.locator("#nav a", { hasText: "Messages" }).click();
    await page.locator("[data-testid=messages-table] tbody tr[data-message-id]").first().waitFor();
    check((await page.locator("[data-testid=messages-table] tbody tr[data-message-id]").count()) === 2, "two messages");
    const get = seen.find((s) => s.method === "GET" && s.path.endsWith("/messages"));
    check(get?.version === "volume 3.5", `version sent: ${get?.version}`);
    await shot("s4-messages");
    await page.getByRole("button", { name: /Dismiss message c506cd4b/ }).click();
    await until("one left", async () => (await page.locator("[data-testid=messages-table] tbody tr[data-message-id]").count()) === 1);
  });

  await step("a member: no extra specs, no Nodes", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await signIn("alice");
    check((await page.locator("#nav a", { hasText: "Nodes" }).count()) === 0, "no Nodes link");
    await page.locator("#nav a", { hasText: "Volume Types" }).click();
    await page.locator("[data-testid=types-table]").waitFor();
    check(!(await page.locator("[data-testid=types-table] thead").textContent()).includes("Extra specs"), "no extra specs column");
  });

  await step("volume page: its group from 3.13 (name and id), no Group row on a 3.0 server", async () => {
    await page.goto(`${base}/dashboard/#/volumes/${VID}`);
    const group = page.locator("[data-testid=volume-group]");
    await until("the group with its name", async () => /db-group/.test(await group.textContent()));
    check((await group.locator("code").textContent()) === GID, "the group's id");
    const asked = seen.filter((x) => x.path.endsWith(`/volumes/${VID}`)).pop();
    check(asked?.version === "volume 3.13", `volume asked with ${asked?.version}`);
    await shot("s5a-volume-group");
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await signIn("old");
    await page.goto(`${base}/dashboard/#/volumes/${VID}`);
    await until("the volume shown", async () => /grouped-disk/.test(await page.locator("h1").textContent()));
    check((await page.locator("[data-testid=volume-group]").count()) === 0, "no Group row without 3.13");
    check(!(await page.locator("dl.facts dt").allTextContents()).includes("Group"), "no Group label either");
    check((await page.locator("#nav a", { hasText: "Group Types" }).count()) === 0, "group types are an admin's page");
  });

  await step("an older server: friendly 'not available yet' for route misses and 406", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await signIn("old");
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await until("the quota fallback", async () => /Quota limits are not available on this server yet/.test(await dialog().locator("[data-testid=quota]").textContent()));
    check((await dialog().locator("input[name=volume_type]").count()) === 1, "a free-text type field when there is no type list");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    await page.locator("#nav a", { hasText: "Volume Types" }).click();
    await page.locator(".unavailable").waitFor();
    await page.locator("#nav a", { hasText: "Messages" }).click();
    await until("the messages page says why", async () => /needs API version 3.3 and this server speaks up to 3.0/.test(await page.locator(".unavailable").textContent()));
    const asked = seen.filter((x) => x.path.endsWith("/messages")).pop();
    check(asked?.version === "volume 3.3", `asked with ${asked?.version}`);
    await shot("s5-older-server-messages");
  });

  await step("no JavaScript errors", async () => {
    check(problems.length === 0, problems.join("\n"));
  });
} catch {
  failed = true;
  await shot("zz-shapes-failure", true).catch(() => {});
  if (problems.length) console.log(problems.join("\n"));
} finally {
  await close();
  server.close();
}
const failures = failuresOf(failed);
console.log(`shapes: ${passed()} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
