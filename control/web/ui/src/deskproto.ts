// deskproto decoding for the browser (recordfmt/deskproto/SPEC.md,
// version 1): an index of a recording's events built in one pass that
// skips bodies, and a renderer that applies events to an RGBA
// framebuffer. Seeking decodes from the last keyframe at or before the
// target, never from the start when a keyframe precedes it.
import { decompress } from 'fzstd';

const maxDimension = 16384;
const maxPixels = 1 << 26;

export const enum Ev {
  Resize = 1, Rect = 2, Fill = 3, Copy = 4, Pointer = 5, Key = 6, Clipboard = 7,
  Cursor = 8, Keyframe = 9, Bell = 10, Meta = 11, Error = 12, End = 13, CursorPos = 14,
}

/** Index is a recording's header and the position of every event. */
export interface Index {
  width: number;
  height: number;
  meta: Record<string, string>;
  /** per event: type, time (µs), body offset, body length */
  types: Uint8Array;
  times: Float64Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  count: number;
  /** event numbers of the keyframes, in order */
  keyframes: number[];
  duration: number; // µs
  /** set when the recording ends inside an event (it plays up to there) */
  truncated: boolean;
}

class Reader {
  constructor(public b: Uint8Array, public p: number, public end: number) {}
  u8(): number {
    if (this.p >= this.end) throw new RangeError('truncated');
    return this.b[this.p++];
  }
  uv(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const c = this.u8();
      v += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) throw new Error('deskproto: varint too large');
        return v;
      }
      mul *= 128;
    }
    throw new Error('deskproto: varint longer than 10 bytes');
  }
  str(): string {
    const n = this.uv();
    if (n > this.end - this.p) throw new RangeError('truncated');
    const s = new TextDecoder().decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
}

/** index parses the header and locates every event of a recording. */
export function index(buf: Uint8Array): Index {
  const magic = 'OPDESK';
  for (let i = 0; i < magic.length; i++) {
    if (buf[i] !== magic.charCodeAt(i)) throw new Error('not a deskproto recording (bad magic)');
  }
  if (buf[6] !== 1) throw new Error(`deskproto version ${buf[6]} is not supported`);
  const r = new Reader(buf, 7, buf.length);
  const hlen = r.uv();
  if (hlen < 1 || hlen > 65536 || r.p + hlen > buf.length) throw new Error('deskproto: bad header length');
  const hr = new Reader(buf, r.p, r.p + hlen);
  const width = hr.uv();
  const height = hr.uv();
  if (width > maxDimension || height > maxDimension || width * height > maxPixels) throw new Error('deskproto: screen too large');
  if (hr.u8() !== 1) throw new Error('deskproto: unknown pixel format');
  hr.uv(); // start
  hr.uv(); // keyframe interval
  const nmeta = hr.uv();
  if (nmeta > 256) throw new Error('deskproto: too many metadata pairs');
  const meta: Record<string, string> = {};
  for (let i = 0; i < nmeta; i++) {
    const k = hr.str();
    meta[k] = hr.str();
  }
  r.p += hlen;

  let cap = 1024;
  let types = new Uint8Array(cap);
  let times = new Float64Array(cap);
  let offsets = new Uint32Array(cap);
  let lengths = new Uint32Array(cap);
  const keyframes: number[] = [];
  let count = 0;
  let t = 0;
  let truncated = false;
  while (r.p < buf.length) {
    const start = r.p;
    let typ: number, dt: number, len: number;
    try {
      typ = r.u8();
      dt = r.uv();
      len = r.uv();
    } catch (e) {
      if (e instanceof RangeError) { r.p = start; truncated = true; break; }
      throw e;
    }
    if (len > buf.length - r.p) { truncated = true; break; }
    if (count === cap) {
      cap *= 2;
      const grow = <T extends Uint8Array | Float64Array | Uint32Array>(a: T, n: T) => { n.set(a); return n; };
      types = grow(types, new Uint8Array(cap));
      times = grow(times, new Float64Array(cap));
      offsets = grow(offsets, new Uint32Array(cap));
      lengths = grow(lengths, new Uint32Array(cap));
    }
    t += dt;
    types[count] = typ;
    times[count] = t;
    offsets[count] = r.p;
    lengths[count] = len;
    if (typ === Ev.Keyframe) keyframes.push(count);
    count++;
    r.p += len;
    if (typ === Ev.End) break;
  }
  return { width, height, meta, types, times, offsets, lengths, count, keyframes, duration: t, truncated };
}

/** Screen is a framebuffer that events are applied to. */
export class Screen {
  width = 0;
  height = 0;
  pix = new Uint8ClampedArray(0);
  pointerX = 0;
  pointerY = 0;
  /** the next event to apply */
  next = 0;
  /** the keyframe (event number, -1 for the start) the last reset began at */
  from = -1;
  /** events applied since the last reset */
  applied = 0;

  constructor(private buf: Uint8Array, private idx: Index) {
    this.reset(-1);
  }

