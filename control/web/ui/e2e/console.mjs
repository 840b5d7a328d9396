// End-to-end check of the web console in Debian's Chromium, driven by
// playwright-core (no browser download). Run by control/web's Go test
// (TestConsoleInChromium), which starts a real control + agent, makes
// sessions and passes them in the environment:
//
//   ONEPAM_URL        control's URL (https://127.0.0.1:PORT)
//   ONEPAM_TOKEN      an admin API token
//   ONEPAM_ACTIVE_ID  a live TCP session (its CLI runs in the Go test)
//   ONEPAM_DONE_ID    a completed TCP session with a connlog recording
//   ONEPAM_CLI        the onepam binary; ONEPAM_CONFIG selects its login
//   ONEPAM_RESOURCE   the TCP resource for a session started here
//   ONEPAM_CAST_ID, ONEPAM_QUERY_ID, ONEPAM_HAR_ID, ONEPAM_EXPIRED_ID
//                     finished sessions with an asciicast ("first screen" at
//                     1 s, "second screen" at 5 s), query log, HAR and an
//                     expired recording
//   ONEPAM_DESK_ID    a finished VNC session with a synthetic deskproto
//                     recording: red at 1 s, #3366cc from 12 s to the end
//                     at 20 s, keyframes every 2 s
//   (the seeded user carol, an auditor, logs in with password "wonderland 42")
//   ONEPAM_SCREENSHOTS directory for sessions.png and session-detail.png
//                     (and session-*.png, settings-access.png)
//   CHROMIUM          the browser (default /usr/bin/chromium)
//
// Each check prints "ok <name>"; the first failure prints "FAIL <name>:
// <why>" and exits 1.
import { check, env, fail, launch, poll } from './harness.mjs';
import { spawn } from 'node:child_process';
import path from 'node:path';

const base = env('ONEPAM_URL');
const token = env('ONEPAM_TOKEN');
const activeID = env('ONEPAM_ACTIVE_ID');
const doneID = env('ONEPAM_DONE_ID');
const shots = process.env.ONEPAM_SCREENSHOTS || '';

const { context, page, close } = await launch();
context.setDefaultTimeout(15000);
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

const row = (id) => page.locator(`tr[data-id="${id}"]`);
const rowIDs = () => page.$$eval('table.sessions tbody tr', (trs) => trs.map((t) => ({ id: t.dataset.id, status: t.dataset.status, type: t.dataset.type })));
/** waitLoaded waits for a list load after the one seen before. */
async function waitLoaded(before) {
  await poll('the list to load', async () => {
    const v = await page.locator('table.sessions').getAttribute('data-loaded');
    return v !== null && v !== before;
  });
}
const loadedMark = () => page.locator('table.sessions').getAttribute('data-loaded');

// Settings → Recording Access (GET/PUT /v1/settings/recording-access).
const accessCard = page.getByTestId('access-card');
const usersOwnBox = accessCard.getByLabel('Users may replay, export and search their own sessions\' recordings');
const accessSave = accessCard.getByRole('button', { name: 'Save' });
const accessLoaded = () => page.locator('[data-testid="access-card"][data-loaded="true"]').waitFor();
const accessNow = () => accessCard.getByTestId('access-current').innerText();
/** fetchAPI calls the API from the page with its cookie (and CSRF token for a state change). */
const fetchAPI = (p, method = 'GET', body) => page.evaluate(async ({ p, method, body }) => {
  const csrf = document.cookie.split('; ').find((c) => c.startsWith('onepam_csrf='))?.slice(12) ?? '';
  const r = await fetch(p, { method, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) }, body: body && JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, text, json: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
}, { p, method, body });
const csrfCookie = () => page.evaluate(() => document.cookie.split('; ').find((c) => c.startsWith('onepam_csrf='))?.slice(12) ?? '');
const setCSRFCookie = (v) => page.evaluate((v) => { document.cookie = `onepam_csrf=${v}; path=/; secure; samesite=strict`; }, v);

