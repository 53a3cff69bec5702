// Makes the compiled CLI executable, so `npx netspan` and the installed bin work.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
