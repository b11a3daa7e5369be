// Where the detector keeps the checkpoint of one samples-topic partition in the StateStore:
//   <base>:m               manifest (JSON): the current snapshot's generation, chunk count,
//                          size, CRC-32 and the partition offset it covers
//   <base>:s:<gen>:<i>     the snapshot (partition-checkpoint.ts), in chunks of chunkBytes
//   <base>:j:<first>-<last> journal entries: messages applied after the snapshot, one per batch
// The StateStore has no multi-key transaction, so a snapshot becomes current only when the
// manifest naming its generation is written, after all its chunks; older generations and
// covered journal entries are deleted after that (and swept on the next load if a crash
// interrupted the deletion).

import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ForeshockError } from '../../shared/errors/index.js';
import type { StateStore } from '../../shared/ports/index.js';

export const MANIFEST_VERSION = 1;
const OFFSET_DIGITS = 16;

export interface CheckpointManifest {
  v: number;
  /** Generation of the snapshot chunks (random, unique per write). */
  gen: string;
  chunks: number;
  bytes: number;
  crc: number;
  /** Last partition offset the snapshot covers. */
  offset: number;
  series: number;
  /** Wall-clock ms of the write (for operators). */
  writtenAt: number;
}

export interface JournalRef {
  key: string;
  first: number;
  last: number;
}

export interface LoadedCheckpoint {
  manifest: CheckpointManifest | null;
  snapshot: Uint8Array | null;
  /** Journal entries not covered by the snapshot, by first offset; `value` is the entry. */
  journal: (JournalRef & { value: Uint8Array })[];
}

function bad(message: string): ForeshockError {
  return new ForeshockError('FS_DETECTOR_CHECKPOINT', message);
}

function padOffset(n: number): string {
  return String(n).padStart(OFFSET_DIGITS, '0');
}