let extra = null; // the session started from here for the live update check
try {
  await check('login page and refused token', async () => {
    await page.goto(`${base}/sessions?status=active`);
    await page.getByLabel('API token').fill('opt_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown token' }).waitFor();
  });

  await check('login', async () => {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const cookies = await context.cookies();
    const sess = cookies.find((c) => c.name === 'onepam_session');
    if (!sess || !sess.httpOnly || !sess.secure || sess.sameSite !== 'Strict') fail(`session cookie ${JSON.stringify(sess)}`);
    if (!page.url().endsWith('/sessions?status=active')) fail(`URL after login ${page.url()}`);
  });

  await check('the list shows the sessions', async () => {
    await page.goto(`${base}/sessions`);
    await row(activeID).waitFor();
    await row(doneID).waitFor();
    const a = row(activeID);
    if ((await a.getAttribute('data-status')) !== 'active') fail('the live session is not active');
    const cells = await a.locator('td').allInnerTexts();
    if (cells.length !== 8 || !/TCP/.test(cells[1]) || !/Active/.test(cells[2]) || !/127\.0\.0\.1/.test(cells[5])) fail(`row cells ${JSON.stringify(cells)}`);
    const doneCells = await row(doneID).locator('td').allInnerTexts();
    if (!/Completed/.test(doneCells[2]) || !/\d+ B/.test(doneCells[4])) fail(`completed row cells ${JSON.stringify(doneCells)}`);
  });

  await check('an active session pulses', async () => {
    const dot = row(activeID).locator('.status-active .dot.pulse');
    if ((await dot.count()) !== 1) fail('no pulsing dot on the active row');
    const anim = await dot.evaluate((el) => getComputedStyle(el, '::after').animationName);
    if (anim !== 'pulse') fail(`animation ${anim}`);
    if ((await row(doneID).locator('.dot.pulse').count()) !== 0) fail('a completed row pulses');
  });

  await check('an active session\'s duration ticks', async () => {
    const cell = row(activeID).locator('td.duration');
    const first = await cell.innerText();
    await poll(`the duration to move on from ${first}`, async () => (await cell.innerText()) !== first, 5000);
    const doneCell = row(doneID).locator('td.duration');
    const d1 = await doneCell.innerText();
    await page.waitForTimeout(1200);
    if ((await doneCell.innerText()) !== d1) fail('a completed session\'s duration ticks');
  });

  if (shots) {
    await page.screenshot({ path: path.join(shots, 'sessions.png'), fullPage: false });
  }

  const chips = [
    ['status', 'active', activeID], ['status', 'completed', doneID], ['status', 'failed', null], ['status', 'terminated', null],
    ['type', 'ssh', null], ['type', 'rdp', null], ['type', 'db', null], ['type', 'http', null],
  ];
  for (const [group, value, expectID] of chips) {
    await check(`chip ${group}=${value} filters and the URL round-trips`, async () => {
      await page.goto(`${base}/sessions`);
      await row(doneID).waitFor();
      const before = await loadedMark();
      const chip = page.locator(`[data-chip="${group}:${value}"]`);
      await chip.click();
      await waitLoaded(before);
      if ((await chip.getAttribute('aria-pressed')) !== 'true') fail('chip not pressed');
      const url = new URL(page.url());
      if (url.searchParams.get(group) !== value) fail(`URL ${page.url()}`);
      const rows = await rowIDs();
      for (const r of rows) if (r[group] !== value) fail(`row ${r.id} has ${group} ${r[group]}`);
      if (expectID && !rows.some((r) => r.id === expectID)) fail(`session ${expectID} missing`);
      if (!expectID && rows.some((r) => r.id === activeID || r.id === doneID)) fail('a TCP session passed the filter');
      if (rows.length === 0 && !(await page.getByText('No sessions match these filters.').isVisible())) fail('no empty state');
      // The same URL opened afresh shows the same view.
      await page.goto(url.toString());
      await page.locator('table.sessions[data-loaded]').waitFor();
      if ((await page.locator(`[data-chip="${group}:${value}"]`).getAttribute('aria-pressed')) !== 'true') fail('chip not pressed after reload');
      const again = await rowIDs();
      if (JSON.stringify(again.map((r) => r.id)) !== JSON.stringify(rows.map((r) => r.id))) fail('reloaded URL shows other rows');
      // Pressing it again removes the filter.
      const b2 = await loadedMark();
      await page.locator(`[data-chip="${group}:${value}"]`).click();
      await waitLoaded(b2);
      if (new URL(page.url()).searchParams.has(group)) fail(`URL still filtered: ${page.url()}`);
    });
  }

  await check('two chips combine', async () => {
    await page.goto(`${base}/sessions?status=active,completed&type=ssh`);
    await page.locator('table.sessions[data-loaded]').waitFor();
    for (const c of ['status:active', 'status:completed', 'type:ssh']) {
      if ((await page.locator(`[data-chip="${c}"]`).getAttribute('aria-pressed')) !== 'true') fail(`${c} not pressed`);
    }
    const rows = await rowIDs();
    if (rows.some((r) => r.type !== 'ssh' || !['active', 'completed'].includes(r.status))) fail(`rows ${JSON.stringify(rows)}`);
    if (!rows.some((r) => r.id === env('ONEPAM_CAST_ID'))) fail('the completed SSH session is missing');
  });

  await check('search by user and resource', async () => {
    await page.goto(`${base}/sessions`);
    await row(doneID).waitFor();
    let before = await loadedMark();
    await page.getByLabel('User').fill('nobody');
    await waitLoaded(before);
    if ((await rowIDs()).length !== 0) fail('user=nobody shows rows');
    if (new URL(page.url()).searchParams.get('user') !== 'nobody') fail(`URL ${page.url()}`);
    before = await loadedMark();
    await page.getByLabel('User').fill('admin');
    await waitLoaded(before);
    before = await loadedMark();
    await page.getByLabel('Resource').fill(env('ONEPAM_RESOURCE'));
    await waitLoaded(before);
    const rows = await rowIDs();
    if (!rows.some((r) => r.id === doneID)) fail('user=admin&resource= misses the session');
    await page.goto(`${base}/sessions?resource=nope`);
    await page.locator('table.sessions[data-loaded]').waitFor();
    if ((await page.getByLabel('Resource').inputValue()) !== 'nope' || (await rowIDs()).length !== 0) fail('resource=nope from the URL');
  });

  await check('live: a new session appears and ends without reload', async () => {
    await page.goto(`${base}/sessions`);
    await row(doneID).waitFor();
    await page.waitForTimeout(300); // let the event stream connect
    const ids = new Set((await rowIDs()).map((r) => r.id));
    extra = spawn(env('ONEPAM_CLI'), ['tcp', 'connect', env('ONEPAM_RESOURCE'), '--listen', '127.0.0.1:0'], { stdio: 'ignore' });
    const fresh = await poll('a new row', async () => (await rowIDs()).find((r) => !ids.has(r.id) && r.status === 'active'));
    extra.kill('SIGINT');
    await poll('the new row to end', async () => (await row(fresh.id).getAttribute('data-status')) === 'completed');
  });

  await check('detail page with the connection log', async () => {
    await page.goto(`${base}/sessions`);
    await row(doneID).locator('a.user').click();
    await page.waitForURL(`${base}/sessions/${doneID}`);
    await page.getByRole('heading', { name: 'Information' }).waitFor();
    const table = page.getByTestId('recording-table');
    await table.waitFor();
    const events = await table.locator('tbody tr td:nth-child(2)').allInnerTexts();
    if (!events.includes('open') || !events.includes('close')) fail(`connlog events ${JSON.stringify(events)}`);
    await page.getByLabel('Filter').fill('close');
    const filtered = await table.locator('tbody tr td:nth-child(2)').allInnerTexts();
    if (filtered.length === 0 || filtered.some((e) => e !== 'close')) fail(`filtered events ${JSON.stringify(filtered)}`);
    await page.getByLabel('Filter').fill('');
    const tl = await page.locator('ol.timeline li strong').allInnerTexts();
    if (JSON.stringify(tl) !== JSON.stringify(['created', 'started', 'completed'])) fail(`timeline ${JSON.stringify(tl)}`);
    if (!/B/.test(await page.getByTestId('metric-data').innerText())) fail('no data metric');
    // Verify: control checks the agent-signed recording's chain.
    await page.getByRole('button', { name: 'Verify' }).click();
    const verdict = page.getByTestId('verify-result');
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="verify-result"]')?.textContent ?? '';
      return t !== '' && !t.startsWith('verifying');
    }, null, { timeout: 10000 });
    if (!(await verdict.innerText()).startsWith('✓')) fail(`verify verdict ${await verdict.innerText()}`);
    if (shots) await page.screenshot({ path: path.join(shots, 'session-detail.png'), fullPage: true });
  });

  await check('a #t= link selects the time in the recording', async () => {
    await page.goto(`${base}/sessions/${doneID}#t=0`);
    await page.locator('[data-testid="recording-table"] tbody tr.current').waitFor();
  });

  await check('asciicast plays and a #t= link seeks', async () => {
    await page.goto(`${base}/sessions/${env('ONEPAM_CAST_ID')}#t=6`);
    const screen = page.getByTestId('cast-player');
    await poll('the second screen at t=6', async () => {
      const text = await screen.innerText();
      return text.includes('second screen') && !text.includes('first screen');
    });
    await page.evaluate(() => { location.hash = '#t=2'; });
    await poll('the first screen after seeking to t=2', async () => (await screen.innerText()).includes('first screen'));
    if ((await page.getByLabel('Speed').count()) !== 1) fail('no speed control');
    if (shots) await page.screenshot({ path: path.join(shots, 'session-ssh.png'), fullPage: true });
  });

  await check('query log as a table', async () => {
    await page.goto(`${base}/sessions/${env('ONEPAM_QUERY_ID')}`);
    const table = page.getByTestId('recording-table');
    await table.waitFor();
    const text = await table.innerText();
    for (const want of ['select 1', 'update accounts set plan', '["pro",42]', 'relation "missing" does not exist']) {
      if (!text.includes(want)) fail(`query log table lacks ${want}`);
    }
    await page.getByLabel('Filter').fill('update');
    if ((await table.locator('tbody tr').count()) !== 1) fail('filter "update" does not leave one row');
  });

  await check('HAR as a request table with a waterfall', async () => {
    await page.goto(`${base}/sessions/${env('ONEPAM_HAR_ID')}`);
    const table = page.getByTestId('recording-table');
    await table.waitFor();
    const rows = await table.locator('tbody tr').count();
    if (rows < 2) fail(`${rows} request rows`);
    if ((await table.locator('tbody .wf-bar').count()) !== rows) fail('not one waterfall bar per request');
    if (!(await table.innerText()).includes('http://app.test:8080/base/search')) fail('request URL missing');
    if (shots) await page.screenshot({ path: path.join(shots, 'session-http.png'), fullPage: true });
  });

  await check('deskproto plays on a canvas and seeks via keyframes', async () => {
    const canvas = page.getByTestId('desk-canvas');
    const centre = () => page.evaluate(() => {
      const c = document.querySelector('[data-testid="desk-canvas"]');
      const d = c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
      return '#' + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
    });
    const attr = async (k) => parseFloat(await canvas.getAttribute(`data-${k}`));
    await page.goto(`${base}/sessions/${env('ONEPAM_DESK_ID')}`);
    await canvas.waitFor();
    await page.getByLabel('Speed').selectOption('4');
    await page.getByTestId('desk-play').click();
    await poll('playback to reach the end', async () => (await canvas.getAttribute('data-playing')) === 'false' && (await attr('t')) >= 20, 20000);
    if ((await centre()) !== '#3366cc') fail(`centre at the end is ${await centre()}`);
    const seekTo = (t) => page.locator('#desk-seek').evaluate((el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }, t);
    await seekTo(5);
    if ((await centre()) !== '#cc3333') fail(`centre at 5 s is ${await centre()}`);
    const from5 = await attr('from');
    if (!(from5 > 0 && from5 <= 5)) fail(`seeking to 5 s decoded from ${from5} s, not from a keyframe`);
    await seekTo(15);
    if ((await centre()) !== '#3366cc') fail(`centre at 15 s is ${await centre()}`);
    const from15 = await attr('from');
    if (!(from15 >= 12 && from15 <= 15)) fail(`seeking to 15 s decoded from ${from15} s`);
    if ((await attr('applied')) > 12) fail(`seeking to 15 s applied ${await attr('applied')} events`);
    await page.goto(`${base}/sessions/${env('ONEPAM_DESK_ID')}#t=16`);
    await poll('the #t= link to seek', async () => (await canvas.count()) === 1 && (await attr('t')) >= 16);
    if ((await centre()) !== '#3366cc') fail(`centre after #t=16 is ${await centre()}`);
    if (!((await attr('from')) >= 12)) fail(`#t=16 decoded from ${await attr('from')} s`);
    if (shots) await page.screenshot({ path: path.join(shots, 'session-vnc.png'), fullPage: true });
  });

  await check('expired recording shows the retention notice', async () => {
    await page.goto(`${base}/sessions/${env('ONEPAM_EXPIRED_ID')}`);
    const notice = page.getByTestId('retention-notice');
    await notice.waitFor();
    if (!/expired/.test(await notice.innerText()) || !/Upgrade/.test(await notice.innerText())) fail(await notice.innerText());
    if ((await page.getByTestId('cast-player').count()) !== 0) fail('a player for an expired recording');
  });

  await check('settings: recording access shows the current value to an admin', async () => {
    await page.goto(`${base}/sessions`);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Recording Access' }).waitFor();
    await accessLoaded();
    const got = await fetchAPI('/v1/settings/recording-access');
    if (got.status !== 200 || got.json?.users_own !== true) fail(`GET answered ${got.status} ${got.text} (want the default, users_own true)`);
    if (!(await usersOwnBox.isChecked())) fail('the switch is off while the setting is on');
    if (!(await usersOwnBox.isEnabled())) fail('an admin cannot change the switch');
    if ((await accessCard.getAttribute('data-users-own')) !== 'true') fail(`data-users-own ${await accessCard.getAttribute('data-users-own')}`);
    if (!/users may replay, export and search the recordings of their own sessions/.test(await accessNow())) fail(`status line ${await accessNow()}`);
    if (!(await accessSave.isDisabled())) fail('Save offered without a change');
    if (!/audit log/.test(await accessCard.innerText())) fail('the card does not say that reads are audited');
    // The storage card is still there, above.
    await page.locator('[data-loaded] [data-testid="storage-current"]').waitFor();
  });

  await check('settings: a refused save shows the error and changes nothing', async () => {
    await usersOwnBox.uncheck();
    if (!(await accessSave.isEnabled())) fail('Save not offered after a change');
    const csrf = await csrfCookie();
    if (!csrf) fail('no CSRF cookie');
    await setCSRFCookie('wrong');
    try {
      await accessSave.click();
      await accessCard.getByRole('alert').filter({ hasText: 'CSRF token' }).waitFor();
    } finally {
      await setCSRFCookie(csrf);
    }
    if (await usersOwnBox.isChecked()) fail('the switch went back on after the refusal');
    if (!(await accessSave.isEnabled())) fail('Save not offered again after the refusal');
    if ((await accessCard.getAttribute('data-users-own')) !== 'true') fail('the card shows a setting control refused');
    const got = await fetchAPI('/v1/settings/recording-access');
    if (got.json?.users_own !== true) fail(`a refused save changed the setting: ${got.text}`);
  });

  await check('settings: an admin switches recording access off and saves', async () => {
    await accessSave.click();
    await accessCard.getByTestId('access-result').filter({ hasText: 'Saved' }).waitFor();
    if ((await accessCard.getAttribute('data-users-own')) !== 'false') fail(`data-users-own ${await accessCard.getAttribute('data-users-own')} after saving`);
    if ((await accessCard.getByRole('alert').count()) !== 0) fail('the error box stays after a save');
    if (!/only administrators and auditors read recordings/.test(await accessNow())) fail(`status line ${await accessNow()}`);
    if (!(await accessSave.isDisabled())) fail('Save still offered after saving');
    await page.reload();
    await accessLoaded();
    if (await usersOwnBox.isChecked()) fail('the switch is on again after a reload');
    if (!/only administrators and auditors read recordings/.test(await accessNow())) fail(`status line after a reload ${await accessNow()}`);
    const got = await fetchAPI('/v1/settings/recording-access');
    if (got.status !== 200 || got.json?.users_own !== false) fail(`GET after saving answered ${got.status} ${got.text}`);
    if (shots) await page.screenshot({ path: path.join(shots, 'settings-access.png'), fullPage: true });
  });

  await check('CSRF: a state-changing call with the cookie but without the token is refused', async () => {
    await page.goto(`${base}/sessions/${activeID}`);
    await page.getByRole('button', { name: 'Terminate' }).waitFor();
    const res = await page.evaluate(async (id) => {
      const r = await fetch(`/v1/sessions/${id}/kill`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"reason":"forged"}' });
      return { status: r.status, body: await r.text() };
    }, activeID);
    if (res.status !== 403 || !res.body.includes('X-CSRF-Token')) fail(`answer ${res.status} ${res.body}`);
    if ((await page.locator('.detail-page').getAttribute('data-status')) !== 'active') fail('session not active any more');
  });

  await check('terminate from the detail page', async () => {
    const dur = page.getByTestId('metric-duration');
    const d0 = await dur.innerText();
    await poll('the detail duration to tick', async () => (await dur.innerText()) !== d0, 5000);
    await page.getByRole('button', { name: 'Terminate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('web console test');
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    await poll('the page to show Terminated', async () => (await page.locator('.detail-page').getAttribute('data-status')) === 'terminated');
    const info = await page.locator('dl.info').innerText();
    if (!info.includes('web console test')) fail(`information lacks the reason: ${info}`);
    if ((await page.getByRole('button', { name: 'Terminate' }).count()) !== 0) fail('Terminate still offered');
  });

  await check('logout', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    const status = await page.evaluate(async () => (await fetch('/v1/whoami')).status);
    if (status !== 401) fail(`whoami after logout: ${status}`);
  });

  await check('login by user and password', async () => {
    await page.getByLabel('User name').fill('carol');
    await page.getByLabel('Password').fill('not it');
    await page.getByRole('button', { name: 'Sign in with password' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong user name or password' }).waitFor();
    await page.getByLabel('Password').fill('wonderland 42');
    await page.getByRole('button', { name: 'Sign in with password' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const who = await page.evaluate(async () => (await fetch('/v1/whoami')).json());
    if (who.user !== 'carol' || who.role !== 'auditor') fail(`whoami ${JSON.stringify(who)}`);
    const sess = (await context.cookies()).find((c) => c.name === 'onepam_session');
    if (!sess || !sess.httpOnly || !sess.secure || sess.sameSite !== 'Strict') fail(`session cookie ${JSON.stringify(sess)}`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
  });

  await check('settings: an auditor sees recording access read-only', async () => {
    await page.getByLabel('User name').fill('carol');
    await page.getByLabel('Password').fill('wonderland 42');
    await page.getByRole('button', { name: 'Sign in with password' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await page.goto(`${base}/settings`);
    await accessLoaded();
    if (await usersOwnBox.isChecked()) fail('the auditor sees the switch on; the admin turned it off');
    if (!(await usersOwnBox.isDisabled())) fail('the auditor can flip the switch');
    if ((await accessSave.count()) !== 0) fail('Save offered to an auditor');
    await accessCard.getByTestId('access-readonly').waitFor();
    if (!/only administrators and auditors read recordings/.test(await accessNow())) fail(`status line ${await accessNow()}`);
    const put = await fetchAPI('/v1/settings/recording-access', 'PUT', { users_own: true });
    if (put.status !== 403) fail(`an auditor's PUT answered ${put.status} ${put.text}`);
    const got = await fetchAPI('/v1/settings/recording-access');
    if (got.status !== 200 || got.json?.users_own !== false) fail(`GET as the auditor answered ${got.status} ${got.text}`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
  });

  await check('no script errors', async () => {
    const real = consoleErrors.filter((e) => !/status of 40[13]/.test(e));
    if (real.length) fail(real.join('\n'));
  });
} catch (err) {
  console.log(`FAIL ${err.message}`);
  process.exitCode = 1;
} finally {
  if (extra && extra.exitCode === null) extra.kill('SIGKILL');
  await close();
}
