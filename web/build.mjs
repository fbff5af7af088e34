// build.mjs — bundles src/ into dist/ with fixed names; output is byte-for-byte reproducible.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(new URL('./assets/', dist), { recursive: true });

await build({
  absWorkingDir: new URL('.', import.meta.url).pathname,
  entryPoints: [
    { in: 'src/main.js', out: 'app' },
    { in: 'src/style.css', out: 'app' },
  ],
  outdir: 'dist/assets',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
await copyFile(new URL('./index.html', import.meta.url), new URL('./index.html', dist));

// The service worker is served from the root so that its scope covers every page. Its cache is
// named after the shell's content, so a new release is a new worker with a fresh copy.
const shell = createHash('sha256');
for (const file of ['assets/app.js', 'assets/app.css', 'index.html']) shell.update(await readFile(new URL(file, dist)));
const release = shell.digest('hex').slice(0, 16);
const worker = await readFile(new URL('./src/sw.js', import.meta.url), 'utf8');
if (!worker.includes('__RELEASE__')) throw new Error('src/sw.js lost its __RELEASE__ placeholder');
await writeFile(new URL('./sw.js', dist), worker.replaceAll('__RELEASE__', release));
