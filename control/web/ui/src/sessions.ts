// The Sessions page: filter chips (status, type), user and resource search,
// keyset pagination, live updates from the session event stream. Every
// filter lives in the URL so that a view can be shared.
import { call, listSessions, onSessionEvent, type Session, type Whoami } from './api';
import { clear, h } from './dom';
import { bytes, dateTime } from './format';
import { showDuration } from './live';
import type { Page } from './main';
import { navigate } from './main';
import { errorBox, statusIndicator, typeBadge } from './widgets';
import { confirmKill } from './kill';

const statusChips = [
  ['active', 'Active'], ['completed', 'Completed'], ['failed', 'Failed'], ['terminated', 'Terminated'],
] as const;
const typeChips = [['ssh', 'SSH'], ['rdp', 'RDP'], ['db', 'DB'], ['http', 'HTTP']] as const;
const pageSize = 50;

interface Filters {
  status: string[];
  type: string[];
  user: string;
  resource: string;
  cursor: string;
}

function readFilters(): Filters {
  const q = new URLSearchParams(location.search);
  const list = (k: string) => (q.get(k) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { status: list('status'), type: list('type'), user: q.get('user') ?? '', resource: q.get('resource') ?? '', cursor: q.get('cursor') ?? '' };
}

function filterQuery(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.status.length) q.set('status', f.status.join(','));
  if (f.type.length) q.set('type', f.type.join(','));
  if (f.user) q.set('user', f.user);
  if (f.resource) q.set('resource', f.resource);
  if (f.cursor) q.set('cursor', f.cursor);
  return q;
}

function matches(f: Filters, s: Session): boolean {
  return (!f.status.length || f.status.includes(s.status)) &&
    (!f.type.length || f.type.includes(s.type)) &&
    (!f.user || s.user === f.user) &&
    (!f.resource || s.resource === f.resource);
}

