// Ticking durations: every registered element shows its session's duration,
// advanced once a second from the server's duration_seconds while the
// session is active (the server's clock is the reference, never the
// browser's).
import type { Session } from './api';
import { duration } from './format';

interface Ticker {
  base: number; // duration_seconds when received
  at: number; // performance.now() then
  running: boolean;
}

const tickers = new Map<HTMLElement, Ticker>();
let timer = 0;

/** showDuration makes el show s's duration, ticking while s is active. */
export function showDuration(el: HTMLElement, s: Session) {
  const t = { base: s.duration_seconds, at: performance.now(), running: s.status === 'active' };
  el.textContent = duration(t.base);
  if (!t.running) {
    tickers.delete(el);
    return;
  }
  tickers.set(el, t);
  if (!timer) timer = window.setInterval(tick, 1000);
}

function tick() {
  const now = performance.now();
  for (const [el, t] of tickers) {
    if (!el.isConnected) {
      tickers.delete(el);
      continue;
    }
    el.textContent = duration(t.base + (now - t.at) / 1000);
  }
  if (tickers.size === 0) {
    window.clearInterval(timer);
    timer = 0;
  }
}
