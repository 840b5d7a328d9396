// The console's view of the resources and of control's console routes
// (control/consoles): sessions created for the web terminal, VNC viewer
// and database console, SQL requests, terminal file transfers.
import { APIError, call, csrfToken, type Session, type SessionType } from './api';

export interface Resource {
  name: string;
  type: SessionType;
  protocol: string;
  labels: Record<string, string> | null;
  description: string;
  address: string;
  agent: string;
  online: boolean;
}

export interface QueryResult {
  columns: string[];
  rows: (string | null)[][];
  row_count: number;
  truncated: boolean;
  command_tag: string;
  duration_seconds: number;
  error?: string;
  error_code?: string;
  protocol: string;
}

export interface UploadResult {
  files: { path: string; bytes: number }[];
}

export const listResources = () => call<Resource[]>('GET', '/v1/resources');
export const createSession = (resource: string, login: string, database = '') =>
  call<Session>('POST', '/v1/sessions', { resource, login, database });
export const runQuery = (id: string, sql: string) =>
  call<QueryResult>('POST', `/v1/sessions/${encodeURIComponent(id)}/query`, { sql });

/** endQuery ends a database console session; keepalive lets it finish while the page unloads. */
export function endQuery(id: string): Promise<Response> {
  return fetch(`/v1/sessions/${encodeURIComponent(id)}/query`, {
    method: 'DELETE', credentials: 'same-origin', keepalive: true, headers: { 'X-CSRF-Token': csrfToken() },
  });
}

/** consoleSocketURL is the WebSocket URL of a console route, with the CSRF token. */
export function consoleSocketURL(id: string, route: 'terminal' | 'vnc', params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), csrf: csrfToken() });
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/sessions/${encodeURIComponent(id)}/${route}?${q}`;
}

/** uploadFiles sends files over the terminal's SFTP channel into dir ("" = home). */
export async function uploadFiles(id: string, dir: string, files: FileList | File[]): Promise<UploadResult> {
  const form = new FormData();
  for (const f of Array.from(files)) form.append('file', f, f.name);
  const q = dir ? `?dir=${encodeURIComponent(dir)}` : '';
  const resp = await fetch(`/v1/sessions/${encodeURIComponent(id)}/terminal/files${q}`, {
    method: 'POST', body: form, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() },
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new APIError(resp.status, data?.error?.code ?? 'error', data?.error?.message ?? `upload failed (${resp.status})`);
  return data as UploadResult;
}

/** downloadURL downloads path over the terminal's SFTP channel. */
export const downloadURL = (id: string, path: string) =>
  `/v1/sessions/${encodeURIComponent(id)}/terminal/files?path=${encodeURIComponent(path)}`;

/** consolePath is the console page of a session type, or '' when there is none. */
export function consolePath(id: string, type: SessionType): string {
  switch (type) {
    case 'ssh': return `/sessions/${id}/terminal`;
    case 'vnc': return `/sessions/${id}/desktop`;
    case 'db': return `/sessions/${id}/sql`;
    default: return '';
  }
}
