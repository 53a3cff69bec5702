// Makes the compiled CLI executable, so `npx netspan` and the installed bin work; copies the web
// UI's static files and the preact/htm ES modules it imports next to the compiled UI exporter
// (dist/src/ui/web), so the package serves them from its own files.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);

const web = new URL('../src/ui/web/', import.meta.url);
const out = new URL('../dist/src/ui/web/', import.meta.url);
mkdirSync(new URL('vendor/', out), { recursive: true });
for (const name of readdirSync(web)) copyFileSync(new URL(name, web), new URL(name, out));

// The vendored modules import each other by bare name; the UI loads them by path (no import map,
// so the page's Content-Security-Policy allows no inline script).
const require = createRequire(import.meta.url);
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));
const vendor = {
  'preact.mjs': join(packageDir('preact'), 'dist', 'preact.mjs'),
  'hooks.mjs': join(packageDir('preact'), 'hooks', 'dist', 'hooks.mjs'),
  'htm.mjs': join(dirname(dirname(require.resolve('htm'))), 'dist', 'htm.module.js'),
};
for (const [name, path] of Object.entries(vendor)) {
  const text = readFileSync(path, 'utf8').replace(/from\s*["']preact["']/g, 'from"./preact.mjs"');
  writeFileSync(new URL(`vendor/${name}`, out), text);
}
