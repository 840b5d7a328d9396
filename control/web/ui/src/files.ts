// File activity of a session (GET /v1/sessions/{id}/files?op=): SFTP and
// scp transfers reported by the agent, including the web terminal's
// uploads and downloads, in a table filterable by operation.
import { call } from './api';
import { clear, h } from './dom';
import { bytes, dateTime } from './format';
import { errorBox } from './widgets';

export interface FileEvent {
  time: string;
  protocol: string;
  op: string;
  path: string;
  path2?: string;
  bytes: number;
  result: string;
  error?: string;
}

const ops = ['upload', 'download', 'delete', 'rename', 'mkdir', 'rmdir', 'setstat', 'symlink', 'list'];

/** fileActivity returns a section listing a session's file operations. */
export function fileActivity(id: string): HTMLElement {
  const select = h('select', { id: 'file-op' }, h('option', { value: '' }, 'All operations'), ...ops.map((o) => h('option', { value: o }, o)));
  const body = h('div', { 'data-testid': 'file-activity' }, h('p', { class: 'muted' }, 'Loading…'));
  async function load() {
    const q = select.value ? `?op=${encodeURIComponent(select.value)}` : '';
    try {
      const evs = await call<FileEvent[]>('GET', `/v1/sessions/${encodeURIComponent(id)}/files${q}`);
      clear(body);
      if (evs.length === 0) {
        body.append(h('p', { class: 'muted' }, select.value ? `No ${select.value} operations.` : 'No file activity in this session.'));
      } else {
        body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'records files-table' },
          h('thead', {}, h('tr', {}, ...['Time', 'Protocol', 'Operation', 'Path', 'Size', 'Result'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...evs.map((e) => h('tr', { 'data-op': e.op },
            h('td', { class: 'nowrap' }, dateTime(e.time)),
            h('td', {}, e.protocol),
            h('td', {}, e.op),
            h('td', { class: 'mono' }, e.path, e.path2 ? ` → ${e.path2}` : ''),
            h('td', { class: 'num' }, e.bytes ? bytes(e.bytes) : '—'),
            h('td', { class: e.result === 'ok' ? '' : 'error-text' }, e.result === 'ok' ? 'ok' : e.error || e.result)))))));
      }
      body.setAttribute('data-loaded', select.value || 'all');
    } catch (err) {
      clear(body);
      body.append(errorBox(err instanceof Error ? err.message : String(err)));
    }
  }
  select.addEventListener('change', load);
  load();
  return h('section', { class: 'card', 'aria-labelledby': 'files-h' },
    h('div', { class: 'recording-head' }, h('h2', { id: 'files-h' }, 'File activity'),
      h('span', {}, h('label', { for: 'file-op' }, 'Operation '), select)),
    body);
}
