// Figures of the web console in Debian's Chromium (run by control/web's
// BenchmarkConsole, which starts control on a store seeded with many
// sessions and an agent serving the built-in SSH target "shell"):
//
//   - sessions page first render: navigation start → the first page of
//     rows in the table (assets cached after the first load), N runs;
//   - filter change: a chip's click → the filtered rows shown, N runs;
//   - web terminal keystroke echo: a byte sent on the terminal WebSocket
//     → its echo back from the remote PTY, through control and the agent.
//
// Environment: ONEPAM_URL, ONEPAM_TOKEN, ONEPAM_LOGIN, CHROMIUM,
// ONEPAM_RUNS (default 15), ONEPAM_KEYS (default 300). Prints one JSON
// line: {"first_render_ms": [...], "filter_ms": [...], "echo_ms": [...]}.
import { launch } from './harness.mjs';

const base = process.env.ONEPAM_URL;
const runs = Number(process.env.ONEPAM_RUNS || 15);
const keys = Number(process.env.ONEPAM_KEYS || 300);
const { context, page, close } = await launch();
context.setDefaultTimeout(60000);
const out = { first_render_ms: [], filter_ms: [], echo_ms: [] };
try {
  await page.goto(`${base}/sessions`);
  await page.getByLabel('API token').fill(process.env.ONEPAM_TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('table.sessions[data-loaded] tbody tr').first().waitFor();

  // Marks the time the first rows appear, measured from navigation start.
  await page.addInitScript(() => {
    new MutationObserver((_, obs) => {
      const t = document.querySelector('table.sessions[data-loaded]');
      if (t && t.querySelector('tbody tr')) {
        window.__rowsAt = performance.now();
        obs.disconnect();
      }
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
  for (let i = 0; i < runs; i++) {
    await page.goto(`${base}/sessions`);
    await page.waitForFunction(() => window.__rowsAt !== undefined);
    out.first_render_ms.push(await page.evaluate(() => window.__rowsAt));
  }
  for (let i = 0; i < runs; i++) {
    const chip = i % 2 === 0 ? 'status:terminated' : 'type:rdp';
    await page.goto(`${base}/sessions`);
    await page.waitForFunction(() => window.__rowsAt !== undefined);
    const ms = await page.evaluate((chip) => new Promise((resolve) => {
      const table = document.querySelector('table.sessions');
      const before = table.getAttribute('data-loaded');
      const t0 = performance.now();
      new MutationObserver((_, obs) => {
        if (table.getAttribute('data-loaded') !== before) {
          obs.disconnect();
          resolve(performance.now() - t0);
        }
      }).observe(table, { attributes: true });
      document.querySelector(`[data-chip="${chip}"]`).click();
    }), chip);
    out.filter_ms.push(ms);
  }

  // Keystroke echo on a web terminal session (the WebSocket the page uses).
  out.echo_ms = await page.evaluate(async ({ login, keys }) => {
    const csrf = decodeURIComponent(document.cookie.split('; ').find((c) => c.startsWith('onepam_csrf=')).slice(12));
    const r = await fetch('/v1/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ resource: 'shell', login }) });
    const s = await r.json();
    const ws = new WebSocket(`wss://${location.host}/v1/sessions/${s.id}/terminal?cols=80&rows=24&csrf=${encodeURIComponent(csrf)}`);
    ws.binaryType = 'arraybuffer';
    let buf = '';
    let waiter = null;
    const dec = new TextDecoder();
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') return;
      buf += dec.decode(new Uint8Array(ev.data));
      if (waiter && buf.includes(waiter.want)) { const w = waiter; waiter = null; w.resolve(); }
    };
    const until = (want) => new Promise((resolve) => { if (buf.includes(want)) resolve(); else waiter = { want, resolve }; });
    await new Promise((res) => { ws.onopen = res; });
    ws.send(new TextEncoder().encode('stty -icanon; cat >/dev/null\r'));
    await new Promise((res) => setTimeout(res, 500));
    const xs = [];
    for (let i = 0; i < keys; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      buf = '';
      const t0 = performance.now();
      ws.send(new TextEncoder().encode(ch));
      await until(ch);
      xs.push(performance.now() - t0);
    }
    ws.close();
    return xs;
  }, { login: process.env.ONEPAM_LOGIN, keys });
  console.log(JSON.stringify(out));
} catch (err) {
  console.log(`FAIL ${err.message}`);
  process.exitCode = 1;
} finally {
  await close();
}
