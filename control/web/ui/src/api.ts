// The console's view of control's API (/v1/, JSON), authenticated by the
// web session cookie; state-changing calls carry the CSRF token.

export type SessionStatus = 'pending' | 'active' | 'completed' | 'terminated' | 'failed';
export type SessionType = 'ssh' | 'rdp' | 'vnc' | 'db' | 'http' | 'tcp';
export type RecordingFormat = 'asciicast' | 'deskproto' | 'querylog' | 'har' | 'connlog';

export interface Recording {
  format: RecordingFormat;
  state: 'none' | 'recording' | 'complete' | 'partial' | 'expired';
  size: number;
  available: boolean;
}

export interface TimelineEvent {
  time: string;
  event: string;
  status: SessionStatus;
  actor: string;
  detail: string;
}

export interface Session {
  id: string;
  user: string;
  type: SessionType;
  status: SessionStatus;
  resource: string;
  agent: string;
  login: string;
  client_ip: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration_seconds: number;
  bytes_up: number;
  bytes_down: number;
  error: string;
  terminated_by: string;
  terminate_reason: string;
  recording: Recording;
  timeline: TimelineEvent[] | null;
}

export interface SessionList {
  sessions: Session[];
  next_cursor: string;
}

export interface SessionEvent {
  kind: 'created' | 'changed' | 'ended';
  session: Session;
}

export interface Whoami {
  user: string;
  role: 'admin' | 'auditor' | 'user';
}

/** APIError is an error answer of the API ({"error": {"code", "message"}}). */
export class APIError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

const csrfCookie = 'onepam_csrf';

/** csrfToken reads the CSRF token the login set in a readable cookie. */
export function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === csrfCookie) return decodeURIComponent(v.join('='));
  }
  return '';
}

/** call makes an API request and decodes the JSON answer. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    throw new APIError(resp.status, 'invalid', `unexpected answer (${resp.status}): ${text.slice(0, 200)}`);
  }
  if (!resp.ok) {
    const e = data?.error ?? {};
    throw new APIError(resp.status, e.code ?? 'error', e.message ?? `request failed with status ${resp.status}`);
  }
  return data as T;
}

export const whoami = () => call<Whoami>('GET', '/v1/whoami');
export const login = (token: string) => call<Whoami & { csrf_token: string }>('POST', '/web/login', { token });

/** loginPassword logs in with a user name and console password. */
export const loginPassword = (user: string, password: string) => call<Whoami & { csrf_token: string }>('POST', '/web/login', { user, password });
export const logout = () => call<void>('POST', '/web/logout');
export const getSession = (id: string) => call<Session>('GET', `/v1/sessions/${encodeURIComponent(id)}`);
export const killSession = (id: string, reason: string) =>
  call<Session>('POST', `/v1/sessions/${encodeURIComponent(id)}/kill`, { reason });
export const listSessions = (q: URLSearchParams) => call<SessionList>('GET', `/v1/sessions?${q}`);

/** recordingURL is where the native recording of a session is served. */
// RecordingVerification is the answer of GET /v1/sessions/{id}/verify
// (pkg/api.RecordingVerification).
export interface RecordingVerification {
  status: string; // ok, unsigned_cut, tampered, bad_signature
  intact: boolean;
  message: string;
}

export const verifyRecording = (id: string) =>
  call<RecordingVerification>('GET', `/v1/sessions/${encodeURIComponent(id)}/verify`);

export const recordingURL = (id: string) => `/v1/sessions/${encodeURIComponent(id)}/recording?format=native`;

/** fetchRecording returns the native recording as text. */
export async function fetchRecording(id: string): Promise<string> {
  const resp = await fetch(recordingURL(id), { credentials: 'same-origin' });
  if (!resp.ok) {
    let msg = `recording unavailable (${resp.status})`;
    try {
      msg = (await resp.json()).error.message;
    } catch { /* keep the status */ }
    throw new APIError(resp.status, 'error', msg);
  }
  return resp.text();
}

type Listener = (ev: SessionEvent) => void;
let source: EventSource | null = null;
const listeners = new Set<Listener>();

/**
 * onSessionEvent subscribes to GET /v1/sessions/stream (one EventSource
 * shared by the page); the returned function unsubscribes.
 */
export function onSessionEvent(fn: Listener, onReconnect?: () => void): () => void {
  listeners.add(fn);
  if (!source) {
    source = new EventSource('/v1/sessions/stream', { withCredentials: true });
    source.addEventListener('session', (e) => {
      let ev: SessionEvent;
      try {
        ev = JSON.parse((e as MessageEvent).data);
      } catch {
        return;
      }
      for (const l of listeners) l(ev);
    });
  }
  let opened = false;
  const onOpen = () => {
    if (opened && onReconnect) onReconnect(); // events may have been missed
    opened = true;
  };
  source.addEventListener('open', onOpen);
  return () => {
    listeners.delete(fn);
    source?.removeEventListener('open', onOpen);
    if (listeners.size === 0 && source) {
      source.close();
      source = null;
    }
  };
}
