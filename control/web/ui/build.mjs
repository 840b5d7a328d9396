// Builds the console into ../dist: one bundled, minified script and style
// sheet with content-hashed names under dist/assets/, and dist/index.html
// naming them. Run by ./scripts/web-build (npm ci first).
import * as esbuild from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');

await rm(path.join(dist, 'assets'), { recursive: true, force: true });
await rm(path.join(dist, 'index.html'), { force: true });
await mkdir(path.join(dist, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: [path.join(here, 'src', 'main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  // Pages with heavy dependencies (the terminal's xterm.js, the desktop's
  // noVNC) are separate chunks loaded on first use (dynamic import).
  splitting: true,
  chunkNames: 'chunk-[hash]',
  // es2022: noVNC uses top-level await.
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  outdir: path.join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file' },
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

let script = '';
let style = '';
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint && meta.entryPoint.endsWith('src/main.ts') && out.endsWith('.js')) {
    script = path.basename(out);
    if (meta.cssBundle) style = path.basename(meta.cssBundle);
  }
}
if (!script) throw new Error('esbuild produced no script');

const template = await readFile(path.join(here, 'src', 'index.html'), 'utf8');
const html = template
  .replace('%STYLE%', style ? `<link rel="stylesheet" href="/assets/${style}">` : '')
  .replace('%SCRIPT%', `<script type="module" src="/assets/${script}"></script>`);
await writeFile(path.join(dist, 'index.html'), html);

let total = 0;
for (const [, meta] of Object.entries(result.metafile.outputs)) total += meta.bytes;
console.log(`console built into ${path.relative(process.cwd(), dist)}: ${script}${style ? ', ' + style : ''} (${(total / 1024).toFixed(0)} KiB)`);
