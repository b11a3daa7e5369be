import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/index.js';
import { configKeys, envName, loadConfig, parseDuration } from './index.js';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-config-'));
  const f = join(dir, 'foreshock.yaml');
  writeFileSync(f, text);
  return f;
}

describe('config', () => {
  it('has defaults that need nothing installed', () => {
    const { config } = loadConfig({ env: {} });
    expect(config.server.port).toBe(9740);
    expect(config.bus.kind).toBe('embedded');
    expect(config.ingest.hostLabels).toEqual(['host', 'instance']);
    expect(config.detector.minDuration).toBe(30_000);
  });

  it('layers YAML under env and names the source', () => {
    const file = yamlFile('server:\n  port: 9999\ndetector:\n  minDuration: 2m\n  window: 32\n');
    const { config, sources } = loadConfig({ env: { FORESHOCK_DETECTOR_WINDOW: '48' }, file });
    expect(config.server.port).toBe(9999);
    expect(config.detector.minDuration).toBe(120_000);
    expect(config.detector.window).toBe(48);
    expect(sources['detector.window']).toBe('env FORESHOCK_DETECTOR_WINDOW');
    expect(sources['server.port']).toBe(file);
  });

  it('maps FORESHOCK_ALERTMANAGER_URL to a list', () => {
    const { config } = loadConfig({ env: { FORESHOCK_ALERTMANAGER_URL: 'http://a:9093, http://b:9093' } });
    expect(config.alertmanager.url).toEqual(['http://a:9093', 'http://b:9093']);
  });

  it.each([
    ['server:\n  prot: 1\n', 'server.prot'],
    ['detector:\n  window: 2\n', 'detector.window'],
    ['detector:\n  minDuration: soon\n', 'detector.minDuration'],
    ['log:\n  level: loud\n', 'log.level'],
    ['server: 3\n', 'server'],
  ])('rejects %j naming %s', (yaml, key) => {
    const file = yamlFile(yaml);
    let err: unknown;
    try {
      loadConfig({ env: {}, file });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe(key);
  });

  it('rejects unknown FORESHOCK_ variables but not the non-config ones', () => {
    expect(() => loadConfig({ env: { FORESHOCK_SERVR_PORT: '1' } })).toThrow(/FORESHOCK_SERVR_PORT/);
    expect(() => loadConfig({ env: { FORESHOCK_TEST_REDIS_URL: 'x', FORESHOCK_REQUIRE_SERVICES: '1' } })).not.toThrow();
  });

  it('rejects closeScore above openScore', () => {
    expect(() => loadConfig({ env: { FORESHOCK_DETECTOR_CLOSE_SCORE: '0.95' } })).toThrow(/detector.closeScore/);
  });

  it('derives env names and parses durations', () => {
    expect(envName('detector.minDuration')).toBe('FORESHOCK_DETECTOR_MIN_DURATION');
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1x')).toBeNull();
    expect(configKeys().length).toBeGreaterThan(20);
  });
});
