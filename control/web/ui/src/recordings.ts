// Recording players, one per format: asciicast in asciinema-player; the
// connection log, query log and HAR as filterable tables (HAR with a
// waterfall). Every player can seek to a time (the page's #t=SECONDS).
import * as AsciinemaPlayer from 'asciinema-player';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { fetchRecording, recordingURL, type Session } from './api';
import { deskPlayer } from './deskplayer';
import { clear, h } from './dom';
import { bytes, offset } from './format';
import { errorBox } from './widgets';

export interface Player {
  seek(t: number): void;
  dispose(): void;
}

/** recordingPlayer fills box with the player of s's recording format. */
export function recordingPlayer(s: Session, box: HTMLElement, startAt?: number): Player {
  switch (s.recording.format) {
    case 'asciicast':
      return castPlayer(s, box, startAt);
    case 'connlog':
      return tablePlayer(s, box, startAt, connlogColumns, 'connection log');
    case 'querylog':
      return tablePlayer(s, box, startAt, querylogColumns, 'query log');
    case 'har':
      return harPlayer(s, box, startAt);
    case 'deskproto':
      return deskPlayer(s, box, startAt);
    default:
      box.append(h('p', { class: 'muted' }, `The ${s.recording.format} recording cannot be played in the browser yet: use Export to download it.`));
      return { seek() {}, dispose() {} };
  }
}

// ---- asciicast ----

function castPlayer(s: Session, box: HTMLElement, startAt?: number): Player {
  let player: ReturnType<typeof AsciinemaPlayer.create> | null = null;
  const speed = h('select', { id: 'cast-speed' }, ...['0.5', '1', '1.5', '2', '4', '8'].map((v) => h('option', { value: v, selected: v === '1' }, `${v}×`)));
  // A #t= link names a time of the real recording: idle skipping (which
  // shortens the timeline) starts off then.
  const idle = h('input', { id: 'cast-idle', type: 'checkbox', checked: startAt === undefined });
  const screen = h('div', { class: 'cast', 'data-testid': 'cast-player' });
  const make = (at?: number) => {
    player?.dispose();
    clear(screen);
    player = AsciinemaPlayer.create({ url: recordingURL(s.id), fetchOpts: { credentials: 'same-origin' } }, screen, {
      startAt: at,
      speed: parseFloat(speed.value),
      idleTimeLimit: idle.checked ? 2 : undefined,
      fit: 'width',
      preload: true,
      autoPlay: at !== undefined,
      terminalFontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
    });
  };
  const remake = () => make(player ? player.getCurrentTime() : startAt);
  speed.addEventListener('change', remake);
  idle.addEventListener('change', remake);
  box.append(
    h('div', { class: 'player-controls' },
      h('label', { for: 'cast-speed' }, 'Speed'), speed,
      h('label', { class: 'check' }, idle, ' Skip idle time (> 2 s)'),
      h('span', { class: 'muted' }, 'Keys: space play/pause · ← → seek 5 s · 0–9 jump · . step')),
    screen);
  make(startAt);
  return {
    seek: (t) => { void player?.seek(t); },
    dispose: () => player?.dispose(),
  };
}

// ---- tables (connlog, querylog) ----

interface Column {
  label: string;
  value: (e: any) => string;
  cls?: string;
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

const connlogColumns: Column[] = [
  { label: 'Time', value: (e) => offset(num(e.t)), cls: 'mono' },
  { label: 'Event', value: (e) => String(e.event ?? '') },
  { label: 'Conn', value: (e) => String(e.conn ?? ''), cls: 'num' },
  { label: 'Peer', value: (e) => String(e.peer ?? ''), cls: 'mono' },
  { label: 'Target', value: (e) => String(e.target ?? ''), cls: 'mono' },
  { label: 'Up', value: (e) => bytes(num(e.bytes_up)), cls: 'num' },
  { label: 'Down', value: (e) => bytes(num(e.bytes_down)), cls: 'num' },
  { label: 'Duration', value: (e) => (e.duration === undefined ? '' : `${num(e.duration).toFixed(3)} s`), cls: 'num' },
  { label: 'Error', value: (e) => String(e.error ?? ''), cls: 'error-text' },
];

const querylogColumns: Column[] = [
  { label: 'Time', value: (e) => offset(num(e.t)), cls: 'mono' },
  { label: 'Conn', value: (e) => String(e.conn ?? ''), cls: 'num' },
  { label: 'Kind', value: (e) => String(e.kind ?? '') },
  { label: 'Database', value: (e) => String(e.database ?? '') },
  { label: 'Statement', value: (e) => String(e.statement ?? ''), cls: 'mono statement' },
  { label: 'Params', value: (e) => (Array.isArray(e.params) ? JSON.stringify(e.params) : ''), cls: 'mono' },
  { label: 'Rows', value: (e) => String(e.rows ?? ''), cls: 'num' },
  { label: 'Duration', value: (e) => `${(num(e.duration) * 1000).toFixed(2)} ms`, cls: 'num' },
  { label: 'Error', value: (e) => String(e.error ?? ''), cls: 'error-text' },
];

const maxRows = 5000;

/** parseLines decodes JSON lines, skipping (and counting) bad ones. */
function parseLines(text: string): { entries: any[]; bad: number } {
  const entries: any[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object') entries.push(v); else bad++;
    } catch {
      bad++;
    }
  }
  return { entries, bad };
}

