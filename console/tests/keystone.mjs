// The console against a server running with auth_strategy = "keystone": signing in with a
// Keystone user name, password and project (relayed by Clinker to a real Keystone), a
// refused password, working as that user, and signing out.
//
//   node console/tests/keystone.mjs http://127.0.0.1:PORT USER PASSWORD PROJECT
//
// tests/console_browser.rs starts Keystone and the binary and runs this.

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { steps, check, until, launch, noProblems } from "./lib.mjs";

const [rawBase, user, password, project] = process.argv.slice(2);
const base = (rawBase || "").replace(/\/$/, "");
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base) || !user || !password || !project) {
  console.error("usage: node console/tests/keystone.mjs http://127.0.0.1:PORT USER PASSWORD PROJECT");
  process.exit(2);
}
const shots = resolve(process.env.SCREENSHOT_DIR || "test-artifacts/screenshots");
mkdirSync(shots, { recursive: true });

const { step, failures: failuresOf, passed } = steps();
const { page, problems, external, close } = await launch(new URL(base).origin);
const shot = async (name) => {
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove()));
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(shots, `${name}.png`) });
};
const dialog = () => page.locator("dialog[open]");
const row = (name) => page.locator("[data-testid=volumes-table] tbody tr", { has: page.locator(`a:text-is("${name}")`) });
/** Everything this origin keeps in the browser, to look for secrets in. */
const storage = () => page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
async function fillForm(pw) {
  await page.locator("form.signin input[name=user]").fill(user);
  await page.locator("form.signin input[name=password]").fill(pw);
  await page.locator("form.signin input[name=project]").fill(project);
  await page.locator("form.signin button[type=submit]").click();
}

let failed = false;
try {
  await step("the sign-in asks for a Keystone user, password, project and domain", async () => {
    await page.goto(`${base}/dashboard/`);
    await page.locator("form.signin[data-mode=keystone]").waitFor();
    check((await page.locator("form.signin input[name=password][type=password]").count()) === 1, "a password field");
    check((await page.locator("form.signin input[name=domain]").inputValue()) === "Default", "the domain defaults to Default");
    await shot("k1-keystone-signin");
  });

  await step("a wrong password is refused in words, and nothing is kept", async () => {
    await fillForm(`${password}-wrong`);
    await until("the refusal", async () => /did not accept/.test(await page.locator(".form-error").textContent()));
    check((await page.locator("[data-testid=who-user]").count()) === 0, "not signed in");
    check(!/token/i.test(await storage()), `nothing stored: ${await storage()}`);
    await shot("k2-keystone-refused");
  });

  let token = "";
  await step("the right password signs in: user and project in the header", async () => {
    await fillForm(password);
    await page.locator("[data-testid=volumes-table]").waitFor();
    check((await page.locator("[data-testid=who-user]").textContent()) === user, "the user's name shown");
    const who = page.locator("[data-testid=who-project]");
    check((await who.textContent()) === project, "the project's name shown");
    check(/^[0-9a-f]{32}$/.test(await who.getAttribute("data-project-id")), "the project's id behind it");
    check((await page.locator("[data-testid=admin-badge]").count()) === 0, "a member is no admin");
    check((await page.locator("form.signin").count()) === 0, "the form is gone");
    const kept = JSON.parse(await page.evaluate(() => sessionStorage.getItem("clinker.keystone")));
    token = kept?.token || "";
    check(token.length > 20, "the token is kept in this tab");
    const all = await storage();
    check(!all.includes(password), "the password is kept nowhere");
    check(!JSON.stringify(await page.evaluate(() => ({ ...localStorage }))).includes(token), "the token is not in localStorage");
    await shot("k3-keystone-volumes");
  });

  await step("create a volume and see it listed, after a reload too", async () => {
    await page.getByRole("button", { name: "Create Volume", exact: true }).click();
    await dialog().waitFor();
    await dialog().locator("[name=name]").fill("through-keystone");
    await dialog().locator("[name=size]").fill("1");
    await dialog().locator("button[type=submit]").click();
    await dialog().waitFor({ state: "detached" });
    await until("through-keystone available", async () => (await row("through-keystone").locator("[data-status]").first().getAttribute("data-status")) === "available");
    await page.reload();
    await row("through-keystone").waitFor();
    check((await page.locator("[data-testid=who-user]").textContent()) === user, "still signed in after a reload");
    // The API itself agrees, with the same token.
    const listed = await page.evaluate(async (t) => {
      const r = await fetch("/v3/", { headers: { "X-Auth-Token": t } });
      const who = await fetch("/clinker/v1/whoami", { headers: { "X-Auth-Token": t } });
      return [r.status, who.status, await who.text()];
    }, token);
    check(listed[0] === 300 || listed[0] === 200, `version document: ${listed}`);
    check(listed[1] === 200, `whoami with the token: ${listed}`);
    await shot("k4-keystone-volume");
  });

  await step("sign out forgets the token", async () => {
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.locator("form.signin[data-mode=keystone]").waitFor();
    check((await page.evaluate(() => sessionStorage.getItem("clinker.keystone"))) === null, "the token is forgotten");
    await page.reload();
    await page.locator("form.signin[data-mode=keystone]").waitFor();
    check((await page.locator("[data-testid=who-user]").count()) === 0, "signed out after a reload");
  });

  await step("no JavaScript errors and no request outside the server", async () => noProblems(problems, external));
} catch {
  failed = true;
  await page.screenshot({ path: join(shots, "zz-keystone-failure.png"), fullPage: true }).catch(() => {});
  console.log(`page at failure: ${page.url()}; page problems: ${problems.join("; ") || "none"}`);
} finally {
  await close();
}

const failures = failuresOf(failed);
console.log(`console: keystone ${passed()} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