export class CheckpointStore {
  constructor(
    private readonly store: StateStore,
    /** Largest value written in one key; a snapshot above it is split. */
    private readonly chunkBytes: number,
  ) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1024) throw bad(`chunk size ${chunkBytes} is below 1024 bytes`);
  }

  /** Key prefix of one partition's checkpoint: per consumer group, topic and partition. */
  static base(group: string, topic: string, partition: number): string {
    return `detector:ckpt:${group}:${topic}:${partition}`;
  }

  /**
   * Read the current snapshot and the journal entries after it. Throws FS_DETECTOR_CHECKPOINT
   * when what is stored is unusable (the caller starts the partition cold) and the store's
   * own error when it cannot be reached (the caller retries).
   */
  async load(base: string): Promise<LoadedCheckpoint> {
    const { store } = this;
    const raw = await store.get(`${base}:m`);
    let manifest: CheckpointManifest | null = null;
    let snapshot: Uint8Array | null = null;
    if (raw !== null) {
      manifest = parseManifest(raw);
      const m = manifest;
      const parts = await Promise.all(Array.from({ length: m.chunks }, (_, i) => store.get(`${base}:s:${m.gen}:${i}`)));
      let total = 0;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        if (p === null) throw bad(`${base}: chunk ${i} of snapshot ${m.gen} is missing`);
        total += p.length;
      }
      if (total !== m.bytes) throw bad(`${base}: snapshot ${m.gen} has ${total} bytes, its manifest says ${m.bytes}`);
      snapshot = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        snapshot.set(p!, o);
        o += p!.length;
      }
      if (crc32(snapshot) !== m.crc) throw bad(`${base}: snapshot ${m.gen} fails its CRC-32 check`);
    }
    const covered = manifest === null ? -1 : manifest.offset;
    const stale: string[] = [];
    for (const k of await store.keys(`${base}:s:`)) {
      if (manifest === null || !k.startsWith(`${base}:s:${manifest.gen}:`)) stale.push(k);
    }
    const refs: JournalRef[] = [];
    for (const key of await store.keys(`${base}:j:`)) {
      const ref = parseJournalKey(base, key);
      if (ref === null) continue;
      if (ref.last <= covered) stale.push(key);
      else refs.push(ref);
    }
    refs.sort((a, b) => a.first - b.first || a.last - b.last);
    const values = await Promise.all(refs.map((r) => store.get(r.key)));
    const journal: LoadedCheckpoint['journal'] = [];
    for (let i = 0; i < refs.length; i++) {
      const v = values[i];
      if (v !== null) journal.push({ ...refs[i], value: v });
    }
    await this.deleteAll(stale);
    return { manifest, snapshot, journal };
  }

  /**
   * Make `bytes` the partition's current snapshot (covering `offset`), then delete the
   * previous generation and the journal entries it replaces. Resolves once the manifest is
   * durable; a failed deletion is left for the next load to sweep.
   */
  async writeSnapshot(base: string, bytes: Uint8Array, offset: number, series: number, previous: CheckpointManifest | null, journal: readonly string[]): Promise<CheckpointManifest> {
    const { store, chunkBytes } = this;
    const gen = randomBytes(6).toString('hex');
    const chunks = Math.max(1, Math.ceil(bytes.length / chunkBytes));
    const writes: Promise<void>[] = [];
    for (let i = 0; i < chunks; i++) writes.push(store.set(`${base}:s:${gen}:${i}`, bytes.subarray(i * chunkBytes, Math.min(bytes.length, (i + 1) * chunkBytes))));
    await Promise.all(writes);
    const manifest: CheckpointManifest = { v: MANIFEST_VERSION, gen, chunks, bytes: bytes.length, crc: crc32(bytes), offset, series, writtenAt: Date.now() };
    await store.set(`${base}:m`, new TextEncoder().encode(JSON.stringify(manifest)));
    const old: string[] = [...journal];
    if (previous !== null) for (let i = 0; i < previous.chunks; i++) old.push(`${base}:s:${previous.gen}:${i}`);
    try {
      await this.deleteAll(old);
    } catch {
      // Swept by the next load; the new snapshot is already current.
    }
    return manifest;
  }

  /** Store a journal entry for messages first..last; resolves when durable. Returns its key. */
  async writeJournal(base: string, first: number, last: number, entry: Uint8Array): Promise<string> {
    const key = `${base}:j:${padOffset(first)}-${padOffset(last)}`;
    await this.store.set(key, entry);
    return key;
  }

  /** Delete a partition's whole checkpoint (tests, operators resetting a group). */
  async clear(base: string): Promise<void> {
    const keys = [`${base}:m`, ...(await this.store.keys(`${base}:s:`)), ...(await this.store.keys(`${base}:j:`))];
    await this.deleteAll(keys);
  }

  private async deleteAll(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.store.del(k)));
  }
}

function parseManifest(raw: Uint8Array): CheckpointManifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw bad('checkpoint manifest is not JSON');
  }
  const o = m as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) throw bad('checkpoint manifest is not an object');
  if (o.v !== MANIFEST_VERSION) throw bad(`checkpoint manifest version ${String(o.v)} is not supported (expected ${MANIFEST_VERSION})`);
  for (const k of ['chunks', 'bytes', 'crc', 'offset', 'series', 'writtenAt'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw bad(`checkpoint manifest field ${k} is not a number`);
  }
  if (typeof o.gen !== 'string' || !/^[0-9a-f]+$/.test(o.gen)) throw bad('checkpoint manifest field gen is not a generation id');
  if (!Number.isInteger(o.chunks) || (o.chunks as number) < 1) throw bad('checkpoint manifest field chunks must be a positive integer');
  return o as unknown as CheckpointManifest;
}

function parseJournalKey(base: string, key: string): JournalRef | null {
  const m = /^(\d+)-(\d+)$/.exec(key.slice(base.length + 3));
  if (m === null) return null;
  return { key, first: Number(m[1]), last: Number(m[2]) };
}
