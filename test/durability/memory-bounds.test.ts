// Memory of `foreshock start` (its own process; peak and current RSS read from /proc) under the
// inputs an outside review used: gzip line protocol that inflates a hundredfold, one body of
// 235 MiB decoded, and a flood of distinct series. Accepted data must be counted against a
// limit, refused with 503 + Retry-After (or 413) beyond it, and nothing accepted dropped.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { metricValue, startService, type ForeshockProcess } from '../distributed/support/foreshock-process.js';
import { tempDataDir } from '../support/data-dir.js';
import { waitFor } from '../support/wait.js';

const MB = 1024 * 1024;

/** VmHWM (peak) and VmRSS of a process, bytes. */
function rssOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { FORESHOCK_DATA_DIR: tempDataDir('mem'), FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_LOG_LEVEL: 'warn', FORESHOCK_SINK_KIND: 'none', ...extra };
}

/** `lines` lines of line protocol of about `lineBytes` each (a long string field: compresses ~1000:1). */
function bombText(lines: number, lineBytes: number, t0: number): Buffer {
  const filler = 'x'.repeat(Math.max(0, lineBytes - 60));
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) parts.push(`bomb,host=h${i % 20} note="${filler}",v=${i % 97} ${(t0 + i * 1000) * 1e6}\n`);
  return Buffer.from(parts.join(''));
}

async function post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; retryAfter: string | null; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

describe('memory of the embedded process', () => {
  let proc: ForeshockProcess | null = null;
  afterEach(async () => {
    await proc?.stop(5_000);
    proc = null;
  });

  it('keeps gzip line protocol compressed while it waits: 40 bodies inflating 600× stay far below their decoded size', async () => {
    proc = await startService('start', env(), 120_000);
    // Back-pressure on resident memory is on by default (a share of physical or cgroup memory).
    expect(await metricValue(proc.url, 'foreshock_memory_mark_bytes', 'mark="rss"')).toBeGreaterThan(0);
    const base = rssOf(proc.child.pid!).now;
    const t0 = Date.now() - 3_600_000;
    // 40 requests of ~20 MiB decoded each (800 MiB in all), ~35 KiB each as sent.
    const text = bombText(8_000, 2_600, t0);
    const gz = gzipSync(text);
    expect(text.length / gz.length).toBeGreaterThan(100);
    let accepted = 0;
    for (let i = 0; i < 40; i++) {
      const r = await post(`${proc.url}/api/v2/write?precision=ns`, gz, { 'content-encoding': 'gzip', 'content-type': 'text/plain' });
      if (r.status === 204) accepted++;
      else expect([503]).toContain(r.status);
    }
    expect(accepted).toBeGreaterThan(30);
    // Every accepted line reaches the detector (its one numeric field; the string field is not a sample).
    await waitFor(async () => ((await metricValue(proc!.url, 'foreshock_samples_ingested_total')) >= accepted * 8_000 ? true : null), 120_000, 250);
    const { peak, now } = rssOf(proc.child.pid!);
    // Before: each body was kept decoded in the bus (+800 MiB that stayed) and decoded twice at once.
    expect(peak - base).toBeLessThan(400 * MB);
    expect(now - base).toBeLessThan(300 * MB);
  });

  it('refuses a body of 235 MiB decoded before inflating it (413), and stays small', async () => {
    // As the review ran it: decompression allowed up to 256 MiB.
    proc = await startService('start', env({ FORESHOCK_SERVER_MAX_DECODED_BYTES: String(256 * MB), FORESHOCK_LIMITS_BUFFER_BYTES: String(300 * MB) }), 120_000);
    const base = rssOf(proc.child.pid!).now;
    const text = bombText(90_000, 2_800, Date.now() - 3_600_000);
    expect(text.length).toBeGreaterThan(235 * MB);
    const r = await post(`${proc.url}/api/v2/write`, gzipSync(text), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/limits\.bufferBytes/);
    // Before: 1.34 GB peak for this one request.
    expect(rssOf(proc.child.pid!).peak - base).toBeLessThan(150 * MB);
    // The process is up and takes a normal write.
    const ok = await post(`${proc.url}/api/v2/write`, Buffer.from('ok,host=a v=1\n'), {});
    expect(ok.status).toBe(204);
  });

  it('sheds a flood of distinct series with 503 + Retry-After at its RSS mark, then stops growing; keeps what it accepted', async () => {
    const mark = 420 * MB;
    proc = await startService('start', env({ FORESHOCK_LIMITS_RSS_HIGH_WATER_BYTES: String(mark), FORESHOCK_LIMITS_RETRY_AFTER: '1s' }), 120_000);
    const t0 = Date.now() - 3_600_000;
    let next = 0;
    let accepted = 0;
    let shed = 0;
    let retryAfter: string | null = null;
    /** One request of 5 000 series never sent before; true when accepted. */
    const push = async (): Promise<boolean> => {
      const series = [];
      for (let k = 0; k < 5_000; k++, next++) {
        series.push({ labels: [['__name__', `flood_${next % 50}`], ['host', `fh${Math.floor(next / 5_000)}`], ['id', String(next)]] as [string, string][], timestamps: [t0], values: [1] });
      }
      const r = await post(`${proc!.url}/api/v1/write`, snappyCompress(encodeWriteRequest({ series })), { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' });
      if (r.status === 204) {
        accepted += 5_000;
        return true;
      }
      expect(r.status).toBe(503);
      retryAfter = r.retryAfter;
      shed++;
      return false;
    };
    for (let i = 0; i < 400 && shed < 10; i++) if (!(await push())) await new Promise((res) => setTimeout(res, 200));
    expect(shed).toBe(10);
    expect(retryAfter).toBe('1');
    // What was accepted before the guard engaged is processed: new series beyond the mark are
    // refused by the detector (counted, reason series_limit_memory), none is lost.
    const settled = async () => {
      const ingested = await metricValue(proc!.url, 'foreshock_samples_ingested_total');
      const scored = await metricValue(proc!.url, 'foreshock_samples_scored_total');
      const refused = await metricValue(proc!.url, 'foreshock_samples_dropped_total', 'series_limit_memory');
      return ingested >= accepted && scored + refused >= accepted ? { scored, refused } : null;
    };
    await waitFor(settled, 60_000, 250);
    const before = rssOf(proc.child.pid!).now;
    // Still over the mark: more new series are shed, and memory no longer grows.
    let acceptedLater = 0;
    for (let i = 0; i < 20; i++) {
      if (await push()) acceptedLater++;
      await new Promise((res) => setTimeout(res, 50));
    }
    const final = await waitFor(settled, 60_000, 250);
    expect(acceptedLater).toBe(0);
    expect(rssOf(proc.child.pid!).now - before).toBeLessThan(40 * MB);
    expect(final.scored + final.refused).toBe(accepted);
    expect(await metricValue(proc.url, 'foreshock_memory_pressure')).toBe(1);
  });
});
