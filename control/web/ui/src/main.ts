// OnePAM web console: boot, login, layout and routing (history API:
// /sessions, /sessions/{id}, the hash #t=SECONDS selects a recording time;
// /resources; the consoles /sessions/{id}/terminal|desktop|sql, whose code
// (xterm.js, noVNC) is loaded on first use).
import './style.css';
import './consoles.css';
import '@xterm/xterm/css/xterm.css';
import { APIError, login, loginPassword, logout, whoami, type Whoami } from './api';
import { clear, h } from './dom';
import { sessionsPage } from './sessions';
import { resourcesPage } from './resources';
import { settingsPage } from './settings';
import { detailPage } from './detail';
import { errorBox } from './widgets';
import { launch, pendingLaunch } from './applaunch';

export interface Page {
  el: HTMLElement;
  dispose?: () => void;
}

const app = document.getElementById('app')!;
let me: Whoami | null = null;
let current: Page | null = null;

/** navigate shows the page of path (pushing it onto the history). */
export function navigate(path: string, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function route() {
  if (!me) return;
  current?.dispose?.();
  current = null;
  const main = document.getElementById('main')!;
  clear(main);
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const m = path.match(/^\/sessions\/([0-9a-fA-F-]{36})$/);
  const cm = path.match(/^\/sessions\/([0-9a-fA-F-]{36})\/(terminal|desktop|sql)$/);
  if (path === '/' || path === '/sessions') {
    if (path === '/') history.replaceState(null, '', '/sessions' + location.search);
    current = sessionsPage(me);
    document.title = 'Sessions · OnePAM';
  } else if (m) {
    current = detailPage(me, m[1].toLowerCase());
    document.title = 'Session · OnePAM';
  } else if (path === '/settings' || path === '/settings/recording-storage') {
    current = settingsPage(me);
    document.title = 'Settings · OnePAM';
  } else if (path === '/resources') {
    current = resourcesPage(me);
    document.title = 'Resources · OnePAM';
  } else if (cm) {
    const [id, kind] = [cm[1].toLowerCase(), cm[2]];
    current = lazyPage(async () => {
      if (kind === 'terminal') return (await import('./terminal')).terminalPage(id);
      if (kind === 'desktop') return (await import('./desktop')).desktopPage(id);
      return (await import('./sql')).sqlPage(id);
    });
    document.title = `${kind === 'sql' ? 'Database console' : kind === 'desktop' ? 'Desktop' : 'Terminal'} · OnePAM`;
  } else {
    current = { el: h('section', {}, h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '/sessions' }, 'Go to sessions'))) };
  }
  main.append(current.el);
  main.focus({ preventScroll: true });
}

/** lazyPage shows a page whose module is loaded on demand. */
function lazyPage(load: () => Promise<Page>): Page {
  const el = h('div', { class: 'lazy' }, h('p', { class: 'muted' }, 'Loading…'));
  let page: Page | null = null;
  let disposed = false;
  load().then((p) => {
    if (disposed) {
      p.dispose?.();
      return;
    }
    page = p;
    el.replaceWith(p.el);
  }).catch((err) => {
    clear(el);
    el.append(errorBox(`cannot load this page: ${err instanceof Error ? err.message : err}`));
  });
  return { el, dispose: () => { disposed = true; page?.dispose?.(); } };
}

function shell(w: Whoami) {
  clear(app);
  const out = h('button', { type: 'button', class: 'link', onclick: async () => {
    try { await logout(); } catch { /* the cookie is gone either way */ }
    location.href = '/';
  } }, 'Log out');
  app.append(
    h('header', { class: 'top' },
      h('a', { href: '/sessions', class: 'brand' }, 'OnePAM'),
      h('nav', { 'aria-label': 'Main' }, h('a', { href: '/sessions', class: 'nav-link' }, 'Sessions'), h('a', { href: '/resources', class: 'nav-link' }, 'Resources'),
        w.role !== 'user' ? h('a', { href: '/settings/recording-storage', class: 'nav-link' }, 'Settings') : ''),
      h('span', { class: 'spacer' }),
      h('span', { class: 'who', title: `role ${w.role}` }, `${w.user} · ${w.role}`),
      out),
    h('main', { id: 'main', tabindex: '-1' }),
  );
  route();
}

function loginView(message = '') {
  clear(app);
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'opt_…', spellcheck: 'false' });
  const status = h('div', { class: 'login-status' });
  if (message) status.append(errorBox(message));
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in to OnePAM'),
    pendingLaunch() ? h('p', { class: 'hint app-launch' }, `to open ${pendingLaunch()!.app}`) : '',
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { class: 'hint' }, 'Create one with ', h('code', {}, 'onepam tokens create'), ' (or use the admin token printed at the first start).'),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(status);
    try {
      await login(input.value.trim());
      await start();
    } catch (err) {
      status.append(errorBox(err instanceof Error ? err.message : String(err)));
    }
  });
  app.append(h('main', { class: 'login-page' }, form, passwordForm()));
  input.focus();
}

/** passwordForm logs in with a user name and the password set by `onepam users passwd`. */
function passwordForm() {
  const user = h('input', { id: 'login-user', name: 'username', type: 'text', autocomplete: 'username', required: true, spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { class: 'login-status' });
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-pw-title' },
    h('h2', { id: 'login-pw-title' }, 'Or with your account'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    h('p', { class: 'hint' }, 'An admin sets it with ', h('code', {}, 'onepam users passwd NAME'), '.'),
    h('button', { type: 'submit', class: 'secondary' }, 'Sign in with password'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(status);
    try {
      await loginPassword(user.value.trim(), pass.value);
      await start();
    } catch (err) {
      status.append(errorBox(err instanceof Error ? err.message : String(err)));
    }
  });
  return form;
}

async function start() {
  try {
    me = await whoami();
  } catch (err) {
    me = null;
    if (err instanceof APIError && err.status === 401) {
      loginView();
      return;
    }
    clear(app);
    app.append(errorBox(`cannot reach control: ${err instanceof Error ? err.message : err}`));
    return;
  }
  const pl = pendingLaunch();
  if (pl) {
    // Opened by a published app's login redirect: go back to it.
    clear(app);
    const box = h('main', { class: 'login-page' }, h('p', { class: 'muted' }, `Opening ${pl.app}…`));
    app.append(box);
    try {
      await launch(pl);
    } catch (err) {
      box.append(errorBox(`cannot open ${pl.app}: ${err instanceof Error ? err.message : err}`), h('p', {}, h('a', { href: '/sessions' }, 'Go to the console')));
    }
    return;
  }
  shell(me);
}

// Same-origin links navigate inside the console.
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/v1/')) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // hash only
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', route);

start();
