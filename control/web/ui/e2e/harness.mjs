// Shared pieces of the console's browser checks (console.mjs,
// consoles.mjs, bench.mjs): environment, check/fail/poll reporting, and
// Debian's Chromium launched the way this machine needs (no downloads, no
// background networking, a fresh profile).
import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** env returns a required environment variable. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

let current = 'setup';

/** fail ends the current check with why. */
export function fail(why) {
  throw new Error(`${current}: ${why}`);
}

/** check runs one named check and prints "ok NAME" when it passes. */
export async function check(name, fn) {
  current = name;
  await fn();
  console.log(`ok ${name}`);
}

/** poll calls fn until it returns a truthy value (timeout ms at most). */
export async function poll(what, fn, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) fail(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** launch starts Chromium with a new profile; close() removes it. */
export async function launch(options = {}) {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'onepam-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: true,
    viewport: { width: 1360, height: 860 },
    colorScheme: 'light',
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  };
  return { context, page, close };
}
