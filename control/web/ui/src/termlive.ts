// Live views of an active session, fed by GET /v1/sessions/{id}/watch
// (the stored form of the recording from its start, then live chunks,
// ending when the session ends): SSH in a read-only xterm.js terminal
// decoded incrementally from the compact terminal log, VNC/RDP on a canvas
// re-rendered from the deskproto bytes received so far.
//
// Compact terminal log (recordfmt/asciicast, version 1; integers are
// uvarints): "OPCAST", version 0x01, header length, header JSON
// ({width, height, ...}), then events: type byte ('o' output, 'i' input,
// 'r' resize, 'm' marker, others skipped), time delta µs, payload length,
// payload ('r': cols, rows).
import { Terminal } from '@xterm/xterm';
import type { Session } from './api';
import { index, Screen } from './deskproto';
import { h } from './dom';

const maxHeader = 64 << 10;
const maxEvent = 1 << 20;

/** TermEvent is one decoded event of the compact terminal log. */
export interface TermEvent {
  type: string; // 'o' | 'i' | 'r' | 'm' or another letter (skipped by callers)
  delta: number; // µs since the previous event
  payload: Uint8Array;
}

/** TermHeader is the header of the compact terminal log. */
export interface TermHeader {
  width: number;
  height: number;
  [k: string]: unknown;
}

/**
 * TermDecoder decodes the compact terminal log from chunks as they arrive:
 * push() returns the header (once) and every complete event so far; an
 * incomplete event waits for the next chunk. Malformed bytes throw.
 */
export class TermDecoder {
  private buf = new Uint8Array(0);
  header: TermHeader | null = null;

  push(chunk: Uint8Array): TermEvent[] {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
    const out: TermEvent[] = [];
    let p = 0;
    // uv reads a uvarint at p; null when the buffer ends first.
    const uv = (): number | null => {
      let v = 0;
      let mul = 1;
      for (let i = 0; i < 10; i++) {
        if (p >= b.length) return null;
        const c = b[p++];
        v += (c & 0x7f) * mul;
        if (c < 0x80) {
          if (v > Number.MAX_SAFE_INTEGER) throw new Error('terminal log: varint too large');
          return v;
        }
        mul *= 128;
      }
      throw new Error('terminal log: varint longer than 10 bytes');
    };
    if (!this.header) {
      if (b.length < 7) return out;
      const magic = 'OPCAST';
      for (let i = 0; i < magic.length; i++) {
        if (b[i] !== magic.charCodeAt(i)) throw new Error('not a terminal log (bad magic)');
      }
      if (b[6] !== 1) throw new Error(`terminal log version ${b[6]} is not supported`);
      p = 7;
      const n = uv();
      if (n === null) return out;
      if (n > maxHeader) throw new Error('terminal log: header too large');
      if (b.length - p < n) return out;
      let hdr: unknown;
      try {
        hdr = JSON.parse(new TextDecoder().decode(b.subarray(p, p + n)));
      } catch (err) {
        throw new Error(`terminal log: bad header: ${(err as Error).message}`);
      }
      if (!hdr || typeof hdr !== 'object') throw new Error('terminal log: header is not an object');
      const o = hdr as Record<string, unknown>;
      this.header = { ...o, width: dim(o.width, 80), height: dim(o.height, 24) };
      p += n;
      this.buf = b.subarray(p);
      return this.push(new Uint8Array(0));
    }
    let done = 0;
    for (;;) {
      p = done;
      if (p >= b.length) break;
      const type = String.fromCharCode(b[p++]);
      const delta = uv();
      if (delta === null) break;
      const n = uv();
      if (n === null) break;
      if (n > maxEvent) throw new Error('terminal log: event too large');
      if (b.length - p < n) break;
      out.push({ type, delta, payload: b.slice(p, p + n) });
      done = p + n;
    }
    this.buf = b.slice(done);
    return out;
  }
}

function dim(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 10000 ? v : def;
}

