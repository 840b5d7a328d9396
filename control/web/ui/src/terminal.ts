// The web terminal of an SSH session: xterm.js over the terminal WebSocket
// of control/consoles (binary messages are terminal bytes both ways; text
// messages are JSON: resize from here, exit/error from control), plus file
// upload and download over SFTP on the same SSH connection.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { consoleSocketURL, downloadURL, uploadFiles } from './consoleapi';
import { clear, h } from './dom';
import type { Page } from './main';
import { consoleHead, type ConsoleHead } from './consolehead';
import { errorBox } from './widgets';

export function terminalPage(id: string): Page {
  const screen = h('div', { class: 'terminal-screen', 'data-testid': 'terminal', 'data-state': 'connecting' });
  const status = h('div', { class: 'console-status', role: 'status', 'data-testid': 'terminal-status' }, 'Connecting…');
  const head: ConsoleHead = consoleHead(id, () => ws?.close(1000, 'disconnected by the user'));
  const term = new Terminal({
    cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
    theme: { background: '#14171b', foreground: '#e3e6ea' },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  let ws: WebSocket | null = null;
  const enc = new TextEncoder();

  const files = filesBar(id);
  const el = h('section', { class: 'page console-page terminal-page' }, head.el, screen, status, files.el);

  function setState(state: string, message: string) {
    screen.setAttribute('data-state', state);
    status.textContent = message;
    files.enable(state === 'open');
  }

  function connect() {
    term.open(screen);
    fit.fit();
    ws = new WebSocket(consoleSocketURL(id, 'terminal', { cols: term.cols, rows: term.rows }));
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      setState('open', 'Connected. Everything typed and shown here is recorded.');
      term.focus();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') {
        term.write(new Uint8Array(ev.data as ArrayBuffer));
        return;
      }
      let m: { type: string; status?: number; message?: string };
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.type === 'exit') setState('closed', m.status === -1 ? `Disconnected: ${m.message}.` : `${m.message ?? 'The shell exited'}.`);
      if (m.type === 'error') {
        setState('closed', '');
        status.append(errorBox(m.message ?? 'the terminal failed'));
      }
    };
    ws.onclose = () => {
      if (screen.getAttribute('data-state') !== 'closed') setState('closed', 'Disconnected.');
      head.refresh();
    };
    term.onData((d) => { if (ws?.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
    term.onBinary((d) => {
      if (ws?.readyState !== WebSocket.OPEN) return;
      const b = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      ws.send(b);
    });
    term.onResize(({ cols, rows }) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
    });
  }

  const ro = new ResizeObserver(() => { try { fit.fit(); } catch { /* not laid out yet */ } });
  ro.observe(screen);
  // The screen must be in the document before xterm measures it.
  requestAnimationFrame(connect);
  return {
    el,
    dispose: () => {
      ro.disconnect();
      ws?.close(1000, 'page left');
      term.dispose();
      head.dispose();
    },
  };
}

/** filesBar uploads into a directory and downloads a path over the terminal's SFTP channel. */
function filesBar(id: string) {
  const dir = h('input', { id: 'upload-dir', placeholder: 'home directory', autocomplete: 'off', spellcheck: 'false' });
  const input = h('input', { id: 'upload-files', type: 'file', multiple: true });
  const upload = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Upload');
  const path = h('input', { id: 'download-path', placeholder: '/path/to/file', autocomplete: 'off', spellcheck: 'false' });
  const download = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Download');
  const out = h('div', { class: 'files-status', role: 'status', 'data-testid': 'files-status' });
  upload.addEventListener('click', async () => {
    clear(out);
    if (!input.files?.length) {
      out.append(errorBox('choose one or more files first'));
      return;
    }
    upload.disabled = true;
    out.textContent = 'Uploading…';
    try {
      const res = await uploadFiles(id, dir.value.trim(), input.files);
      out.textContent = 'Uploaded ' + res.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ');
      input.value = '';
    } catch (err) {
      clear(out);
      out.append(errorBox(err instanceof Error ? err.message : String(err)));
    } finally {
      upload.disabled = false;
    }
  });
  download.addEventListener('click', () => {
    const p = path.value.trim();
    if (!p) return;
    const a = h('a', { href: downloadURL(id, p), download: p.split('/').pop() || 'download' });
    document.body.append(a);
    a.click();
    a.remove();
  });
  const el = h('section', { class: 'card files-bar', 'aria-label': 'Files' },
    h('div', { class: 'files-row' },
      h('strong', {}, 'Upload'), h('label', { for: 'upload-dir' }, 'to'), dir,
      h('label', { for: 'upload-files', class: 'sr-only' }, 'Files'), input, upload),
    h('div', { class: 'files-row' },
      h('strong', {}, 'Download'), h('label', { for: 'download-path' }, 'Path'), path, download),
    out);
  return {
    el,
    enable(on: boolean) {
      upload.disabled = !on;
      download.disabled = !on;
    },
  };
}
