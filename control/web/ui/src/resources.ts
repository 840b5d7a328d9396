// The Resources page: what the agents serve, with a Connect button for the
// types the browser has a console for (SSH terminal, VNC viewer, database
// console). Connect creates the session (policy is checked then) and opens
// its console page.
import { type Whoami } from './api';
import { consolePath, createSession, listResources, type Resource } from './consoleapi';
import { clear, h } from './dom';
import type { Page } from './main';
import { navigate } from './main';
import { errorBox, typeBadge } from './widgets';

const loginKey = (r: string) => `onepam.login.${r}`;

export function resourcesPage(_me: Whoami): Page {
  const tbody = h('tbody');
  const status = h('div', { class: 'list-status', role: 'status' }, 'Loading…');
  const table = h('table', { class: 'resources', 'aria-label': 'Resources' },
    h('thead', {}, h('tr', {}, ...['Name', 'Type', 'Protocol', 'Agent', 'Status', 'Address', ''].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);

  function row(r: Resource): HTMLTableRowElement {
    const canConnect = r.online && ['ssh', 'vnc', 'db'].includes(r.type);
    return h('tr', { 'data-resource': r.name, 'data-type': r.type },
      h('td', {}, h('strong', {}, r.name), r.description ? h('div', { class: 'sub' }, r.description) : ''),
      h('td', {}, typeBadge(r.type)),
      h('td', { class: 'mono' }, r.protocol || '—'),
      h('td', {}, r.agent || '—'),
      h('td', {}, h('span', { class: `status ${r.online ? 'status-active' : 'status-completed'}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), r.online ? 'Online' : 'Offline')),
      h('td', { class: 'mono' }, r.address || '—'),
      h('td', { class: 'actions-cell' }, canConnect
        ? h('button', { type: 'button', class: 'primary small', 'aria-label': `Connect to ${r.name}`, onclick: () => connectDialog(r) }, 'Connect')
        : ''));
  }

  async function load() {
    try {
      const rs = await listResources();
      clear(tbody);
      rs.forEach((r) => tbody.append(row(r)));
      clear(status);
      if (rs.length === 0) status.append(h('p', { class: 'empty' }, 'No resources yet: an agent announces them when it connects.'));
      table.setAttribute('data-loaded', 'true');
    } catch (err) {
      clear(status);
      status.append(errorBox(err instanceof Error ? err.message : String(err)));
    }
  }
  load();
  return {
    el: h('section', { class: 'page resources-page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Resources')),
      h('div', { class: 'table-wrap' }, table), status),
  };
}

/** connectDialog asks for the login (ssh) or database (db), then opens the console. */
function connectDialog(r: Resource) {
  const err = h('div');
  const fields: HTMLElement[] = [];
  let login: HTMLInputElement | null = null;
  let database: HTMLInputElement | null = null;
  if (r.type === 'ssh') {
    login = h('input', { id: 'connect-login', required: true, value: localStorage.getItem(loginKey(r.name)) ?? '', placeholder: 'e.g. root', autocomplete: 'off' });
    fields.push(h('label', { for: 'connect-login' }, 'Login'), login);
  }
  if (r.type === 'db') {
    login = h('input', { id: 'connect-login', value: localStorage.getItem(loginKey(r.name)) ?? '', placeholder: 'the resource\'s default user', autocomplete: 'off' });
    database = h('input', { id: 'connect-database', placeholder: 'the resource\'s default database', autocomplete: 'off' });
    fields.push(h('label', { for: 'connect-login' }, 'Database user'), login, h('label', { for: 'connect-database' }, 'Database'), database);
  }
  const what = r.type === 'ssh' ? 'web terminal' : r.type === 'vnc' ? 'desktop viewer' : 'database console';
  const dlg = h('dialog', { class: 'card', 'aria-labelledby': 'connect-title' },
    h('form', { method: 'dialog', class: 'stack' },
      h('h2', { id: 'connect-title' }, `Connect to ${r.name}`),
      h('p', { class: 'muted' }, `Opens the ${what} in this browser. The session is recorded like any other.`),
      ...fields,
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary' }, 'Connect'))));
  dlg.querySelector('form')!.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    try {
      const l = login?.value.trim() ?? '';
      if (login) localStorage.setItem(loginKey(r.name), l);
      const s = await createSession(r.name, l, database?.value.trim() ?? '');
      dlg.close();
      navigate(consolePath(s.id, s.type));
    } catch (x) {
      err.append(errorBox(x instanceof Error ? x.message : String(x)));
    }
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  (login ?? dlg.querySelector<HTMLButtonElement>('button.primary'))?.focus();
}
