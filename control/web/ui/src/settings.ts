// Settings, two cards:
//
// Recording Storage: where control keeps recordings (the local directory or
// an S3-compatible bucket), changed with PUT /v1/settings/recording-storage
// after an optional "Test" (POST .../test writes, reads back and deletes a
// probe object with the form's settings). Secrets are never shown: the API
// answers "********".
//
// Recording Access: whether users may read (replay, export, search…) the
// recordings of their own sessions, GET/PUT /v1/settings/recording-access
// ({"users_own": bool}); admins and auditors always read every session's.
//
// Admins change both; auditors see them read-only.
import { call, type Whoami } from './api';
import { clear, h } from './dom';
import type { Page } from './main';
import './settings.css';
import { errorBox } from './widgets';

interface S3Storage {
  endpoint: string; bucket: string; region?: string; prefix?: string;
  access_key?: string; secret_key?: string; env_credentials?: boolean;
  path_style?: boolean; insecure?: boolean; ca_pem?: string;
}
interface RecordingStorage { kind: 'dir' | 's3'; s3?: S3Storage }
interface StorageTestResult { ok: boolean; message: string; steps: string[] | null }

const getStorage = () => call<RecordingStorage>('GET', '/v1/settings/recording-storage');
const putStorage = (s: RecordingStorage) => call<RecordingStorage>('PUT', '/v1/settings/recording-storage', s);
const testStorage = (s: RecordingStorage) => call<StorageTestResult>('POST', '/v1/settings/recording-storage/test', s);

interface RecordingAccess { users_own: boolean }

const getAccess = () => call<RecordingAccess>('GET', '/v1/settings/recording-access');
const putAccess = (a: RecordingAccess) => call<RecordingAccess>('PUT', '/v1/settings/recording-access', a);

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function settingsPage(me: Whoami): Page {
  const el = h('section', { class: 'page settings-page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Settings')));
  const body = h('section', { class: 'card', 'aria-labelledby': 'storage-h' }, h('h2', { id: 'storage-h' }, 'Recording Storage'), h('p', { class: 'muted' }, 'Loading…'));
  const canChange = me.role === 'admin';
  el.append(body, accessCard(canChange));

  const kindDir = h('input', { type: 'radio', name: 'kind', id: 'kind-dir', value: 'dir' });
  const kindS3 = h('input', { type: 'radio', name: 'kind', id: 'kind-s3', value: 's3' });
  const text = (id: string, placeholder = '', type = 'text') => h('input', { id, type, placeholder, autocomplete: 'off', spellcheck: 'false' });
  const endpoint = text('s3-endpoint', 's3.eu-west-1.amazonaws.com or minio.internal:9000');
  const bucket = text('s3-bucket', 'onepam-recordings');
  const region = text('s3-region', 'us-east-1');
  const prefix = text('s3-prefix', 'onepam/recordings');
  const accessKey = text('s3-access-key');
  const secretKey = text('s3-secret-key', 'unchanged', 'password');
  const envCreds = h('input', { type: 'checkbox', id: 's3-env' });
  const pathStyle = h('input', { type: 'checkbox', id: 's3-path-style' });
  const insecure = h('input', { type: 'checkbox', id: 's3-insecure' });
  const s3Fields = h('fieldset', { class: 's3-fields' },
    h('legend', {}, 'S3-compatible bucket'),
    h('div', { class: 'form-grid' },
      h('label', { for: 's3-endpoint' }, 'Endpoint'), endpoint,
      h('label', { for: 's3-bucket' }, 'Bucket'), bucket,
      h('label', { for: 's3-region' }, 'Region'), region,
      h('label', { for: 's3-prefix' }, 'Key prefix'), prefix,
      h('label', { for: 's3-access-key' }, 'Access key'), accessKey,
      h('label', { for: 's3-secret-key' }, 'Secret key'), secretKey),
    h('label', { class: 'check' }, envCreds, ' Take the credentials from control\'s environment'),
    h('label', { class: 'check' }, pathStyle, ' Path-style addressing (bucket in the path)'),
    h('label', { class: 'check' }, insecure, ' Plain HTTP (test servers only)'));
  const result = h('div', { class: 'storage-result', role: 'status', 'data-testid': 'storage-result' });
  const current = h('p', { class: 'muted', 'data-testid': 'storage-current' });
  const test = h('button', { type: 'button', class: 'secondary' }, 'Test');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  let loaded: RecordingStorage | null = null;

  const sync = () => { s3Fields.disabled = !kindS3.checked || !canChange; };
  kindDir.addEventListener('change', sync);
  kindS3.addEventListener('change', sync);

  function describe(s: RecordingStorage): string {
    return s.kind === 's3' && s.s3 ? `Now: S3 bucket ${s.s3.bucket} at ${s.s3.endpoint}${s.s3.prefix ? ` (prefix ${s.s3.prefix})` : ''}.` : 'Now: the local recordings directory of control\'s data directory.';
  }

  function fill(s: RecordingStorage) {
    loaded = s;
    kindDir.checked = s.kind !== 's3';
    kindS3.checked = s.kind === 's3';
    const b = s.s3;
    endpoint.value = b?.endpoint ?? '';
    bucket.value = b?.bucket ?? '';
    region.value = b?.region ?? '';
    prefix.value = b?.prefix ?? '';
    accessKey.value = b?.access_key ?? '';
    secretKey.value = '';
    secretKey.placeholder = b?.secret_key ? 'unchanged (set)' : 'not set';
    envCreds.checked = !!b?.env_credentials;
    pathStyle.checked = !!b?.path_style;
    insecure.checked = !!b?.insecure;
    current.textContent = describe(s);
    sync();
  }

  function formValue(): RecordingStorage {
    if (!kindS3.checked) return { kind: 'dir' };
    return {
      kind: 's3',
      s3: {
        endpoint: endpoint.value.trim(), bucket: bucket.value.trim(), region: region.value.trim(), prefix: prefix.value.trim(),
        access_key: accessKey.value.trim(),
        // An empty secret keeps the stored one (sent back masked as the API gave it).
        secret_key: secretKey.value || (loaded?.s3?.secret_key ?? ''),
        env_credentials: envCreds.checked, path_style: pathStyle.checked, insecure: insecure.checked,
        ca_pem: loaded?.s3?.ca_pem,
      },
    };
  }

  function showResult(r: StorageTestResult) {
    clear(result);
    result.setAttribute('data-ok', String(r.ok));
    result.append(h('p', { class: r.ok ? 'ok-text' : 'error-text' }, h('strong', {}, r.ok ? 'Test passed: ' : 'Test failed: '), r.message));
    if (r.steps?.length) result.append(h('ol', { class: 'steps' }, ...r.steps.map((s) => h('li', {}, s))));
  }

  test.addEventListener('click', async () => {
    clear(result);
    result.textContent = 'Testing…';
    try {
      showResult(await testStorage(formValue()));
    } catch (err) {
      clear(result);
      result.append(errorBox(message(err)));
    }
  });
  const form = h('form', { class: 'storage-form' },
    h('div', { class: 'kinds', role: 'radiogroup', 'aria-label': 'Storage' },
      h('label', { class: 'check' }, kindDir, ' Local directory'),
      h('label', { class: 'check' }, kindS3, ' S3-compatible bucket')),
    s3Fields,
    canChange ? h('div', { class: 'actions' }, test, save) : h('p', { class: 'muted' }, 'Only administrators change the storage.'),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(result);
    try {
      fill(await putStorage(formValue()));
      result.append(h('p', { class: 'ok-text' }, 'Saved: new recordings go to the new storage.'));
    } catch (err) {
      result.append(errorBox(message(err)));
    }
  });

  getStorage().then((s) => {
    clear(body);
    body.append(h('h2', { id: 'storage-h' }, 'Recording Storage'),
      h('p', { class: 'muted' }, 'Where control stores recordings. Use Test to check a bucket before saving: a probe object is written, read back and deleted.'),
      current, form);
    body.setAttribute('data-loaded', 'true');
    fill(s);
  }).catch((err) => {
    clear(body);
    body.append(h('h2', { id: 'storage-h' }, 'Recording Storage'), errorBox(message(err)));
  });
  return { el };
}