/** resizeOf decodes an 'r' payload (cols, rows uvarints). */
export function resizeOf(p: Uint8Array): { cols: number; rows: number } | null {
  const vals: number[] = [];
  let i = 0;
  for (let k = 0; k < 2; k++) {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= p.length || mul > 2 ** 28) return null;
      const c = p[i++];
      v += (c & 0x7f) * mul;
      if (c < 0x80) break;
      mul *= 128;
    }
    vals.push(v);
  }
  const [cols, rows] = vals;
  return cols > 0 && rows > 0 && cols <= 10000 && rows <= 10000 ? { cols, rows } : null;
}

/** LiveView is a running live view; ended resolves when the stream ends. */
export interface LiveView {
  ended: Promise<void>;
  dispose(): void;
}

/** watchStream calls onChunk with each chunk of the session's watch stream. */
async function watchStream(id: string, signal: AbortSignal, onChunk: (b: Uint8Array) => void): Promise<void> {
  const resp = await fetch(`/v1/sessions/${encodeURIComponent(id)}/watch?live=0`, { credentials: 'same-origin', signal });
  if (!resp.ok || !resp.body) throw new Error(`live view unavailable (${resp.status})`);
  const reader = resp.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value && value.length) onChunk(value);
  }
}

/** liveView fills box with the live view of active session s. */
export function liveView(s: Session, box: HTMLElement): LiveView {
  const ctl = new AbortController();
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'live-status' }, 'Connecting to the live session…');
  let onChunk: (b: Uint8Array) => void;
  let cleanup = () => {};
  if (s.type === 'vnc' || s.type === 'rdp') {
    const canvas = h('canvas', { class: 'desk', 'data-testid': 'live-desk', width: '1', height: '1' }) as HTMLCanvasElement;
    canvas.style.maxWidth = '100%';
    const ctx = canvas.getContext('2d')!;
    let buf = new Uint8Array(0);
    let frame = 0;
    const draw = () => {
      frame = 0;
      try {
        const idx = index(buf);
        const screen = new Screen(buf, idx);
        screen.seek(idx.duration);
        if (screen.width > 0 && screen.height > 0) {
          if (canvas.width !== screen.width || canvas.height !== screen.height) {
            canvas.width = screen.width;
            canvas.height = screen.height;
          }
          ctx.putImageData(new ImageData(screen.pix, screen.width, screen.height), 0, 0);
        }
        canvas.dataset.t = (idx.duration / 1e6).toFixed(3);
      } catch (err) {
        // A header not yet complete waits for more bytes.
        if (buf.length > 64 << 10) status.textContent = `Cannot render: ${(err as Error).message}`;
      }
    };
    onChunk = (c) => {
      const b = new Uint8Array(buf.length + c.length);
      b.set(buf);
      b.set(c, buf.length);
      buf = b;
      if (!frame) frame = requestAnimationFrame(draw);
    };
    cleanup = () => cancelAnimationFrame(frame);
    box.append(h('div', { class: 'desk-wrap' }, canvas), status);
  } else {
    const screen = h('div', { class: 'cast live-terminal', 'data-testid': 'live-terminal' });
    const term = new Terminal({
      disableStdin: true, cursorBlink: false, fontSize: 14, scrollback: 5000,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      theme: { background: '#14171b', foreground: '#e3e6ea' },
    });
    term.open(screen);
    const dec = new TermDecoder();
    let sized = false;
    onChunk = (c) => {
      const evs = dec.push(c);
      if (dec.header && !sized) {
        sized = true;
        term.resize(dec.header.width, dec.header.height);
      }
      for (const ev of evs) {
        if (ev.type === 'o') term.write(ev.payload);
        else if (ev.type === 'r') {
          const r = resizeOf(ev.payload);
          if (r) term.resize(r.cols, r.rows);
        }
      }
    };
    cleanup = () => term.dispose();
    box.append(screen, status);
  }
  const ended = watchStream(s.id, ctl.signal, (c) => {
    status.textContent = 'Live: showing the session as it happens.';
    onChunk(c);
  }).catch((err) => {
    if (!ctl.signal.aborted) status.textContent = `The live view stopped: ${(err as Error).message}`;
  });
  return { ended, dispose: () => { ctl.abort(); cleanup(); } };
}
