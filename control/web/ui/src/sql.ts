// The database console: SQL typed here runs through the gateway on the
// session's database connection (POST /v1/sessions/{id}/query); every
// statement lands in the session's query log. Leaving the page ends the
// session.
import { type Session } from './api';
import { endQuery, runQuery, type QueryResult } from './consoleapi';
import { consoleHead } from './consolehead';
import { clear, h } from './dom';
import type { Page } from './main';
import { errorBox } from './widgets';

export function sqlPage(id: string): Page {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    void endQuery(id).finally(() => head.refresh());
  };
  const head = consoleHead(id, end, (s: Session) => {
    const running = s.status === 'active' || s.status === 'pending';
    run.disabled = !running;
    if (!running) ended = true;
  });
  const editor = h('textarea', { id: 'sql-text', class: 'sql-editor', rows: 6, spellcheck: 'false', placeholder: 'select now();' });
  const run = h('button', { type: 'button', class: 'primary' }, 'Run');
  const meta = h('div', { class: 'sql-meta', role: 'status', 'data-testid': 'sql-meta' });
  const result = h('div', { class: 'sql-result' });

  async function execute() {
    const text = editor.value.trim();
    if (!text) return;
    run.disabled = true;
    meta.textContent = 'Running…';
    clear(result);
    try {
      show(await runQuery(id, text));
    } catch (err) {
      meta.textContent = '';
      result.append(errorBox(err instanceof Error ? err.message : String(err)));
    } finally {
      const s = head.session();
      run.disabled = !!s && s.status !== 'active' && s.status !== 'pending';
    }
  }

  function show(r: QueryResult) {
    const ms = (r.duration_seconds * 1000).toFixed(r.duration_seconds < 0.01 ? 2 : 0);
    meta.textContent = [r.command_tag, r.columns.length ? `${r.row_count} row${r.row_count === 1 ? '' : 's'}` : '', `${ms} ms`].filter(Boolean).join(' · ');
    if (r.error) result.append(errorBox(`${r.error_code ? r.error_code + ': ' : ''}${r.error}`));
    if (r.columns.length) {
      result.append(h('div', { class: 'table-wrap' },
        h('table', { class: 'records sql-table', 'data-testid': 'sql-result' },
          h('thead', {}, h('tr', {}, ...r.columns.map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...r.rows.map((row) => h('tr', {}, ...row.map((v) => v === null ? h('td', { class: 'null' }, 'NULL') : h('td', {}, v))))))));
      if (r.truncated) result.append(h('p', { class: 'muted' }, `Showing the first ${r.rows.length} of ${r.row_count} rows.`));
    }
  }

  run.addEventListener('click', execute);
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void execute();
    }
  });
  const onUnload = () => { if (!ended) { ended = true; void endQuery(id); } };
  window.addEventListener('pagehide', onUnload);
  const el = h('section', { class: 'page console-page sql-page' }, head.el,
    h('div', { class: 'card' },
      h('label', { for: 'sql-text' }, 'SQL'), editor,
      h('div', { class: 'sql-actions' }, run, h('span', { class: 'muted' }, 'Ctrl+Enter runs · up to 1,000 rows are shown · every statement is recorded in the query log'))),
    meta, result);
  requestAnimationFrame(() => editor.focus());
  return {
    el,
    dispose: () => {
      window.removeEventListener('pagehide', onUnload);
      onUnload();
      head.dispose();
    },
  };
}