/**
 * accessCard is the Recording Access card: the current setting and, for
 * admins, a switch and Save (read-only otherwise). Its section carries
 * data-loaded="true" once the setting is shown and data-users-own with the
 * value control answered last.
 */
function accessCard(canChange: boolean): HTMLElement {
  const title = () => h('h2', { id: 'access-h' }, 'Recording Access');
  const card = h('section', { class: 'card access-card', 'aria-labelledby': 'access-h', 'data-testid': 'access-card' },
    title(), h('p', { class: 'muted' }, 'Loading…'));
  const usersOwn = h('input', { type: 'checkbox', id: 'access-users-own', disabled: !canChange });
  const current = h('p', { class: 'muted access-current', 'data-testid': 'access-current' });
  const result = h('div', { class: 'access-result', role: 'status', 'aria-live': 'polite', 'data-testid': 'access-result' });
  const save = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Save');
  let loaded: RecordingAccess | null = null;

  const describe = (a: RecordingAccess) => a.users_own
    ? 'Now: users may replay, export and search the recordings of their own sessions.'
    : 'Now: only administrators and auditors read recordings; users are refused, even for their own sessions.';
  // Save is offered only for a change (and never twice at once).
  let saving = false;
  const sync = () => { save.disabled = saving || !loaded || usersOwn.checked === loaded.users_own; };
  usersOwn.addEventListener('change', () => { clear(result); sync(); });

  function fill(a: RecordingAccess) {
    loaded = a;
    usersOwn.checked = a.users_own;
    current.textContent = describe(a);
    card.setAttribute('data-users-own', String(a.users_own));
    sync();
  }

  const form = h('form', { class: 'access-form' },
    h('label', { class: 'check' }, usersOwn, ' Users may replay, export and search their own sessions\' recordings'),
    h('p', { class: 'hint' }, 'Off: users are refused replay, export, verification, file activity, live watch and text search, even of the sessions they ran.'),
    canChange ? h('div', { class: 'actions' }, save) : h('p', { class: 'muted', 'data-testid': 'access-readonly' }, 'Only administrators change who may read recordings.'),
    result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!canChange || save.disabled) return;
    clear(result);
    saving = true;
    sync();
    result.textContent = 'Saving…';
    try {
      const a = await putAccess({ users_own: usersOwn.checked });
      clear(result);
      saving = false;
      fill(a);
      result.append(h('p', { class: 'ok-text' }, a.users_own
        ? 'Saved: users may read their own sessions\' recordings.'
        : 'Saved: users may no longer read recordings, not even their own.'));
    } catch (err) {
      clear(result);
      saving = false;
      sync();
      result.append(errorBox(message(err)));
    }
  });

  getAccess().then((a) => {
    clear(card);
    card.append(title(),
      h('p', { class: 'muted' }, 'Who besides administrators and auditors may read recordings. Administrators and auditors read every session\'s; a user at most those of its own sessions.'),
      current, form,
      h('p', { class: 'audit-note' }, 'Every read of a recording (replay, export, verification, file activity, live watch, search) is written to the audit log with who read which session, and so are refusals and changes to this setting.'));
    card.setAttribute('data-loaded', 'true');
    fill(a);
  }).catch((err) => {
    clear(card);
    card.append(title(), errorBox(message(err)));
  });
  return card;
}
