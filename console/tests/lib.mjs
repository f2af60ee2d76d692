// What the browser scripts share: steps that report and stop the run at the first failure,
// polling with a deadline, and a headless Chromium that may not leave the server's origin
// and records every JavaScript error of the page.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const WAIT = 20000;

/** Returned by a step that could not run on this server (it says why itself). */
export const SKIPPED = Symbol("skipped");

/**
 * A run's steps: `step(name, fn)` logs ok/FAIL and rethrows; `results` lists them;
 * `failures(failed)` counts the failed ones, plus one when the run stopped (`failed`)
 * outside any step.
 */
export function steps() {
  const results = [];
  const failures = (failed) => results.filter((r) => !r.ok).length + (failed && !results.some((r) => !r.ok) ? 1 : 0);
  const passed = () => results.filter((r) => r.ok && !r.skipped).length;
  async function step(name, fn) {
    const t = Date.now();
    try {
      if ((await fn()) === SKIPPED) {
        results.push({ name, ok: true, skipped: true });
        return;
      }
      results.push({ name, ok: true });
      console.log(`ok   ${name} (${Date.now() - t} ms)`);
    } catch (err) {
      results.push({ name, ok: false });
      console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
      throw err;
    }
  }
  return { results, step, failures, passed };
}

/** The last step of every run: the page itself raised nothing and stayed on its origin. */
export function noProblems(problems, external) {
  check(problems.length === 0, problems.join("\n"));
  check(external.length === 0, `external requests: ${external.join(", ")}`);
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** Polls `fn` until it answers something truthy, for `timeout` ms. */
export async function until(what, fn, timeout = WAIT) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/**
 * Chromium with a fresh profile. Requests leaving `origin` are aborted and listed in
 * `external`; page errors and console errors (but the 40x the browser reports for a
 * refused call the page handles) go to `problems`. `close()` also removes the profile.
 */
export async function launch(origin, executablePath = process.env.CHROMIUM || "/usr/bin/chromium") {
  const userDataDir = mkdtempSync(join(tmpdir(), "clinker-console-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
  });
  const problems = [];
  const external = [];
  // Nothing may leave the server's origin (no CDN, no fonts, no telemetry).
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) return route.continue();
    external.push(url);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/status of 40[0-9]/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, page, problems, external, close };
}
