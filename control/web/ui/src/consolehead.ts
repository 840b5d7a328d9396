// The head of a console page (terminal, desktop, SQL): who is connected to
// what, the session's live status, a link to its detail page and a
// Disconnect button while it runs.
import { getSession, onSessionEvent, type Session } from './api';
import { clear, h } from './dom';
import { errorBox, statusIndicator, typeBadge } from './widgets';

export interface ConsoleHead {
  el: HTMLElement;
  session(): Session | null;
  refresh(): void;
  dispose(): void;
}

export function consoleHead(id: string, disconnect: () => void, onChange?: (s: Session) => void): ConsoleHead {
  const el = h('div', { class: 'page-head console-head' });
  let current: Session | null = null;

  function render(s: Session) {
    current = s;
    clear(el);
    const running = s.status === 'active' || s.status === 'pending';
    el.setAttribute('data-status', s.status);
    el.append(
      h('div', {},
        h('a', { href: '/resources', class: 'back' }, '← Resources'),
        h('h1', {}, `${s.login ? s.login + '@' : ''}${s.resource} `, typeBadge(s.type), ' ', statusIndicator(s))),
      h('div', { class: 'head-actions' },
        h('a', { href: `/sessions/${s.id}`, class: 'button secondary' }, 'Session details'),
        running ? h('button', { type: 'button', class: 'secondary', onclick: disconnect }, 'Disconnect') : ''));
    if (s.status === 'terminated') {
      el.append(h('p', { class: 'notice', 'data-testid': 'terminated-notice' },
        `Terminated by ${s.terminated_by || 'an administrator'}${s.terminate_reason ? `: “${s.terminate_reason}”` : ''}.`));
    } else if (s.status === 'failed' && s.error) {
      el.append(errorBox(s.error));
    }
    onChange?.(s);
  }

  const refresh = () => { getSession(id).then(render).catch((err) => { clear(el); el.append(errorBox(err instanceof Error ? err.message : String(err))); }); };
  const unsubscribe = onSessionEvent((ev) => { if (ev.session.id === id) render({ ...ev.session, timeline: null }); }, refresh);
  refresh();
  return { el, session: () => current, refresh, dispose: unsubscribe };
}
