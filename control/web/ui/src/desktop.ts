// The VNC desktop viewer: noVNC speaking RFB over the VNC WebSocket of
// control/consoles, which relays the bytes to the session's connection
// (the agent's VNC proxy is the RFB server and records the desktop).
import RFB from '@novnc/novnc';
import { consoleSocketURL } from './consoleapi';
import { consoleHead } from './consolehead';
import { h } from './dom';
import type { Page } from './main';
import { errorBox } from './widgets';

export function desktopPage(id: string): Page {
  const screen = h('div', { class: 'desktop-screen', 'data-testid': 'vnc-screen', 'data-state': 'connecting' });
  const status = h('div', { class: 'console-status', role: 'status', 'data-testid': 'vnc-status' }, 'Connecting…');
  let rfb: RFB | null = null;
  const head = consoleHead(id, () => rfb?.disconnect());
  const cad = h('button', { type: 'button', class: 'secondary small', disabled: true, onclick: () => rfb?.sendCtrlAltDel() }, 'Send Ctrl+Alt+Del');
  const el = h('section', { class: 'page console-page desktop-page' }, head.el,
    h('div', { class: 'console-toolbar' }, cad), screen, status);

  requestAnimationFrame(() => {
    rfb = new RFB(screen, consoleSocketURL(id, 'vnc'), { wsProtocols: ['binary'], shared: true });
    rfb.scaleViewport = true;
    rfb.background = '#14171b';
    rfb.addEventListener('connect', () => {
      screen.setAttribute('data-state', 'open');
      status.textContent = 'Connected. The desktop, keystrokes and pointer are recorded.';
      cad.disabled = false;
    });
    rfb.addEventListener('desktopname', (e) => {
      const name = (e as CustomEvent<{ name: string }>).detail?.name;
      if (name) screen.setAttribute('aria-label', `Desktop ${name}`);
    });
    rfb.addEventListener('disconnect', (e) => {
      screen.setAttribute('data-state', 'closed');
      cad.disabled = true;
      const clean = (e as CustomEvent<{ clean: boolean }>).detail?.clean;
      status.textContent = clean ? 'Disconnected.' : '';
      if (!clean) status.append(errorBox('The connection to the desktop was lost or refused: see the session details.'));
      head.refresh();
    });
  });
  return {
    el,
    dispose: () => {
      rfb?.disconnect();
      head.dispose();
    },
  };
}
