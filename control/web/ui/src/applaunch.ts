// Published apps (control/apps): an app host sends a browser without an
// app login to /login?app=NAME&state=S. Once the person is logged in to
// the console, it asks control for a one-time code for that app and state
// (POST /v1/apps/NAME/launch, with the cookie and the CSRF token) and goes
// back to the app's callback URL; no token ever appears in a URL.
import { call } from './api';

export interface PendingLaunch {
  app: string;
  state: string;
}

/** pendingLaunch returns the app this page was opened for, if any. */
export function pendingLaunch(): PendingLaunch | null {
  if (location.pathname !== '/login') return null;
  const q = new URLSearchParams(location.search);
  const app = q.get('app');
  const state = q.get('state');
  return app && state ? { app, state } : null;
}

/** launch sends the browser back to the app with a one-time code. */
export async function launch(p: PendingLaunch): Promise<void> {
  const r = await call<{ url: string }>('POST', `/v1/apps/${encodeURIComponent(p.app)}/launch`, { state: p.state });
  location.replace(r.url);
}
