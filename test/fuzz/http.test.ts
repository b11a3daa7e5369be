// Hostile input over HTTP: mutated remote-write and line-protocol payloads, with odd headers
// and encodings, posted to a running Foreshock. Every answer must be 204 or a 4xx with a
// reason, and the process must keep serving. Seeded like the decoder fuzz suite
// (FORESHOCK_FUZZ_SEED to replay, FORESHOCK_FUZZ_CASES scales the request count).

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { encodeWriteRequest, snappyCompress } from '../../shared/codecs/index.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { lineProtocolCorpus, snappyCorpus, writeRequestCorpus } from './corpus.js';
import { fuzzCases, fuzzSeed } from './harness.js';
import { BYTE_MUTATORS, Rng, TEXT_MUTATORS, mutate, subSeed } from './mutate.js';
import { tempDataDir } from '../support/data-dir.js';

const SEED = fuzzSeed();
/** One request per 8 decoder cases: 1500 by default. */
const REQUESTS = Math.max(200, Math.round(fuzzCases(12_000) / 8));
const MAX_BODY = 256 * 1024;
console.log(`HTTP fuzz: seed ${SEED}, ${REQUESTS} requests (replay: FORESHOCK_FUZZ_SEED=${SEED})`);

let fs: RunningForeshock;

beforeAll(async () => {
  const { config } = loadConfig({
    env: { FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(), FORESHOCK_SERVER_MAX_BODY_BYTES: String(MAX_BODY), FORESHOCK_SERVER_MAX_DECODED_BYTES: String(4 * MAX_BODY) },
  });
  fs = await startForeshock(config, silentLogger());
});
afterAll(async () => {
  await fs?.close();
});

interface Shot {
  route: string;
  body: Uint8Array;
  headers: Record<string, string>;
  ops: string[];
}

const ENCODINGS = ['snappy', 'gzip', 'identity', 'br', 'SNAPPY', 'gzip, snappy', 'x'.repeat(300)];
const TYPES = ['application/x-protobuf', 'text/plain; charset=utf-8', 'application/json', 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'multipart/form-data; boundary=', ';;;', 'a/b'.repeat(200)];

function shots(): Shot[] {
  const rng = new Rng(subSeed(SEED, 'http'));
  const snappy = snappyCorpus();
  const protos = writeRequestCorpus().filter((p) => p.length < 64 * 1024);
  const lp = lineProtocolCorpus().filter((p) => p.length < 64 * 1024);
  const out: Shot[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const kind = rng.int(6);
    if (kind <= 1) {
      // Mutated snappy body, or a valid snappy block around a mutated protobuf.
      const m = kind === 0 ? mutate(rng, snappy, BYTE_MUTATORS, MAX_BODY * 2) : mutate(rng, protos, BYTE_MUTATORS, MAX_BODY);
      const body = kind === 0 ? m.input : snappyCompress(m.input);
      const headers: Record<string, string> = { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' };
      if (rng.chance(0.1)) headers['Content-Encoding'] = rng.pick(ENCODINGS);
      if (rng.chance(0.1)) headers['Content-Type'] = rng.pick(TYPES);
      out.push({ route: '/api/v1/write', body, headers, ops: m.ops });
    } else {
      const m = mutate(rng, lp, { ...BYTE_MUTATORS, ...TEXT_MUTATORS }, MAX_BODY * 2);
      const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
      let body = m.input;
      if (kind === 5) {
        // gzip, sometimes broken after compression.
        body = gzipSync(body);
        headers['Content-Encoding'] = 'gzip';
        if (rng.chance(0.5)) body = BYTE_MUTATORS[rng.pick(['bitFlip', 'truncate', 'insertRandom'])](rng, body, body);
      }
      if (rng.chance(0.1)) headers['Content-Encoding'] = rng.pick(ENCODINGS);
      if (rng.chance(0.1)) headers['Content-Type'] = rng.pick(TYPES);
      const precision = rng.pick(['ns', 'us', 'ms', 's', 'h', '', 'n']);
      const route = kind === 4 ? `/write?db=telegraf&precision=${precision}` : `/api/v2/write?org=o&bucket=b&precision=${precision}`;
      out.push({ route, body, headers, ops: m.ops });
    }
  }
  return out;
}

describe(`HTTP fuzz (seed ${SEED})`, () => {
  it(`answers ${REQUESTS} hostile writes with 204 or a 4xx and a reason, and keeps serving`, async () => {
    const all = shots();
    const statuses: Record<number, number> = {};
    const bad: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const i = next++;
        const s = all[i];
        const r = await fetch(`${fs.url}${s.route}`, { method: 'POST', body: s.body, headers: s.headers });
        const text = await r.text();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const where = `request ${i} ${s.route} [${s.ops.join(', ')}] ${JSON.stringify(s.headers).slice(0, 200)}`;
        if (![204, 400, 413, 415].includes(r.status)) {
          bad.push(`${where}: status ${r.status} ${text.slice(0, 200)}`);
          continue;
        }
        if (r.status === 204) continue;
        let reason = '';
        try {
          const j = JSON.parse(text) as { message?: string; error?: string };
          reason = j.message ?? j.error ?? '';
        } catch {
          reason = '';
        }
        if (reason.trim() === '') bad.push(`${where}: ${r.status} without a reason: ${text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    console.log(JSON.stringify({ fuzz: 'http', seed: SEED, requests: all.length, statuses }));
    expect(bad.slice(0, 10), `FORESHOCK_FUZZ_SEED=${SEED}`).toEqual([]);
    // Hostile input exercised every rejection path, not just one.
    expect(statuses[400] ?? 0).toBeGreaterThan(0);

    // Still serving: health, a valid write, and the rejections counted.
    expect((await fetch(`${fs.url}/healthz`)).status).toBe(200);
    const good = encodeWriteRequest({ series: [{ labels: [['__name__', 'fuzz_after'], ['instance', 'h']], timestamps: [Date.now()], values: [1] }] });
    const r = await fetch(`${fs.url}/api/v1/write`, { method: 'POST', body: snappyCompress(good), headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf' } });
    expect(r.status).toBe(204);
    const metrics = await (await fetch(`${fs.url}/metrics`)).text();
    expect(metrics).toMatch(/foreshock_requests_rejected_total\{route="\/api\/v1\/write",code="FS_SNAPPY"\} [1-9]/);
  });
});
