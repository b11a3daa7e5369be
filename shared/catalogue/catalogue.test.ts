import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors/index.js';
import { Catalogue, loadCatalogue, parseCatalogue, shippedCatalogue, UNKNOWN_METRIC } from './catalogue.js';

describe('the shipped catalogue', () => {
  const c = shippedCatalogue();

  it('parses, and names the roles of what node-exporter sends', () => {
    expect(c.size).toBeGreaterThan(100);
    expect(c.lookup('node_filesystem_size_bytes').role).toBe('ignored');
    expect(c.lookup('node_filesystem_readonly').role).toBe('ignored');
    expect(c.lookup('node_uname_info').role).toBe('ignored');
    expect(c.lookup('node_cpu_seconds_total').role).toBe('context');
    expect(c.lookup('node_filesystem_avail_bytes')).toMatchObject({ role: 'context', direction: 'down', unit: 'bytes' });
    expect(c.lookup('prometheus_http_request_duration_seconds_bucket').role).toBe('ignored');
    expect(c.lookup('prometheus_tsdb_lowest_timestamp_seconds').role).toBe('ignored');
  });

  it('makes the derived saturation signals and reachability the only default signals', () => {
    const cpu = c.lookup('host:cpu_utilisation:ratio');
    expect(cpu).toMatchObject({ role: 'signal', kind: 'ratio', pagesOn: ['threshold', 'forecast'] });
    expect(cpu.saturation).toEqual({ threshold: 0.9, direction: 'above', forMs: 180_000, capacity: 0.9, horizonMs: 3_600_000, fills: false });
    expect(c.lookup('host:filesystem_used:ratio').saturation?.fills).toBe(true);
    expect(c.lookup('host:filesystem_used:ratio').saturation).toMatchObject({ threshold: 0.95, capacity: 1 });
    expect(c.lookup('host:memory_available:ratio').saturation).toMatchObject({ direction: 'below', threshold: 0.1, capacity: 0 });
    expect(c.lookup('up')).toMatchObject({ role: 'signal', pagesOn: ['threshold'] });
    expect(c.lookup('node_network_transmit_errs_total').role).toBe('context');
  });

  it('declares the counters Telegraf sends without type metadata', () => {
    expect(c.lookup('diskio_reads').kind).toBe('counter');
    expect(c.lookup('net_bytes_recv').kind).toBe('counter');
    expect(c.lookup('diskio_iops_in_progress').kind).toBe('gauge');
    expect(c.lookup('mem_total').role).toBe('ignored');
  });

  it('leaves a metric it does not know as context, kind from its name', () => {
    expect(c.lookup('orders_processed_total')).toBe(UNKNOWN_METRIC);
    expect(UNKNOWN_METRIC).toMatchObject({ role: 'context', kind: null });
  });
});

describe('catalogue files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalogue-'));

  it('come before the shipped entries, and match on labels', () => {
    const f = join(dir, 'team.yaml');
    writeFileSync(f, [
      'entries:',
      '  - { match: "http_requests_total", labels: { code: "5*" }, role: signal, kind: counter, direction: up }',
      '  - { match: up, role: context }',
    ].join('\n'));
    const c = loadCatalogue([f]);
    expect(c.lookup('http_requests_total', { code: '503' })).toMatchObject({ role: 'signal', pagesOn: ['anomaly'], direction: 'up' });
    expect(c.lookup('http_requests_total', { code: '200' }).role).toBe('context');
    expect(c.lookup('up').role).toBe('context');
    expect(c.lookup('node_uname_info').role).toBe('ignored');
  });

  it('name the file, the entry and the key of a mistake', () => {
    const bad = (yaml: string) => () => parseCatalogue(yaml, 'team.yaml');
    expect(bad('entries:\n  - { match: x, role: page }')).toThrow(/team.yaml entries\[0\]: role must be one of signal, context, ignored/);
    expect(bad('entries:\n  - { match: x, role: signal, threshold: 1 }')).toThrow(/needs direction up or down/);
    expect(bad('entries:\n  - { match: x, role: context, colour: red }')).toThrow(/unknown key "colour"/);
    expect(bad('entries:\n  - { match: x, role: signal, direction: up, threshold: 1, for: soon }')).toThrow(/for must be a duration/);
    expect(bad('nothing: here')).toThrow(ConfigError);
    expect(() => loadCatalogue([join(dir, 'missing.yaml')])).toThrow(/catalogue.files: cannot read/);
  });

  it('treat * as any run of characters and everything else literally', () => {
    const c = new Catalogue(parseCatalogue('entries:\n  - { match: "a.b*", role: ignored }', 't'));
    expect(c.lookup('a.b_c').role).toBe('ignored');
    expect(c.lookup('axb_c').role).toBe('context');
  });
});