  /** reset starts over at keyframe event k (or the recording's start for -1). */
  reset(k: number) {
    this.from = k;
    this.applied = 0;
    if (k < 0) {
      this.resize(this.idx.width, this.idx.height, false);
      this.next = 0;
    } else {
      this.next = k;
    }
  }

  private resize(w: number, h: number, keep: boolean) {
    if (w > maxDimension || h > maxDimension || w * h > maxPixels) throw new Error('deskproto: screen too large');
    const pix = new Uint8ClampedArray(w * h * 4);
    for (let i = 3; i < pix.length; i += 4) pix[i] = 255;
    if (keep) {
      const cw = Math.min(w, this.width);
      const ch = Math.min(h, this.height);
      for (let y = 0; y < ch; y++) pix.set(this.pix.subarray(y * this.width * 4, (y * this.width + cw) * 4), y * w * 4);
    }
    this.width = w;
    this.height = h;
    this.pix = pix;
  }

  private inside(x: number, y: number, w: number, h: number) {
    if (w < 1 || h < 1 || x + w > this.width || y + h > this.height) throw new Error('deskproto: rectangle outside the screen');
  }

  private rgb(r: Reader, n: number): Uint8Array {
    const codec = r.u8();
    const body = r.b.subarray(r.p, r.end);
    r.p = r.end;
    let out: Uint8Array;
    if (codec === 0) out = body;
    else if (codec === 1) out = decompress(body);
    else throw new Error(`deskproto: unknown codec ${codec}`);
    if (out.length !== n * 3) throw new Error('deskproto: pixel payload of the wrong size');
    return out;
  }

  private blit(x: number, y: number, w: number, h: number, src: Uint8Array) {
    const W = this.width;
    const d = this.pix;
    let s = 0;
    for (let row = 0; row < h; row++) {
      let o = ((y + row) * W + x) * 4;
      for (let col = 0; col < w; col++) {
        d[o] = src[s]; d[o + 1] = src[s + 1]; d[o + 2] = src[s + 2];
        o += 4; s += 3;
      }
    }
  }

  /** apply applies event i. */
  apply(i: number) {
    const { types, offsets, lengths } = this.idx;
    const r = new Reader(this.buf, offsets[i], offsets[i] + lengths[i]);
    switch (types[i]) {
      case Ev.Resize: {
        const w = r.uv(), h = r.uv();
        if (w < 1 || h < 1) throw new Error('deskproto: bad resize');
        this.resize(w, h, true);
        break;
      }
      case Ev.Rect: {
        const x = r.uv(), y = r.uv(), w = r.uv(), h = r.uv();
        this.inside(x, y, w, h);
        this.blit(x, y, w, h, this.rgb(r, w * h));
        break;
      }
      case Ev.Fill: {
        const x = r.uv(), y = r.uv(), w = r.uv(), h = r.uv();
        const cr = r.u8(), cg = r.u8(), cb = r.u8();
        this.inside(x, y, w, h);
        const W = this.width;
        for (let row = y; row < y + h; row++) {
          let o = (row * W + x) * 4;
          for (let col = 0; col < w; col++, o += 4) {
            this.pix[o] = cr; this.pix[o + 1] = cg; this.pix[o + 2] = cb;
          }
        }
        break;
      }
      case Ev.Copy: {
        const sx = r.uv(), sy = r.uv(), x = r.uv(), y = r.uv(), w = r.uv(), h = r.uv();
        this.inside(sx, sy, w, h);
        this.inside(x, y, w, h);
        const W = this.width;
        const tmp = new Uint8ClampedArray(w * h * 4);
        for (let row = 0; row < h; row++) tmp.set(this.pix.subarray(((sy + row) * W + sx) * 4, ((sy + row) * W + sx + w) * 4), row * w * 4);
        for (let row = 0; row < h; row++) this.pix.set(tmp.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * W + x) * 4);
        break;
      }
      case Ev.Pointer:
      case Ev.CursorPos:
        this.pointerX = r.uv();
        this.pointerY = r.uv();
        break;
      case Ev.Keyframe: {
        r.uv(); // t
        const w = r.uv(), h = r.uv();
        this.pointerX = r.uv();
        this.pointerY = r.uv();
        r.uv(); // buttons
        if (w < 1 || h < 1) throw new Error('deskproto: bad keyframe size');
        this.resize(w, h, false);
        this.blit(0, 0, w, h, this.rgb(r, w * h));
        break;
      }
      default:
        // Key, Clipboard, Cursor, Bell, Meta, Error, End and unknown
        // types change nothing on the screen.
        break;
    }
    this.applied++;
  }

  /**
   * seek brings the screen to time t (µs): forward from where it is when
   * no keyframe lies between, else from the last keyframe at or before t.
   */
  seek(t: number) {
    const { times, keyframes, count } = this.idx;
    let kf = -1;
    for (const k of keyframes) {
      if (times[k] <= t) kf = k; else break;
    }
    const current = this.next > 0 ? times[this.next - 1] : -1;
    if (t < current || kf >= this.next) this.reset(kf);
    while (this.next < count && times[this.next] <= t) this.apply(this.next++);
  }
}
