import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/index.js';
import { describeConfig, loadConfig, urlAllowed } from './index.js';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-config-objects-'));
  const f = join(dir, 'foreshock.yaml');
  writeFileSync(f, text);
  return f;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError');
}

const RULES = `runbooks:
  allowList: [https://ops.example.com/hooks]
  rules:
    - id: restart
      url: https://ops.example.com/hooks/restart
      secret: env:RB_SECRET
      labels: { cluster: db }
      cooldownMs: 15m
      body: { host: "{{host}}" }
pagerduty:
  routes:
    - name: db
      routingKey: file:KEYFILE
      match: { team: db }
`;

describe('config lists of objects', () => {
  it('validates items, fills defaults, parses durations and resolves env:/file: secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-key-'));
    const keyFile = join(dir, 'pd.key');
    writeFileSync(keyFile, 'abcdefabcdefabcdefabcdefabcdef12\n');
    const { config } = loadConfig({ file: yamlFile(RULES.replace('KEYFILE', keyFile)), env: { RB_SECRET: 'hush' } });
    expect(config.runbooks.rules).toEqual([
      {
        id: 'restart', url: 'https://ops.example.com/hooks/restart', kinds: ['anomaly_opened', 'forecast_breach'], labels: { cluster: 'db' },
        minScore: 0, forecast: 'any', body: { host: '{{host}}' }, secret: 'hush', target: '{{host}}', timeoutMs: 10_000, attempts: 3,
        cooldownMs: 900_000, approval: false, verifyWindowMs: 600_000,
      },
    ]);
    expect(config.pagerduty.routes).toEqual([{ name: 'db', routingKey: 'abcdefabcdefabcdefabcdefabcdef12', match: { team: 'db' } }]);
    // check-config masks the secrets.
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain('hush');
    expect(shown).not.toContain('abcdefabcdef');
    expect(shown).toContain('"routingKey":"***"');
  });

  it('reads a JSON array from the environment', () => {
    const { config } = loadConfig({ env: { FORESHOCK_PAGERDUTY_ROUTES: '[{"name":"ops","routingKey":"k"}]' } });
    expect(config.pagerduty.routes).toEqual([{ name: 'ops', routingKey: 'k', match: {} }]);
  });

  it.each([
    ['runbooks:\n  rules:\n    - id: x\n      secret: s\n', 'runbooks.rules[0].url', 'required'],
    ['runbooks:\n  allowList: [http://h/]\n  rules:\n    - { id: a, url: "http://h/a", secret: s }\n    - { id: b, url: "http://h/b", secret: s, attempts: 0 }\n', 'runbooks.rules[1].attempts', 'between'],
    ['runbooks:\n  rules:\n    - { id: a, url: "http://h/a", secret: s, colour: red }\n', 'runbooks.rules[0].colour', 'unknown field'],
    ['runbooks:\n  rules:\n    - { id: "A B", url: "http://h/a", secret: s }\n', 'runbooks.rules[0].id', 'must match'],
    ['runbooks:\n  rules:\n    - { id: a, url: "http://h/a", secret: s, kinds: [anomaly_resolved] }\n', 'runbooks.rules[0].kinds', 'among'],
    ['runbooks:\n  rules: { id: a }\n', 'runbooks.rules', 'list of mappings'],
    ['runbooks:\n  allowList: [http://h/]\n  rules:\n    - { id: a, url: "http://h/a", secret: env:NOPE }\n', 'runbooks.rules[0].secret', 'NOPE is not set'],
    ['runbooks:\n  allowList: [http://h/]\n  rules:\n    - { id: a, url: "http://h/a", secret: s }\n    - { id: a, url: "http://h/b", secret: s }\n', 'runbooks.rules[1].id', 'duplicate'],
    ['runbooks:\n  allowList: [http://h/hooks]\n  rules:\n    - { id: a, url: "http://other/hooks/a", secret: s }\n', 'runbooks.rules[0].url', 'allowList'],
    ['pagerduty:\n  routes:\n    - { name: ops }\n', 'pagerduty.routes[0].routingKey', 'required'],
  ])('refuses %j naming %s', (yaml, key, why) => {
    const err = configError(() => loadConfig({ file: yamlFile(yaml), env: {} }));
    expect(err.key).toBe(key);
    expect(err.message).toContain(why);
  });

  it('names the item of an env override too', () => {
    const err = configError(() => loadConfig({ env: { FORESHOCK_PAGERDUTY_ROUTES: '[{"name":"ops"}]' } }));
    expect(err.key).toBe('FORESHOCK_PAGERDUTY_ROUTES (pagerduty.routes[0].routingKey)');
  });
});

describe('urlAllowed', () => {
  const list = ['https://ops.example.com/hooks', 'http://127.0.0.1:8080/'];
  it.each([
    ['https://ops.example.com/hooks/restart', true],
    ['https://ops.example.com/hooks', true],
    ['https://ops.example.com/hooksmith', false],
    ['https://ops.example.com.evil.net/hooks/x', false],
    ['http://ops.example.com/hooks/x', false],
    ['https://user:pw@ops.example.com/hooks/x', false],
    ['http://127.0.0.1:8080/anything', true],
    ['http://127.0.0.1:8081/anything', false],
    ['not a url', false],
  ])('%s → %s', (url, ok) => {
    expect(urlAllowed(url, list)).toBe(ok);
  });
});
