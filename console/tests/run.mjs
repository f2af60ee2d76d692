// Drives the Clinker console in Debian's headless Chromium, against a running server.
//
//   node console/tests/run.mjs http://127.0.0.1:PORT
//
// tests/console_browser.rs starts the real binary and runs this. Screenshots of every page
// go to $SCREENSHOT_DIR (default test-artifacts/screenshots). Any JavaScript error on the
// page, any request leaving the server's origin, or any failed step fails the run.

import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { WAIT, SKIPPED, steps, check, until, launch, noProblems } from "./lib.mjs";

const base = (process.argv[2] || "").replace(/\/$/, "");
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) {
  console.error("usage: node console/tests/run.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const origin = new URL(base).origin;
const PROJECT = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
const shots = resolve(process.env.SCREENSHOT_DIR || "test-artifacts/screenshots");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });
// A failure picture from an earlier run would mislead.
for (const f of readdirSync(shots)) if (f === "zz-failure.png") rmSync(join(shots, f), { force: true });

const skipped = [];
const { step, failures: failuresOf, passed } = steps();
const { page, problems, external, close } = await launch(origin, executablePath);

const shot = async (name, opts = {}) => {
  // Toasts float over the page; a picture is clearer without them.
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove()));
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: opts.fullPage ?? false });
};
const api = (method, path, token, body, version) => page.evaluate(async ({ method, path, token, body, version }) => {
  const headers = { "X-Auth-Token": token, "Content-Type": "application/json" };
  if (version) headers["OpenStack-API-Version"] = `volume ${version}`;
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, text: await r.text() };
}, { method, path, token, body, version });
const apiJson = async (...args) => {
  const r = await api(...args);
  let data = null;
  try {
    data = JSON.parse(r.text);
  } catch {
    // Not JSON: the status says enough.
  }
  return { ...r, data };
};

const row = (name) => page.locator("[data-testid=volumes-table] tbody tr", { has: page.locator(`a:text-is("${name}")`) });
const rowStatus = async (name) => (await row(name).locator("[data-status]").first().getAttribute("data-status")) || "";
const dialog = () => page.locator("dialog[open]");
async function rowAction(name, action) {
  await row(name).locator(".menu-wrap > button").click();
  await row(name).locator(`[role=menuitem]:text-is("${action}")`).click();
  await dialog().waitFor();
}
async function signIn(user) {
  await page.goto(`${base}/dashboard/#/signin`);
  await page.locator("input[name=user]").fill(user);
  await page.locator("input[name=project]").fill(PROJECT);
  await page.locator("form.signin button[type=submit]").click();
  await page.locator("[data-testid=who-user]").waitFor();
}
// The scheduler's decision (pools, filter reasons, weights) is an admin's to see: a step
// checking it signs in as the admin of the same project, then back in as alice.
async function asAdmin(fn) {
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await signIn("admin");
  await fn();
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await signIn("alice");
}
async function setZone(value) {
  const az = dialog().locator("[name=availability_zone]");
  await az.waitFor();
  if ((await az.evaluate((el) => el.tagName)) === "SELECT") await az.selectOption(value);
  else await az.fill(value);
}