function loadingInto(box: HTMLElement) {
  const p = h('p', { class: 'muted' }, 'Loading the recording…');
  box.append(p);
  return p;
}

/**
 * recordTable renders entries as a table with a filter box; the returned
 * seek highlights the first row at or after a time.
 */
function recordTable(box: HTMLElement, entries: any[], columns: Column[], what: string, time: (e: any) => number, extra?: (e: any) => Node) {
  const filter = h('input', { id: 'rec-filter', type: 'search', size: 32, placeholder: `filter the ${what}`, autocomplete: 'off' });
  const count = h('span', { class: 'muted', role: 'status' });
  const tbody = h('tbody');
  const table = h('table', { class: 'records', 'data-testid': 'recording-table', 'aria-label': what },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', class: c.cls?.includes('num') ? 'num' : '' }, c.label)), extra ? h('th', { scope: 'col', class: 'wf-head' }, 'Waterfall') : null)),
    tbody);
  const texts = entries.map((e) => columns.map((c) => c.value(e)).join(' ').toLowerCase());
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    clear(tbody);
    let shown = 0;
    let matched = 0;
    entries.forEach((e, i) => {
      if (q && !texts[i].includes(q)) return;
      matched++;
      if (shown >= maxRows) return;
      shown++;
      tbody.append(h('tr', { 'data-t': String(time(e)) },
        ...columns.map((c) => h('td', { class: c.cls ?? '' }, c.value(e))),
        extra ? h('td', { class: 'wf' }, extra(e)) : null));
    });
    count.textContent = `${matched} of ${entries.length} entries` + (matched > shown ? ` (first ${shown} shown)` : '');
  };
  filter.addEventListener('input', draw);
  box.append(h('div', { class: 'player-controls' }, h('label', { for: 'rec-filter' }, 'Filter'), filter, count), h('div', { class: 'table-wrap' }, table));
  draw();
  return (t: number) => {
    tbody.querySelectorAll('tr.current').forEach((r) => r.classList.remove('current'));
    for (const r of tbody.querySelectorAll<HTMLTableRowElement>('tr')) {
      if (parseFloat(r.dataset.t!) >= t) {
        r.classList.add('current');
        r.scrollIntoView({ block: 'center' });
        break;
      }
    }
  };
}

function tablePlayer(s: Session, box: HTMLElement, startAt: number | undefined, columns: Column[], what: string): Player {
  let seek: ((t: number) => void) | null = null;
  let disposed = false;
  const loading = loadingInto(box);
  fetchRecording(s.id).then((text) => {
    if (disposed) return;
    loading.remove();
    const { entries, bad } = parseLines(text);
    if (bad) box.append(h('p', { class: 'muted' }, `${bad} malformed line(s) skipped.`));
    seek = recordTable(box, entries, columns, what, (e) => num(e.t));
    if (startAt !== undefined) seek(startAt);
  }).catch((err) => { loading.remove(); box.append(errorBox(err.message)); });
  return { seek: (t) => seek?.(t), dispose: () => { disposed = true; } };
}

// ---- HAR ----

function harPlayer(s: Session, box: HTMLElement, startAt?: number): Player {
  let seek: ((t: number) => void) | null = null;
  let disposed = false;
  const loading = loadingInto(box);
  fetchRecording(s.id).then((text) => {
    if (disposed) return;
    loading.remove();
    let entries: any[] = [];
    try {
      entries = JSON.parse(text)?.log?.entries ?? [];
    } catch (err) {
      box.append(errorBox(`malformed HAR: ${err}`));
      return;
    }
    const starts = entries.map((e) => Date.parse(e.startedDateTime));
    const t0 = Math.min(...starts.filter(isFinite));
    let total = 1;
    entries.forEach((e, i) => { total = Math.max(total, starts[i] - t0 + num(e.time)); });
    const columns: Column[] = [
      { label: 'Time', value: (e) => (typeof e._t === 'number' ? offset(e._t) : offset((Date.parse(e.startedDateTime) - t0) / 1000)), cls: 'mono' },
      { label: 'Method', value: (e) => String(e.request?.method ?? '') },
      { label: 'URL', value: (e) => String(e.request?.url ?? ''), cls: 'mono url' },
      { label: 'Status', value: (e) => String(e.response?.status ?? ''), cls: 'num' },
      { label: 'Type', value: (e) => String(e.response?.content?.mimeType ?? '').split(';')[0] },
      { label: 'Size', value: (e) => bytes(Math.max(0, num(e.response?.content?.size))), cls: 'num' },
      { label: 'Duration', value: (e) => `${Math.round(num(e.time))} ms`, cls: 'num' },
    ];
    const bar = (e: any) => {
      const start = Date.parse(e.startedDateTime) - t0;
      const left = (start / total) * 100;
      const width = Math.max((num(e.time) / total) * 100, 0.5);
      return h('div', { class: 'wf-track', title: `${Math.round(start)} ms → +${Math.round(num(e.time))} ms` },
        h('div', { class: `wf-bar${num(e.response?.status) >= 400 ? ' wf-err' : ''}`, style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%` }));
    };
    seek = recordTable(box, entries, columns, 'HTTP requests', (e) => (typeof e._t === 'number' ? e._t : (Date.parse(e.startedDateTime) - t0) / 1000), bar);
    if (startAt !== undefined) seek(startAt);
  }).catch((err) => { loading.remove(); box.append(errorBox(err.message)); });
  return { seek: (t) => seek?.(t), dispose: () => { disposed = true; } };
}