export function sessionsPage(me: Whoami): Page {
  let f = readFilters();
  const rows = new Map<string, HTMLTableRowElement>();
  const tbody = h('tbody');
  const status = h('div', { class: 'list-status', role: 'status' });
  const next = h('button', { type: 'button', class: 'secondary', 'data-testid': 'next-page' }, 'Next page →');
  const first = h('button', { type: 'button', class: 'secondary' }, '← First page');
  let nextCursor = '';
  let loadSeq = 0;

  const chip = (group: 'status' | 'type', value: string, label: string) => {
    const b = h('button', { type: 'button', class: 'chip', 'data-chip': `${group}:${value}`, 'aria-pressed': String(f[group].includes(value)) }, label);
    b.addEventListener('click', () => {
      const set = new Set(f[group]);
      if (set.has(value)) set.delete(value); else set.add(value);
      f = { ...f, [group]: [...set], cursor: '' };
      apply(true);
    });
    return b;
  };
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filters' },
    h('span', { class: 'chip-label' }, 'Status'), ...statusChips.map(([v, l]) => chip('status', v, l)),
    h('span', { class: 'chip-sep', 'aria-hidden': 'true' }),
    h('span', { class: 'chip-label' }, 'Type'), ...typeChips.map(([v, l]) => chip('type', v, l)));

  const userIn = h('input', { id: 'search-user', type: 'search', value: f.user, list: 'users-list', placeholder: 'any user', autocomplete: 'off' });
  const resIn = h('input', { id: 'search-resource', type: 'search', value: f.resource, list: 'resources-list', placeholder: 'any resource', autocomplete: 'off' });
  const usersList = h('datalist', { id: 'users-list' });
  const resList = h('datalist', { id: 'resources-list' });
  let debounce = 0;
  for (const input of [userIn, resIn]) {
    input.addEventListener('input', () => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(() => {
        f = { ...f, user: userIn.value.trim(), resource: resIn.value.trim(), cursor: '' };
        apply(false);
      }, 300);
    });
  }
  const search = h('form', { class: 'search', role: 'search', onsubmit: (e: Event) => e.preventDefault() },
    h('label', { for: 'search-user' }, 'User'), userIn, usersList,
    h('label', { for: 'search-resource' }, 'Resource'), resIn, resList);

  // Suggestions for the search fields (users only for roles that may list them).
  call<{ name: string }[]>('GET', '/v1/resources').then((rs) => rs.forEach((r) => resList.append(h('option', { value: r.name })))).catch(() => {});
  if (me.role === 'admin') call<{ name: string }[]>('GET', '/v1/users').then((us) => us.forEach((u) => usersList.append(h('option', { value: u.name })))).catch(() => {});

  const table = h('table', { class: 'sessions', 'aria-label': 'Sessions' },
    h('thead', {}, h('tr', {}, ...['User', 'Type', 'Status', 'Duration', 'Data', 'Client IP', 'Started'].map((c) =>
      h('th', { scope: 'col', class: c === 'Duration' || c === 'Data' ? 'num' : '' }, c)),
      h('th', { scope: 'col', class: 'actions-cell' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);

  function row(s: Session): HTMLTableRowElement {
    const dur = h('td', { class: 'num duration' });
    showDuration(dur, s);
    const href = `/sessions/${s.id}`;
    const tr = h('tr', { 'data-id': s.id, 'data-status': s.status, 'data-type': s.type, class: 'clickable' },
      h('td', {}, h('a', { href, class: 'user' }, s.user), h('div', { class: 'sub' }, s.resource)),
      h('td', {}, typeBadge(s.type)),
      h('td', {}, statusIndicator(s)),
      dur,
      h('td', { class: 'num', title: `↑ ${s.bytes_up} bytes up, ↓ ${s.bytes_down} bytes down` },
        bytes(s.bytes_up + s.bytes_down), h('div', { class: 'sub' }, `↑ ${bytes(s.bytes_up)} ↓ ${bytes(s.bytes_down)}`)),
      h('td', { class: 'mono' }, s.client_ip || '—'),
      h('td', { class: 'nowrap' }, dateTime(s.created_at)),
      h('td', { class: 'actions-cell' }, me.role === 'admin' && (s.status === 'active' || s.status === 'pending')
        ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Terminate ${s.user}'s session to ${s.resource}`,
          onclick: () => confirmKill(s, replaceRow) }, 'Terminate')
        : ''));
    tr.addEventListener('click', (e) => {
      if ((e.target as Element).closest('a, button')) return;
      navigate(href);
    });
    return tr;
  }

  /** replaceRow shows a session's new state in its row (or drops the row when it no longer matches). */
  function replaceRow(s: Session) {
    const old = rows.get(s.id);
    if (!old) return;
    if (matches(f, s)) {
      const tr = row(s);
      old.replaceWith(tr);
      rows.set(s.id, tr);
    } else {
      old.remove();
      rows.delete(s.id);
    }
    emptyState();
  }

  function setRows(list: Session[]) {
    clear(tbody);
    rows.clear();
    for (const s of list) {
      const tr = row(s);
      rows.set(s.id, tr);
      tbody.append(tr);
    }
    emptyState();
  }

  function emptyState() {
    clear(status);
    if (rows.size === 0) status.append(h('p', { class: 'empty' }, 'No sessions match these filters.'));
  }

  async function load() {
    const seq = ++loadSeq;
    status.textContent = 'Loading…';
    const q = filterQuery(f);
    q.set('limit', String(pageSize));
    try {
      const page = await listSessions(q);
      if (seq !== loadSeq) return;
      setRows(page.sessions);
      nextCursor = page.next_cursor;
      next.disabled = !nextCursor;
      first.hidden = !f.cursor;
      table.setAttribute('data-loaded', String(seq));
    } catch (err) {
      if (seq !== loadSeq) return;
      clear(status);
      status.append(errorBox(err instanceof Error ? err.message : String(err)));
    }
  }

  function apply(push: boolean) {
    const q = filterQuery(f).toString();
    const url = '/sessions' + (q ? `?${q}` : '');
    if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
    for (const b of chips.querySelectorAll<HTMLButtonElement>('.chip')) {
      const [group, value] = b.dataset.chip!.split(':') as ['status' | 'type', string];
      b.setAttribute('aria-pressed', String(f[group].includes(value)));
    }
    load();
  }

  next.addEventListener('click', () => {
    if (!nextCursor) return;
    f = { ...f, cursor: nextCursor };
    apply(true);
    window.scrollTo(0, 0);
  });
  first.addEventListener('click', () => {
    f = { ...f, cursor: '' };
    apply(true);
  });

  const unsubscribe = onSessionEvent((ev) => {
    const s = ev.session;
    const old = rows.get(s.id);
    if (old) {
      if (matches(f, s)) {
        const tr = row(s);
        old.replaceWith(tr);
        rows.set(s.id, tr);
      } else {
        old.remove();
        rows.delete(s.id);
      }
    } else if (!f.cursor && matches(f, s)) {
      const tr = row(s);
      tr.classList.add('fresh');
      rows.set(s.id, tr);
      tbody.prepend(tr);
      while (rows.size > pageSize) {
        const last = tbody.lastElementChild as HTMLTableRowElement | null;
        if (!last) break;
        rows.delete(last.dataset.id!);
        last.remove();
      }
    }
    emptyState();
  }, () => load());

  const el = h('section', { class: 'page sessions-page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Sessions'), h('span', { class: 'live-note', title: 'updates arrive as sessions start and end' }, h('span', { class: 'dot pulse', 'aria-hidden': 'true' }), 'Live')),
    h('div', { class: 'toolbar' }, chips, search),
    h('div', { class: 'table-wrap' }, table),
    status,
    h('div', { class: 'pager' }, first, next));
  load();
  return { el, dispose: unsubscribe };
}
