// Browser checks of a published app (control/apps) in Debian's Chromium,
// driven by playwright-core. Run by e2e/apps_test.go (TestPublishedAppInChromium),
// which starts control, an agent serving resource "web" (a Go upstream) and
// passes in the environment:
//
//   ONEPAM_APP_URL    the app's published URL, https://web.localhost:PORT
//   ONEPAM_TOKEN      an admin API token
//   ONEPAM_BOB_TOKEN  the token of bob, a user no policy rule allows
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// Chromium resolves *.localhost to the loopback address itself; control's
// certificate is its own CA's (ignoreHTTPSErrors). Each check prints
// "ok <name>". After the checks of the first session it prints
// "cookie <app cookie>" (for the Go test's curl download) and "ready", then
// waits for a line on stdin: the Go test kills the session meanwhile.
import { check, env, fail, launch } from './harness.mjs';
import { createInterface } from 'node:readline';

const app = env('ONEPAM_APP_URL');
const token = env('ONEPAM_TOKEN');
const bobToken = env('ONEPAM_BOB_TOKEN');
const appHost = new URL(app).host;
const consoleOrigin = `https://${appHost.replace(/^[^.]+\./, '')}`;
const stdin = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => stdin.once('line', resolve));

const { context, page, close } = await launch();
context.setDefaultTimeout(20000);
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));

/** loginWithToken fills the console's token form. */
async function loginWithToken(p, t) {
  await p.getByLabel('API token').fill(t);
  await p.getByRole('button', { name: 'Log in' }).click();
}

let bob = null;
try {
  await check('an app without login goes to the console login page', async () => {
    await page.goto(`${app}/`);
    await page.waitForURL((u) => u.origin === consoleOrigin && u.pathname === '/login' && u.searchParams.get('app') === 'web');
    await page.getByText('to open web').waitFor();
  });

  await check('login brings back to the app page', async () => {
    await loginWithToken(page, token);
    await page.waitForURL(`${app}/`);
    await page.getByRole('heading', { name: 'Hello from the upstream' }).waitFor();
    const cookies = await context.cookies(app);
    const c = cookies.find((k) => k.name === 'onepam_app');
    if (!c || !c.httpOnly || !c.secure || c.sameSite !== 'Lax' || c.domain !== new URL(app).hostname) {
      fail(`app cookie ${JSON.stringify(c)}: want host-only, HttpOnly, Secure, SameSite=Lax`);
    }
    const consoleCookies = await context.cookies(consoleOrigin);
    if (consoleCookies.some((k) => k.name === 'onepam_app')) fail('the app cookie reached the console host');
  });

  await check('the upstream sees the user', async () => {
    const who = await page.evaluate(async () => (await fetch('/whoami')).text());
    if (who !== 'admin') fail(`X-OnePAM-User ${JSON.stringify(who)}`);
  });

  await check('a form post logs in to the upstream (its cookie, redirect)', async () => {
    await page.goto(`${app}/form`);
    await page.getByLabel('Password').fill(process.env.ONEPAM_UPSTREAM_PASSWORD || 'e2e-hunter2');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${app}/`);
    const cookie = await page.evaluate(() => document.cookie);
    if (!cookie.includes('sid=')) fail(`the upstream's cookie is missing: ${cookie}`);
    if (cookie.includes('onepam_app')) fail('the app cookie is readable by scripts');
  });

  await check('the JSON API', async () => {
    const got = await page.evaluate(async () => {
      const r = await fetch('/api/echo', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ n: 42, s: 'é' }) });
      return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
    });
    if (got.status !== 200 || got.type !== 'application/json' || got.body.n !== 42 || got.body.s !== 'é') fail(JSON.stringify(got));
  });

  await check('the WebSocket echo', async () => {
    const got = await page.evaluate(() => new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://${location.host}/ws`);
      const seen = [];
      ws.onopen = () => { ws.send('hello from chromium'); ws.send('second'); };
      ws.onmessage = (e) => { seen.push(e.data); if (seen.length === 2) { ws.close(); resolve(seen); } };
      ws.onerror = () => reject(new Error('WebSocket error'));
      setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
    }));
    if (got.join('|') !== 'hello from chromium|second') fail(JSON.stringify(got));
  });

  const cookie = (await context.cookies(app)).find((k) => k.name === 'onepam_app');
  console.log(`cookie ${cookie.value}`);
  console.log('ready');
  await nextLine(); // the Go test downloads with curl and kills the session

  await check('after a kill the next request gets the session terminated page', async () => {
    const resp = await page.goto(`${app}/whoami`);
    if (resp.status() !== 410) fail(`status ${resp.status()}`);
    await page.getByRole('heading', { name: 'Session terminated' }).waitFor();
    await page.getByText('e2e kill').waitFor();
  });

  await check('signing in again starts over', async () => {
    await page.getByRole('link', { name: 'Sign in again' }).click();
    // The console login is still valid: the console sends the browser straight back.
    await page.waitForURL(`${app}/`);
    await page.getByRole('heading', { name: 'Hello from the upstream' }).waitFor();
  });

  await check('logout of the app', async () => {
    await page.goto(`${app}/_onepam/logout`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Logged out' }).waitFor();
    const c = (await context.cookies(app)).find((k) => k.name === 'onepam_app');
    if (c) fail('the app cookie is still there');
  });

  await check('a user without policy gets the 403 page', async () => {
    bob = await launch();
    bob.context.setDefaultTimeout(20000);
    await bob.page.goto(`${app}/`);
    await bob.page.waitForURL((u) => u.pathname === '/login');
    await loginWithToken(bob.page, bobToken);
    await bob.page.getByRole('heading', { name: 'Access denied' }).waitFor();
    const text = await bob.page.textContent('body');
    if (!text.includes('policy denies user "bob"')) fail(text);
    const resp = await bob.page.reload();
    if (resp.status() !== 403) fail(`status ${resp.status()}`);
  });

  await check('no page errors', async () => {
    if (pageErrors.length) fail(pageErrors.join('\n'));
  });
} catch (err) {
  console.log(`FAIL ${err.message}`);
  process.exitCode = 1;
} finally {
  stdin.close();
  if (bob) await bob.close();
  await close();
}
