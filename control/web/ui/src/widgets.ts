// Shared pieces of the pages: type badges, status indicators.
import type { Session } from './api';
import { h } from './dom';
import { statusLabel, typeLabel } from './format';

export function typeBadge(t: string): HTMLElement {
  return h('span', { class: `badge type-${t}` }, typeLabel[t] ?? t.toUpperCase());
}

/** statusIndicator is a status label; active ones get a pulsing dot. */
export function statusIndicator(s: Pick<Session, 'status'>): HTMLElement {
  return h('span', { class: `status status-${s.status}`, 'data-status': s.status },
    h('span', { class: s.status === 'active' ? 'dot pulse' : 'dot', 'aria-hidden': 'true' }),
    statusLabel[s.status] ?? s.status);
}

export function errorBox(msg: string): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, msg);
}
