import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigKeys } from './config-keys.js';

describe('config-keys', () => {
  it('README.md lists exactly the keys the config schema has (regenerate with `foreshock config-keys --markdown`)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const m = /<!-- config-keys:start -->\n([\s\S]*?)<!-- config-keys:end -->/.exec(readme);
    expect(m, 'README.md has the config-keys markers').not.toBeNull();
    expect(m![1]).toBe(renderConfigKeys(true));
  });

  it('prints one tab-separated line per key', () => {
    const lines = renderConfigKeys(false).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const l of lines) expect(l.split('\t')).toHaveLength(4);
    expect(lines.some((l) => l.startsWith('detector.window\tFORESHOCK_DETECTOR_WINDOW\t'))).toBe(true);
  });
});
