// build.mjs — bundles src/ into dist/ with fixed names; output is byte-for-byte reproducible.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

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
// The service worker is served from the root so that its scope covers every page.
await copyFile(new URL('./src/sw.js', import.meta.url), new URL('./sw.js', dist));
