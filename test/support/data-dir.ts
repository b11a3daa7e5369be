// A fresh data directory per test (the embedded adapters' database lives there), removed when
// the test process exits.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
let hooked = false;

export function tempDataDir(label = 'data'): string {
  const dir = mkdtempSync(join(tmpdir(), `foreshock-${label}-`));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}
