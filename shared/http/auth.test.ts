import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTokenHashes, tokenHash } from './auth.js';

describe('token hashes', () => {
  it('hashes tokens as sha256sum does', () => {
    // printf %s secret | sha256sum
    expect(tokenHash('secret')).toBe('2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b');
  });
  it('reads hex hashes and files of hashes, any case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-hash-'));
    try {
      const f = join(dir, 'h');
      writeFileSync(f, `# comment\n\n${tokenHash('a')}\n${tokenHash('b').toUpperCase()}\n`);
      const got = resolveTokenHashes('auth.readTokens', [tokenHash('c'), `file:${f}`]);
      expect(got.map((b) => b.toString('hex'))).toEqual([tokenHash('c'), tokenHash('a'), tokenHash('b')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names the key for a token given in clear or a missing file', () => {
    expect(() => resolveTokenHashes('auth.writeTokens', ['my-plain-token'])).toThrow(/auth\.writeTokens: .*not a SHA-256 hash/);
    expect(() => resolveTokenHashes('auth.readTokens', ['file:/nonexistent/x'])).toThrow(/auth\.readTokens: cannot read/);
  });
});
