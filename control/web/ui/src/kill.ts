// The Terminate confirmation (reason asked, sent with the kill), shared by
// the sessions list and the detail page.
import { killSession, type Session } from './api';
import { clear, h } from './dom';
import { errorBox } from './widgets';

/** confirmKill asks for a reason, terminates s and hands the ended session to done. */
export function confirmKill(s: Session, done: (ended: Session) => void) {
  const reason = h('textarea', { id: 'kill-reason', rows: 3, placeholder: 'why (kept with the session and told to the user)' });
  const err = h('div');
  const dlg = h('dialog', { class: 'card', 'aria-labelledby': 'kill-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'kill-title' }, 'Terminate this session?'),
      h('p', {}, `${s.user}'s ${s.type.toUpperCase()} session to ${s.resource} is disconnected at once.`),
      h('label', { for: 'kill-reason' }, 'Reason'),
      reason,
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dlg.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'danger', value: 'kill' }, 'Terminate session'))));
  dlg.querySelector('form')!.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    try {
      done(await killSession(s.id, reason.value.trim()));
      dlg.close();
    } catch (x) {
      err.append(errorBox(x instanceof Error ? x.message : String(x)));
    }
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  reason.focus();
}
