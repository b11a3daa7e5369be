// A team's own metric catalogue file for a test (catalogue.files): the signals it declares page.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogueEntry } from '../../shared/catalogue/index.js';

/** Writes `entries` as a catalogue file in a fresh temp directory; returns its path. */
export function catalogueFile(entries: readonly CatalogueEntry[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-catalogue-'));
  const path = join(dir, 'catalogue.yaml');
  writeFileSync(path, JSON.stringify({ entries }, null, 2)); // JSON is YAML
  return path;
}