let failed = false;
try {
  await step("the API's GET / is still the version document", async () => {
    const r = await page.request.get(`${base}/`);
    check(r.status() === 300, `GET / answered ${r.status()}`);
  });

  await step("sign in as a member; user and project in the header", async () => {
    await page.goto(`${base}/dashboard/`);
    await page.locator("form.signin").waitFor();
    await shot("01-signin");
    await page.locator("input[name=user]").fill("alice");
    await page.locator("input[name=project]").fill("not hex!");
    await page.locator("form.signin button[type=submit]").click();
    await until("the project id error", async () => /hexadecimal/.test(await page.locator(".form-error").textContent()));
    await page.locator("input[name=project]").fill(PROJECT);
    await page.locator("form.signin button[type=submit]").click();
    await page.locator("[data-testid=volumes-table]").waitFor();
    check((await page.locator("[data-testid=who-user]").textContent()) === "alice", "user shown");
    check((await page.locator("[data-testid=who-project]").textContent()) === PROJECT, "project shown");
    check((await page.locator("[data-testid=admin-badge]").count()) === 0, "a member has no admin badge");
    const stored = await page.evaluate(() => [localStorage.getItem("clinker.user"), localStorage.getItem("clinker.project")]);
    check(stored[0] === "alice" && stored[1] === PROJECT, `remembered in localStorage: ${stored}`);
    await page.reload();
    await page.locator("[data-testid=volumes-table]").waitFor();
    check((await page.locator("[data-testid=who-user]").textContent()) === "alice", "still signed in after a reload");
    await shot("02-volumes-empty");
  });

  await step("create a volume through the dialog and watch it become available", async () => {
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await until("the quota line", async () => !/Loading/.test(await dialog().locator("[data-testid=quota]").textContent()));
    const quota = await dialog().locator("[data-testid=quota]").textContent();
    check(/Quota: used \d+ of \d+ volumes, \d+ of \d+ GiB|not available on this server yet/.test(quota), `quota line: ${quota}`);
    await dialog().locator("[name=name]").fill("web-data");
    await dialog().locator("[name=description]").fill("Data disk of the web server");
    await dialog().locator("[name=size]").fill("0");
    await setZone("az1");
    await dialog().locator("button[type=submit]").click();
    await until("the size error", async () => /at least 1 GiB/.test(await dialog().locator(".field-error").allTextContents().then((t) => t.join(" "))));
    await dialog().locator("[name=size]").fill("1");
    await shot("03-create-volume-dialog");
    // Record every status the row shows, without reloading the page.
    await page.evaluate(() => {
      window.seenStatuses = [];
      new MutationObserver(() => {
        for (const tr of document.querySelectorAll("[data-testid=volumes-table] tbody tr[data-volume-id]")) {
          if (tr.querySelector("a")?.textContent !== "web-data") continue;
          const s = tr.dataset.status;
          if (window.seenStatuses[window.seenStatuses.length - 1] !== s) window.seenStatuses.push(s);
        }
      }).observe(document.querySelector("[data-testid=volumes-table] tbody"), { childList: true, subtree: true, attributes: true });
    });
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await row("web-data").waitFor();
    await until("web-data available", async () => (await rowStatus("web-data")) === "available");
    const seen = await page.evaluate(() => window.seenStatuses);
    check(JSON.stringify(seen) === JSON.stringify(["creating", "available"]), `statuses shown: ${seen}`);
    const cells = await row("web-data").locator("td").allTextContents();
    check(cells.includes("1 GiB") && cells.includes("az1") && cells.includes("Data disk of the web server"), `row: ${cells}`);
    await shot("04-volumes-available");
  });

  await step("a server refusal is shown in words (quota-free: unknown zone)", async () => {
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await dialog().locator("[name=name]").fill("nowhere");
    await setZone("az1");
    const az = dialog().locator("[name=availability_zone]");
    if ((await az.evaluate((el) => el.tagName)) === "SELECT") await az.evaluate((el) => el.append(new Option("atlantis", "atlantis", true, true)));
    else await az.fill("atlantis");
    await dialog().locator("button[type=submit]").click();
    await until("the error in the dialog", async () => (await dialog().locator(".dialog-error").textContent()).length > 0);
    const text = await dialog().locator(".dialog-error").textContent();
    check(/atlantis/.test(text) && /invalid/i.test(text) && !/[{}]/.test(text), `error text: ${text}`);
    await shot("05-create-error");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
  });

  await step("extend it", async () => {
    await rowAction("web-data", "Extend");
    await dialog().locator("[name=new_size]").fill("2");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("2 GiB and available", async () => (await row("web-data").locator("td").allTextContents()).includes("2 GiB") && (await rowStatus("web-data")) === "available");
  });

  await step("edit it, attach it, detach it", async () => {
    await rowAction("web-data", "Edit");
    await dialog().locator("[name=description]").fill("Data disk of the web server, edited");
    await dialog().locator("[name=bootable]").check();
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("the edit shown", async () => {
      const cells = await row("web-data").locator("td").allTextContents();
      return cells.includes("Data disk of the web server, edited") && cells.includes("yes");
    });
    await rowAction("web-data", "Manage Attachments");
    await dialog().locator("[name=target_value]").fill("not-a-uuid");
    await dialog().locator("button[type=submit]").click();
    await until("the UUID hint", async () => /UUID/.test((await dialog().locator(".field-error").allTextContents()).join(" ")));
    await dialog().locator("[name=target_value]").fill("3f0c9c84-8d7e-4a55-9e6e-3b0b0e1f1c11");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("in-use and attached", async () => (await rowStatus("web-data")) === "in-use" &&
      (await row("web-data").locator("td[data-label='Attached to']").textContent()) === "3f0c9c84 on /dev/vdb");
    await rowAction("web-data", "Manage Attachments");
    await dialog().getByRole("button", { name: "Detach", exact: true }).click();
    await until("detached in the dialog", async () => /Not attached/.test(await dialog().locator(".attach-list").textContent()));
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    await until("available again", async () => (await rowStatus("web-data")) === "available");
  });

  await step("snapshot it", async () => {
    await rowAction("web-data", "Create Snapshot");
    await dialog().locator("[name=name]").fill("web-data-snap");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await page.locator("#nav a", { hasText: "Snapshots" }).click();
    const snap = page.locator("[data-testid=snapshots-table] tbody tr", { hasText: "web-data-snap" });
    await snap.waitFor();
    await until("the snapshot available", async () => (await snap.locator("[data-status]").first().getAttribute("data-status")) === "available");
    await shot("06-snapshots");
  });

  await step("create a volume from the snapshot", async () => {
    const snap = page.locator("[data-testid=snapshots-table] tbody tr", { hasText: "web-data-snap" });
    await snap.locator(".menu-wrap > button").click();
    await snap.locator('[role=menuitem]:text-is("Create volume from it")').click();
    await dialog().waitFor();
    await until("the snapshot preselected", async () => (await dialog().locator("[name=source_id]").inputValue()) !== "");
    check((await dialog().locator("[name=size]").inputValue()) === "2", "size follows the snapshot");
    await dialog().locator("[name=name]").fill("from-snap");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("the new volume's page", async () => /#\/volumes\/[0-9a-f-]{36}/.test(page.url()));
    await until("from-snap available", async () => (await page.locator("h1 [data-status]").getAttribute("data-status")) === "available");
    const text = await page.locator("#panel-overview").textContent();
    check(text.includes("from-snap") || (await page.locator("h1").textContent()).includes("from-snap"), "the detail shows the volume");
    await shot("07-volume-detail", { fullPage: true });
  });

  await step("the timeline shows the three flows and the scheduler's decision", async () => {
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await row("web-data").locator("a").click();
    await page.getByRole("tab", { name: "Timeline", exact: true }).click();
    await page.locator("[data-testid=timeline]").waitFor();
    const flows = await page.locator("section.flow").evaluateAll((els) => els.map((e) => `${e.dataset.flow}:${e.dataset.state}`));
    check(JSON.stringify(flows.slice(0, 3)) === JSON.stringify(["volume_create_api:SUCCESS", "volume_create_scheduler:SUCCESS", "volume_create_manager:SUCCESS"]), `flows: ${flows}`);
    check((await page.locator("section.flow[data-flow=volume_create_api] tr[data-task]").count()) >= 5, "the API flow lists its tasks");
    check(await page.locator("[data-milestone=accepted]").isVisible(), "the 202 milestone");
    check(await page.locator("[data-milestone=created]").isVisible(), "the created milestone");
    check((await page.locator("[data-testid=decision]").count()) === 0, "a member sees no pools, reasons or weights");
    await asAdmin(async () => {
      await page.locator("#nav a", { hasText: "Volumes" }).click();
      await row("web-data").locator("a").click();
      await page.getByRole("tab", { name: "Timeline", exact: true }).click();
      await page.locator("[data-testid=decision]").waitFor();
      const rows = await page.locator("[data-testid=decision] tbody tr").evaluateAll((els) => els.map((e) => [e.dataset.node, e.className]));
      check(rows.length === 3 && rows[0][1] === "chosen", `decision rows: ${JSON.stringify(rows)}`);
      const beta = await page.locator("[data-testid=decision] tr[data-node=beta]").textContent();
      check(/availability zone 'az2'/.test(beta), `beta rejected with its reason: ${beta}`);
      await shot("08-timeline", { fullPage: true });
    });
  });

  await step("accepted but never created: a volume no node can hold", async () => {
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await dialog().locator("[name=name]").fill("too-big");
    await dialog().locator("[name=size]").fill("100");
    await setZone("az2");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await row("too-big").waitFor();
    await until("too-big in error", async () => (await rowStatus("too-big")) === "error");
    await row("too-big").locator("a").click();
    await page.getByRole("tab", { name: "Timeline", exact: true }).click();
    await page.locator("[data-testid=verdict]").waitFor();
    check(/never created/.test(await page.locator("[data-testid=verdict]").textContent()), "the verdict says never created");
    await asAdmin(async () => {
      await page.locator("#nav a", { hasText: "Volumes" }).click();
      await row("too-big").locator("a").click();
      await page.getByRole("tab", { name: "Timeline", exact: true }).click();
      await page.locator("[data-testid=decision]").waitFor();
      const beta = await page.locator("[data-testid=decision] tr[data-node=beta]").textContent();
      check(/not enough free space/.test(beta), `beta's capacity reason: ${beta}`);
      await shot("09-timeline-failed", { fullPage: true });
    });
  });

  await step("a refused delete says why in words", async () => {
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await rowAction("web-data", "Delete");
    await dialog().locator("button[type=submit]").click();
    await until("the refusal", async () => (await dialog().locator(".dialog-error").textContent()).length > 0);
    const text = await dialog().locator(".dialog-error").textContent();
    check(/snapshot/i.test(text) && !/[{}]/.test(text), `refusal text: ${text}`);
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
  });

  await step("a member sees no admin pages", async () => {
    check((await page.locator("#nav a", { hasText: "Nodes" }).count()) === 0, "no Nodes link for a member");
    await row("web-data").locator(".menu-wrap > button").click();
    check((await row("web-data").locator('[role=menuitem]:text-is("Reset Status")').count()) === 0, "no Reset Status for a member");
    await page.keyboard.press("Escape");
    await page.goto(`${base}/dashboard/#/nodes`);
    await page.locator("[data-testid=admin-only]").waitFor();
    await shot("10-member-nodes");
  });

  await step("transfer a volume: the key shown once, the offer withdrawn, then accepted", async () => {
    const made = await api("POST", `/v3/${PROJECT}/volumes`, `alice:${PROJECT}`, { volume: { size: 1, name: "gift" } });
    check(made.status === 202, `gift create: ${made.status} ${made.text}`);
    await page.goto(`${base}/dashboard/#/volumes`);
    await row("gift").waitFor({ timeout: WAIT });
    await until("gift available", async () => (await rowStatus("gift")) === "available");
    const offer = async () => {
      await rowAction("gift", "Transfer");
      await dialog().locator("[name=name]").fill("gift-for-bob");
      await dialog().locator("button[type=submit]").click();
      const keyEl = page.locator("dialog[open] [data-testid=transfer-key]");
      await keyEl.waitFor();
      const key = (await keyEl.textContent()).trim();
      const id = (await page.locator("dialog[open] [data-testid=transfer-id]").textContent()).trim();
      check(/^[0-9a-f]{16}$/.test(key), `auth key shown: ${key}`);
      return { id, key };
    };
    const first = await offer();
    await shot("11-transfer-key");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    await until("gift awaiting transfer", async () => (await rowStatus("gift")) === "awaiting-transfer");
    const listed = await api("GET", `/v3/${PROJECT}/os-volume-transfer/detail`, `alice:${PROJECT}`);
    check(listed.text.includes(first.id) && !listed.text.includes(first.key), "listed, without its key");
    await rowAction("gift", "Withdraw Transfer");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("gift available again", async () => (await rowStatus("gift")) === "available");
    const second = await offer();
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Accept Transfer", exact: true }).click();
    await dialog().locator("[name=transfer_id]").fill(second.id);
    await dialog().locator("[name=auth_key]").fill(first.key);
    await dialog().locator("button[type=submit]").click();
    await until("the wrong key refused in words", async () => /Invalid auth key/.test(await dialog().locator(".dialog-error").textContent()));
    await dialog().locator("[name=auth_key]").fill(second.key);
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("gift accepted", async () => (await rowStatus("gift")) === "available");
    await rowAction("gift", "Delete");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await row("gift").waitFor({ state: "detached", timeout: WAIT });
  });

  await step("delete the volumes (with a confirm)", async () => {
    await page.goto(`${base}/dashboard/#/volumes`);
    for (const name of ["from-snap", "too-big"]) {
      await row(name).waitFor();
      await rowAction(name, "Delete");
      await dialog().locator("button[type=submit]").click();
      await dialog().waitFor({ state: "detached" });
      await row(name).waitFor({ state: "detached", timeout: WAIT });
    }
    await rowAction("web-data", "Delete");
    await dialog().locator("[name=cascade]").check();
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await row("web-data").waitFor({ state: "detached", timeout: WAIT });
  });

  await step("keyboard: a dialog opens with Enter, closes with Escape, focus returns", async () => {
    const btn = page.getByRole("button", { name: "Create Volume", exact: true });
    await btn.focus();
    await page.keyboard.press("Enter");
    await dialog().waitFor();
    check(await page.evaluate(() => document.activeElement?.closest("dialog") !== null), "focus moves into the dialog");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    check(await btn.evaluate((el) => el === document.activeElement), "focus back on Create Volume");
  });

  await step("an admin sees the admin badge and the Nodes page", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await signIn("admin");
    await page.locator("[data-testid=admin-badge]").waitFor();
    // Some volumes for the pictures.
    for (const [name, size, zone] of [["db-primary", 20, "az1"], ["db-replica", 20, "az2"], ["scratch", 5, "az1"]]) {
      const r = await api("POST", `/v3/${PROJECT}/volumes`, `admin:${PROJECT}`, { volume: { name, size, availability_zone: zone, description: `${name} disk` } });
      check(r.status === 202, `create ${name}: ${r.status} ${r.text}`);
    }
    await page.reload();
    await until("three available", async () => (await page.locator("[data-testid=volumes-table] tbody tr[data-status=available]").count()) === 3);
    await rowAction("db-primary", "Manage Attachments");
    await dialog().locator("[name=target_value]").fill("9a3e1c52-7f0b-4d2e-8c41-5b6a7d8e9f01");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("db-primary in-use", async () => (await rowStatus("db-primary")) === "in-use");
    await shot("11-volumes-admin");
    await page.locator("#nav a", { hasText: "Nodes" }).click();
    await page.locator("[data-testid=nodes]").waitFor();
    await until("the nodes page filled", async () => (await page.locator("[data-testid=nodes]").textContent()).length > 0);
    await shot("12-nodes");
  });

  await step("an admin resets a status", async () => {
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await rowAction("scratch", "Reset Status");
    await dialog().locator("[name=status]").selectOption("error");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("scratch in error", async () => (await rowStatus("scratch")) === "error");
    await rowAction("scratch", "Reset Status");
    await dialog().locator("[name=status]").selectOption("available");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("scratch available", async () => (await rowStatus("scratch")) === "available");
  });

  await step("an admin creates a volume type with extra specs, and a volume of it", async () => {
    const probe = await api("GET", `/v3/${PROJECT}/types`, `admin:${PROJECT}`);
    if (probe.status === 404) {
      skipped.push("create a volume type: the types API is not on this server yet");
      console.log("SKIP an admin creates a volume type: GET /v3/{p}/types answers 404 on this server (the types API has not landed yet)");
      return SKIPPED;
    }
    await page.locator("#nav a", { hasText: "Volume Types" }).click();
    await page.getByRole("button", { name: "Create Volume Type", exact: true }).click();
    await dialog().locator("[name=name]").fill("fast");
    await dialog().locator("[name=description]").fill("Only the fake nodes");
    await dialog().locator("[name=specs]").fill("volume_backend_name=fake");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    const fast = page.locator("[data-testid=types-table] tbody tr", { hasText: "fast" });
    await until("the type with its spec", async () => /volume_backend_name\s*=\s*fake/.test(await fast.textContent()));
    await shot("13a-types-admin");
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await until("the type list", async () => (await dialog().locator("select[name=volume_type] option[value=fast]").count()) === 1);
    await dialog().locator("[name=name]").fill("typed");
    await dialog().locator("select[name=volume_type]").selectOption("fast");
    await setZone("az1");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("typed available", async () => (await rowStatus("typed")) === "available");
    check((await row("typed").locator("td[data-label=Type]").textContent()) === "fast", "the row shows the type");
  });

  await step("an admin manages group types: create, group specs, delete", async () => {
    const admin = `admin:${PROJECT}`;
    await page.locator("#nav a", { hasText: "Group Types" }).click();
    const create = page.getByRole("button", { name: "Create Group Type", exact: true });
    await until("the page loaded", async () => !(await create.isDisabled()));
    const makeType = async (name, specs) => {
      await create.click();
      await dialog().locator("[name=name]").fill(name);
      await dialog().locator("[name=description]").fill(`${name} groups`);
      await dialog().locator("[name=specs]").fill(specs);
      await dialog().locator("button[type=submit]").click();
      await dialog().waitFor({ state: "detached" });
    };
    await makeType("gt-console", "consistent_group_snapshot_enabled=<is> True");
    const gtRow = (name) => page.locator(`[data-testid=group-types-table] tbody tr[data-name="${name}"]`);
    await until("the type with its spec", async () => /consistent_group_snapshot_enabled\s*=\s*<is> True/.test(await gtRow("gt-console").textContent()));
    // Group specs: add one, then remove the first.
    await gtRow("gt-console").getByRole("button", { name: "Group specs", exact: true }).click();
    await dialog().locator("[data-testid=specs-table] tr[data-spec-key=consistent_group_snapshot_enabled]").waitFor();
    await dialog().locator("[name=specs]").fill("tier=gold");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("both specs", async () => /tier\s*=\s*gold/.test(await gtRow("gt-console").textContent()));
    await gtRow("gt-console").getByRole("button", { name: "Group specs", exact: true }).click();
    await dialog().getByRole("button", { name: "Remove consistent_group_snapshot_enabled", exact: true }).click();
    await dialog().locator("[data-testid=specs-table] tr[data-spec-key=consistent_group_snapshot_enabled]").waitFor({ state: "detached" });
    await shot("13b-group-specs");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
    await until("one spec left", async () => !/consistent_group_snapshot_enabled/.test(await gtRow("gt-console").textContent()));
    const id = await gtRow("gt-console").getAttribute("data-group-type-id");
    const specs = await apiJson("GET", `/v3/${PROJECT}/group_types/${id}/group_specs`, admin, undefined, "3.11");
    check(JSON.stringify(specs.data?.group_specs) === JSON.stringify({ tier: "gold" }), `the server's specs: ${specs.text}`);
    await makeType("gt-doomed", "");
    await gtRow("gt-doomed").waitFor();
    await shot("13c-group-types");
    await gtRow("gt-doomed").getByRole("button", { name: "Delete", exact: true }).click();
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await gtRow("gt-doomed").waitFor({ state: "detached" });
    const listed = await apiJson("GET", `/v3/${PROJECT}/group_types`, admin, undefined, "3.11");
    check(!listed.text.includes("gt-doomed") && listed.text.includes("gt-console"), `the server's list: ${listed.text}`);
  });

  await step("the volume page shows its group at 3.13", async () => {
    const admin = `admin:${PROJECT}`;
    const made = await apiJson("POST", `/v3/${PROJECT}/volumes`, admin, { volume: { size: 1, name: "grouped", availability_zone: "az1" } });
    check(made.status === 202, `create grouped: ${made.text}`);
    const vid = made.data.volume.id;
    await until("grouped available", async () => (await apiJson("GET", `/v3/${PROJECT}/volumes/${vid}`, admin)).data?.volume?.status === "available");
    const group = await apiJson("POST", `/v3/${PROJECT}/groups`, admin, { group: { name: "console-group", group_type: "gt-console", volume_types: ["__DEFAULT__"] } }, "3.13");
    check(group.status === 202, `create the group: ${group.status} ${group.text}`);
    const gid = group.data.group.id;
    await until("the group available", async () => (await apiJson("GET", `/v3/${PROJECT}/groups/${gid}`, admin, undefined, "3.13")).data?.group?.status === "available");
    const add = await apiJson("PUT", `/v3/${PROJECT}/groups/${gid}`, admin, { group: { add_volumes: vid } }, "3.13");
    if (add.status === 202) {
      await until("the volume in its group", async () => (await apiJson("GET", `/v3/${PROJECT}/volumes/${vid}`, admin, undefined, "3.13")).data?.volume?.group_id === gid);
    } else {
      check(add.status === 400, `add_volumes: ${add.status} ${add.text}`);
    }
    const shown = (await apiJson("GET", `/v3/${PROJECT}/volumes/${vid}`, admin, undefined, "3.13")).data.volume;
    check("group_id" in shown, `the API answers group_id at 3.13: ${JSON.stringify(shown)}`);
    await page.goto(`${base}/dashboard/#/volumes/${vid}`);
    const cell = page.locator("[data-testid=volume-group]");
    await cell.waitFor();
    if (shown.group_id) {
      await until("the group's name and id", async () => /console-group/.test(await cell.textContent()));
      check((await cell.locator("code").textContent()) === gid, "the group's id");
      await shot("13d-volume-group");
    } else {
      check((await cell.textContent()) === "none", `no group shown as none: ${await cell.textContent()}`);
      skipped.push(`a volume shown in its group: add_volumes was refused (${add.text}), so only group_id null was checked`);
      console.log(`SKIP the volume page shows its group: PUT /groups/{id} add_volumes answered ${add.status} ${add.text}; the page was checked with group_id null only`);
    }
    const gone = await api("DELETE", `/v3/${PROJECT}/volumes/${vid}`, admin);
    check(gone.status === 202 || gone.status === 400, `delete grouped: ${gone.status} ${gone.text}`);
  });

  await step("an admin disables a node and sees it", async () => {
    const probe = await api("GET", `/v3/${PROJECT}/os-services`, `admin:${PROJECT}`);
    if (probe.status === 404) {
      await page.locator("#nav a", { hasText: "Nodes" }).click();
      await page.locator("[data-testid=nodes] .unavailable").waitFor();
      skipped.push("disable a node: the services API (os-services) is not on this server yet");
      console.log("SKIP an admin disables a node: GET /v3/{p}/os-services answers 404 on this server (the services API has not landed yet)");
      check((await page.locator(".unavailable").count()) > 0, "the Nodes page says the API is not available yet");
      return SKIPPED;
    }
    await page.locator("#nav a", { hasText: "Nodes" }).click();
    const card = page.locator("section.node[data-node=beta]");
    await card.waitFor();
    await card.getByRole("button", { name: /Disable/ }).click();
    await dialog().locator("[name=reason]").fill("maintenance window");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("beta disabled", async () => (await page.locator("section.node[data-node=beta]").getAttribute("data-status")) === "disabled");
    await shot("13-node-disabled");
  });

  await step("types and messages pages render (or say not available yet)", async () => {
    await page.locator("#nav a", { hasText: "Volume Types" }).click();
    await until("the types page", async () => (await page.locator("[data-testid=types-table], .unavailable, .alert-error").count()) > 0);
    check((await page.locator(".alert-error").count()) === 0, `types error: ${await page.locator(".alert-error").allTextContents()}`);
    await shot("14-types");
    await page.locator("#nav a", { hasText: "Messages" }).click();
    await until("the messages page", async () => (await page.locator("[data-testid=messages-table], .unavailable, .alert-error").count()) > 0);
    check((await page.locator(".alert-error").count()) === 0, `messages error: ${await page.locator(".alert-error").allTextContents()}`);
    if (await page.locator("[data-testid=messages-table]").count()) {
      // too-big, which no node could hold, left a message for the project.
      await until("the scheduling message", async () => /schedule allocate volume/.test(await page.locator("[data-testid=messages-table]").textContent()));
    }
    await shot("15-messages");
  });

  await step("usable on a phone-sized window", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/dashboard/#/volumes`);
    await page.locator("[data-testid=volumes-table] tbody tr[data-volume-id]").first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
    await shot("16-phone-volumes");
    await page.locator("#menu-toggle").click();
    await page.locator("#nav a", { hasText: "Nodes" }).waitFor();
    await shot("17-phone-menu");
    await page.locator("#nav a", { hasText: "Volumes" }).click();
    await page.locator("[data-testid=volumes-table] tbody tr a").first().click();
    await page.locator("h1 [data-status]").waitFor();
    await page.locator(".narrow-only .menu-wrap > button").click();
    await shot("18a-phone-detail-actions");
    await page.keyboard.press("Escape");
    await page.getByRole("tab", { name: "Timeline", exact: true }).click();
    await page.locator("[data-testid=timeline]").waitFor();
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow2 <= 1, `the timeline scrolls sideways by ${overflow2}px`);
    await shot("18-phone-timeline", { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step("no JavaScript errors and no request outside the server", async () => noProblems(problems, external));
} catch {
  failed = true;
  console.log(`page at failure: ${page.url()}`);
  await shot("zz-failure", { fullPage: true }).catch(() => {});
  if (problems.length) console.log(`page problems:\n${problems.join("\n")}`);
} finally {
  await close();
}

const failures = failuresOf(failed);
for (const s of skipped) console.log(`skipped: ${s}`);
console.log(`screenshots: ${shots}`);
console.log(`console: ${passed()} passed, ${failures} failed, ${skipped.length} skipped`);
process.exit(failures ? 1 : 0);
