// The session detail page: metrics, information, timeline, the recording
// in a player for its format, and Terminate for administrators.
import { getSession, onSessionEvent, recordingURL, verifyRecording, type Session, type Whoami } from './api';
import { confirmKill } from './kill';
import { fileActivity } from './files';
import { clear, h } from './dom';
import { bytes, dateTime, statusLabel } from './format';
import { showDuration } from './live';
import type { Page } from './main';
import { recordingPlayer, type Player } from './recordings';
import { liveView } from './termlive';
import { errorBox, statusIndicator, typeBadge } from './widgets';

/** hashTime reads "#t=90" (seconds, fractional allowed) from the URL. */
export function hashTime(): number | undefined {
  const m = location.hash.match(/(?:^#|&)t=(\d+(?:\.\d+)?)/);
  return m ? parseFloat(m[1]) : undefined;
}

export function detailPage(me: Whoami, id: string): Page {
  const el = h('section', { class: 'page detail-page' }, h('p', {}, 'Loading…'));
  let player: Player | null = null;
  let session: Session | null = null;
  let shownRecordingState = '';
  const head = h('div', { class: 'page-head' });
  const metrics = h('div', { class: 'metrics' });
  const info = h('dl', { class: 'info' });
  const timeline = h('ol', { class: 'timeline' });
  const recording = h('div', { class: 'recording' });

  function metric(label: string, value: Node | string, testid: string) {
    return h('div', { class: 'metric card', 'data-testid': testid }, h('div', { class: 'metric-label' }, label), h('div', { class: 'metric-value' }, value));
  }

  function render(s: Session) {
    session = s;
    el.setAttribute('data-status', s.status);
    clear(head);
    const canKill = me.role === 'admin' && (s.status === 'active' || s.status === 'pending');
    head.append(
      h('div', {}, h('a', { href: '/sessions', class: 'back' }, '← Sessions'),
        h('h1', {}, `${s.user} → ${s.resource} `, typeBadge(s.type), ' ', statusIndicator(s))),
      canKill ? h('button', { type: 'button', class: 'danger', onclick: () => confirmKill(s, render) }, 'Terminate') : '');

    clear(metrics);
    const dur = h('span', { class: 'duration' });
    showDuration(dur, s);
    metrics.append(
      metric('Duration', dur, 'metric-duration'),
      metric('Data transferred', h('span', {}, bytes(s.bytes_up + s.bytes_down), h('small', {}, ` ↑ ${bytes(s.bytes_up)} ↓ ${bytes(s.bytes_down)}`)), 'metric-data'),
      metric('Client IP', s.client_ip || '—', 'metric-ip'),
      metric('Started', dateTime(s.started_at ?? s.created_at), 'metric-started'));

    clear(info);
    const row = (k: string, v: Node | string) => info.append(h('dt', {}, k), h('dd', {}, v));
    row('Session ID', h('code', {}, s.id));
    row('User', s.user);
    row('Type', typeBadge(s.type));
    row('Resource', s.resource);
    row('Agent', s.agent || '—');
    if (s.login) row('Login', s.login);
    row('Status', statusLabel[s.status] ?? s.status);
    row('Created', dateTime(s.created_at));
    row('Ended', dateTime(s.ended_at));
    if (s.error) row('Error', h('span', { class: 'error-text' }, s.error));
    if (s.terminated_by) row('Terminated by', s.terminated_by + (s.terminate_reason ? ` — “${s.terminate_reason}”` : ''));
    row('Recording', `${s.recording.format || '—'} · ${s.recording.state}${s.recording.size ? ' · ' + bytes(s.recording.size) : ''}`);

    clear(timeline);
    for (const ev of s.timeline ?? []) {
      timeline.append(h('li', { class: `tl tl-${ev.status}` },
        h('time', { datetime: ev.time }, dateTime(ev.time)), ' ',
        h('strong', {}, ev.event),
        ev.actor ? ` by ${ev.actor}` : '',
        ev.detail ? h('span', { class: 'detail' }, ` — ${ev.detail}`) : ''));
    }

    // The player is (re)built only when the recording's state changes.
    const recKey = `${s.recording.state}/${s.recording.available}/${s.status}`;
    if (recKey !== shownRecordingState) {
      shownRecordingState = recKey;
      player?.dispose();
      player = null;
      clear(recording);
      recording.append(recordingSection(s));
    }
  }

  function recordingSection(s: Session): Node {
    const rec = s.recording;
    if (s.status === 'active' && (s.type === 'ssh' || s.type === 'vnc' || s.type === 'rdp')) return liveSection(s);
    if (rec.state === 'expired') {
      return h('div', { class: 'notice', 'data-testid': 'retention-notice' },
        h('strong', {}, 'This recording has expired. '),
        'It was deleted under the recording retention policy. Upgrade your plan to keep recordings longer.');
    }
    if (!rec.available || rec.state === 'none') {
      return h('p', { class: 'muted' }, s.status === 'active' || s.status === 'pending'
        ? 'The recording appears here as soon as the agent uploads it.'
        : `No recording is available for this session (state: ${rec.state}).`);
    }
    const box = h('div', { class: 'player-box' });
    player = recordingPlayer(s, box, hashTime());
    return h('div', {},
      h('div', { class: 'recording-head' },
        h('span', { class: 'muted' }, `${rec.format} · ${rec.state} · ${bytes(rec.size)}`),
        h('a', { href: recordingURL(s.id), download: `${s.id}.${ext(rec.format)}`, class: 'button secondary' }, 'Export'),
        verifyButton(s)),
      box);
  }

  // verifyButton checks the recording's hash chain and signature on
  // control and shows the verdict next to the button.
  function verifyButton(s: Session): Node {
    const out = h('span', { class: 'verify-result', 'data-testid': 'verify-result', role: 'status' });
    const btn = h('button', { class: 'button secondary', type: 'button' }, 'Verify') as HTMLButtonElement;
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      out.textContent = 'verifying…';
      try {
        const v = await verifyRecording(s.id);
        out.textContent = (v.intact ? '✓ ' : '✗ ') + v.message;
        out.className = 'verify-result ' + (v.intact ? 'ok' : 'bad');
      } catch (e) {
        out.textContent = `verify failed: ${(e as Error).message}`;
        out.className = 'verify-result bad';
      } finally {
        btn.disabled = false;
      }
    });
    return h('span', { class: 'verify' }, btn, out);
  }

  // liveSection shows an active session as it happens; when the watch
  // stream ends (the session ended) the session is fetched again until it
  // is no longer active, which swaps in the recorded player.
  function liveSection(s: Session): Node {
    const box = h('div', { class: 'player-box' });
    const view = liveView(s, box);
    let stopped = false;
    player = { seek() {}, dispose: () => { stopped = true; view.dispose(); } };
    view.ended.then(async () => {
      for (let i = 0; i < 60 && !stopped; i++) {
        try {
          const now = await getSession(id);
          if (stopped) return;
          if (now.status !== 'active') { render(now); return; }
        } catch {
          // try again
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    });
    return h('div', { 'data-testid': 'live-view' },
      h('div', { class: 'recording-head' },
        h('span', { class: 'badge live-badge', 'data-testid': 'live-badge' }, 'Live'),
        h('span', { class: 'muted' }, ` ${s.type === 'ssh' ? 'terminal' : 'desktop'} · read-only`)),
      box);
  }

  async function load() {
    try {
      const s = await getSession(id);
      clear(el);
      el.append(head, metrics,
        h('div', { class: 'columns' },
          h('section', { class: 'card', 'aria-labelledby': 'info-h' }, h('h2', { id: 'info-h' }, 'Information'), info),
          h('section', { class: 'card', 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timeline)),
        h('section', { class: 'card', 'aria-labelledby': 'rec-h' }, h('h2', { id: 'rec-h' }, 'Recording'), recording),
        s.type === 'ssh' ? fileActivity(s.id) : '');
      render(s);
    } catch (err) {
      clear(el);
      el.append(h('a', { href: '/sessions', class: 'back' }, '← Sessions'), errorBox(err instanceof Error ? err.message : String(err)));
    }
  }

  const onHash = () => {
    const t = hashTime();
    if (t !== undefined) player?.seek(t);
  };
  window.addEventListener('hashchange', onHash);
  const unsubscribe = onSessionEvent((ev) => {
    if (ev.session.id !== id || !session) return;
    // The event carries no timeline: fetch the whole session again.
    getSession(id).then(render).catch(() => render({ ...ev.session, timeline: session!.timeline }));
  }, () => { if (session) getSession(id).then(render).catch(() => {}); });
  load();
  return {
    el,
    dispose: () => {
      unsubscribe();
      window.removeEventListener('hashchange', onHash);
      player?.dispose();
    },
  };
}

function ext(format: string): string {
  return ({ asciicast: 'cast', har: 'har', connlog: 'jsonl', querylog: 'jsonl', deskproto: 'dpr' } as Record<string, string>)[format] ?? 'bin';
}
