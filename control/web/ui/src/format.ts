// Formatting of durations, sizes and times for the console.

/** duration formats seconds as "45s", "3m 07s", "2h 05m", "3d 04h". */
export function duration(sec: number): string {
  if (!isFinite(sec) || sec < 0) sec = 0;
  const s = Math.floor(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return `${hr}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hr / 24)}d ${String(hr % 24).padStart(2, '0')}h`;
}

/** bytes formats a byte count in binary units: "0 B", "1.5 KiB", "12 MiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** dateTime formats an RFC 3339 time in the viewer's locale. */
export function dateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** seconds formats a recording offset: "1:05.250". */
export function offset(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s.toFixed(3).padStart(6, '0')}`;
}

export const typeLabel: Record<string, string> = { ssh: 'SSH', rdp: 'RDP', vnc: 'VNC', db: 'DB', http: 'HTTP', tcp: 'TCP' };

export const statusLabel: Record<string, string> = {
  pending: 'Pending', active: 'Active', completed: 'Completed', terminated: 'Terminated', failed: 'Failed',
};
