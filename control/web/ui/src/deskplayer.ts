// The deskproto player: the desktop recording drawn on a canvas, with
// play/pause, speed (1×, 2×, 4×) and a seek slider that decodes from the
// nearest keyframe before the target (deskproto.ts).
import { type Session } from './api';
import { index, Screen } from './deskproto';
import { h } from './dom';
import { offset } from './format';
import { errorBox } from './widgets';

interface Player {
  seek(t: number): void;
  dispose(): void;
}

/** fetchBytes reads the inner stream (the player's read, not an export). */
async function fetchBytes(id: string): Promise<Uint8Array> {
  const resp = await fetch(`/v1/sessions/${encodeURIComponent(id)}/recording`, { credentials: 'same-origin' });
  if (!resp.ok) throw new Error(`recording unavailable (${resp.status})`);
  return new Uint8Array(await resp.arrayBuffer());
}

/** deskPlayer fills box with a canvas player of s's deskproto recording. */
export function deskPlayer(s: Session, box: HTMLElement, startAt?: number): Player {
  let disposed = false;
  let seek: ((t: number) => void) | null = null;
  let stop = () => {};
  const loading = h('p', { class: 'muted' }, 'Loading the recording…');
  box.append(loading);
  fetchBytes(s.id).then((buf) => {
    if (disposed) return;
    loading.remove();
    const idx = index(buf);
    const screen = new Screen(buf, idx);
    const canvas = h('canvas', { class: 'desk', 'data-testid': 'desk-canvas', width: String(Math.max(idx.width, 1)), height: String(Math.max(idx.height, 1)) }) as HTMLCanvasElement;
    canvas.style.maxWidth = '100%';
    const ctx = canvas.getContext('2d')!;
    const duration = idx.duration / 1e6;
    const play = h('button', { type: 'button', class: 'secondary', 'data-testid': 'desk-play' }, 'Play');
    const speed = h('select', { id: 'desk-speed', 'aria-label': 'Speed' }, ...['1', '2', '4'].map((v) => h('option', { value: v }, `${v}×`)));
    const slider = h('input', { type: 'range', id: 'desk-seek', 'aria-label': 'Position', min: '0', max: String(duration), step: 'any', value: '0' });
    const clock = h('span', { class: 'mono', 'data-testid': 'desk-time' });
    const status = h('span', { class: 'muted' }, idx.truncated ? 'The recording ends early (truncated): it plays up to there.' : '');
    let pos = 0; // seconds
    let playing = false;
    let wall = 0;
    let base = 0;
    let frame = 0;

    const draw = (t: number) => {
      pos = Math.min(Math.max(t, 0), duration);
      try {
        screen.seek(pos * 1e6);
      } catch (err) {
        status.textContent = `Cannot render: ${(err as Error).message}`;
      }
      if (screen.width > 0 && screen.height > 0) {
        if (canvas.width !== screen.width || canvas.height !== screen.height) {
          canvas.width = screen.width;
          canvas.height = screen.height;
        }
        ctx.putImageData(new ImageData(screen.pix, screen.width, screen.height), 0, 0);
      }
      canvas.dataset.t = pos.toFixed(3);
      canvas.dataset.from = String(screen.from < 0 ? -1 : idx.times[screen.from] / 1e6);
      canvas.dataset.applied = String(screen.applied);
      slider.value = String(pos);
      clock.textContent = `${offset(pos)} / ${offset(duration)}`;
    };
    const tick = () => {
      if (!playing) return;
      const t = base + ((performance.now() - wall) / 1000) * parseFloat(speed.value);
      draw(t);
      if (t >= duration) { pause(); return; }
      frame = requestAnimationFrame(tick);
    };
    const start = () => {
      if (pos >= duration) draw(0);
      playing = true;
      base = pos;
      wall = performance.now();
      play.textContent = 'Pause';
      canvas.dataset.playing = 'true';
      frame = requestAnimationFrame(tick);
    };
    const pause = () => {
      playing = false;
      cancelAnimationFrame(frame);
      play.textContent = 'Play';
      canvas.dataset.playing = 'false';
    };
    stop = pause;
    play.addEventListener('click', () => (playing ? pause() : start()));
    speed.addEventListener('change', () => { if (playing) { base = pos; wall = performance.now(); } });
    slider.addEventListener('input', () => {
      draw(parseFloat(slider.value));
      if (playing) { base = pos; wall = performance.now(); }
    });
    box.append(
      h('div', { class: 'player-controls' }, play, h('label', { for: 'desk-speed' }, 'Speed'), speed, slider, clock, status),
      h('div', { class: 'desk-wrap' }, canvas));
    seek = (t) => { draw(t); if (playing) { base = pos; wall = performance.now(); } };
    draw(0);
    if (startAt !== undefined) { draw(startAt); start(); }
  }).catch((err) => { loading.remove(); box.append(errorBox(err.message)); });
  return { seek: (t) => seek?.(t), dispose: () => { disposed = true; stop(); } };
}
