// Real fire drills on a RealStack: a filesystem filled at a steady rate (a tmpfs node-exporter
// sees), and a CPU burn on every core. Each reports what Alertmanager received and when.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, waitFor } from '../../test/support/wait.js';
import type { RealStack, SeenAlert } from './stack.js';

const MIB = 1024 * 1024;

export interface DiskDrillOptions {
  sizeMiB: number;
  rateMiBPerS: number;
  /** Time the filesystem is watched before the fill starts (its series get some history), ms. */
  baselineMs: number;
  log?: (line: string) => void;
}

export interface DiskDrillResult {
  mountpoint: string;
  fillStartedAt: number;
  fullAt: number;
  /** First Alertmanager alert that names the filesystem, and its summary; null when none came before it was full. */
  warnedAt: number | null;
  warningSummary: string;
  /** Seconds between the warning and the filesystem being full (positive: before). */
  leadS: number | null;
  /** Alerts Alertmanager held during the drill (any host). */
  alerts: SeenAlert[];
}

function alertsSince(stack: RealStack, t: number): SeenAlert[] {
  return [...stack.alerts.values()].filter((a) => a.lastSeen >= t);
}

function mentions(a: SeenAlert, text: string): boolean {
  return Object.values(a.annotations).some((v) => v.includes(text));
}

/**
 * Mounts a tmpfs of `sizeMiB` (root only), lets node-exporter report it for `baselineMs`, then
 * writes `rateMiBPerS` into it until it is full. Unmounts it afterwards.
 */
export async function diskDrill(stack: RealStack, o: DiskDrillOptions): Promise<DiskDrillResult> {
  if (process.getuid?.() !== 0) throw new Error('the disk drill mounts a tmpfs: it needs root');
  const log = o.log ?? (() => undefined);
  const mountpoint = mkdtempSync(join(tmpdir(), 'fs-drill-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${o.sizeMiB}m`, 'fs-drill', mountpoint]);
  const t0 = Date.now();
  try {
    await waitFor(async () => {
      const r = await stack.api<{ total: number }>(`/api/v1/series?match=${encodeURIComponent(`mountpoint="${mountpoint}"`)}&limit=1`);
      return r.total > 0 ? true : null;
    }, 120_000, 1000);
    log(`disk drill: ${mountpoint} (${o.sizeMiB} MiB) seen by Foreshock after ${((Date.now() - t0) / 1000).toFixed(0)} s; baseline ${o.baselineMs / 1000} s`);
    await new Promise((r) => setTimeout(r, o.baselineMs));
    const chunk = Buffer.alloc(Math.round(o.rateMiBPerS * MIB), 0x5a);
    const fd = openSync(join(mountpoint, 'fill'), 'w');
    const fillStartedAt = Date.now();
    let fullAt = 0;
    let warned: SeenAlert | null = null;
    try {
      for (let k = 1; ; k++) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          fullAt = Date.now();
          break;
        }
        await stack.pollAlerts();
        warned ??= alertsSince(stack, fillStartedAt).find((a) => mentions(a, mountpoint)) ?? null;
        const next = fillStartedAt + k * 1000;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    } finally {
      closeSync(fd);
    }
    log(`disk drill: full after ${((fullAt - fillStartedAt) / 1000).toFixed(0)} s; warning ${warned === null ? 'none yet' : `${((fullAt - warned.firstSeen) / 1000).toFixed(0)} s before`}`);
    // A warning that arrives after the filesystem is full is late, but it is reported.
    if (warned === null) {
      const deadline = Date.now() + 60_000;
      while (warned === null && Date.now() < deadline) {
        await stack.pollAlerts();
        warned = alertsSince(stack, fillStartedAt).find((a) => mentions(a, mountpoint)) ?? null;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    return {
      mountpoint,
      fillStartedAt,
      fullAt,
      warnedAt: warned?.firstSeen ?? null,
      warningSummary: warned?.annotations.summary ?? '',
      leadS: warned === null ? null : (fullAt - warned.firstSeen) / 1000,
      alerts: alertsSince(stack, fillStartedAt),
    };
  } finally {
    try {
      execFileSync('umount', [mountpoint]);
    } catch {
      execFileSync('umount', ['-l', mountpoint]);
    }
    rmSync(mountpoint, { recursive: true, force: true });
  }
}

export interface CpuBurnOptions {
  burnMs: number;
  /** How long to wait for the alert to resolve after the burn, ms. */
  resolveWithinMs: number;
  log?: (line: string) => void;
}

export interface CpuBurnResult {
  cores: number;
  burnStartedAt: number;
  burnStoppedAt: number;
  /** Distinct alerts Alertmanager held from the burn's start to the end of the drill (every host). */
  alerts: SeenAlert[];
  /** Seconds from the burn's start to the first alert; null when none. */
  pagedAfterS: number | null;
  /** Seconds from the burn's end until no alert was active any more; null when one still was. */
  resolvedAfterS: number | null;
}

/** Burns every core (at nice 19, so the stack itself still gets scheduled) for `burnMs`. */
export async function cpuBurn(stack: RealStack, o: CpuBurnOptions): Promise<CpuBurnResult> {
  const log = o.log ?? (() => undefined);
  const cores = cpus().length;
  const burners: ChildProcess[] = [];
  const burnStartedAt = Date.now();
  for (let i = 0; i < cores; i++) burners.push(spawn('nice', ['-n', '19', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' }));
  log(`cpu burn: ${cores} burners for ${o.burnMs / 1000} s`);
  let burnStoppedAt = 0;
  try {
    while (Date.now() - burnStartedAt < o.burnMs) {
      await stack.pollAlerts();
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    for (const b of burners) await stopChild(b, 'SIGKILL', 5000).catch(() => undefined);
    burnStoppedAt = Date.now();
  }
  log('cpu burn: stopped; waiting for the alert to resolve');
  let resolvedAfterS: number | null = null;
  const deadline = Date.now() + o.resolveWithinMs;
  while (Date.now() < deadline) {
    await stack.pollAlerts();
    if ((await stack.activeAlerts()).length === 0 && alertsSince(stack, burnStartedAt).length > 0) {
      resolvedAfterS = (Date.now() - burnStoppedAt) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  const alerts = alertsSince(stack, burnStartedAt);
  const first = alerts.reduce((m, a) => Math.min(m, a.firstSeen), Infinity);
  return { cores, burnStartedAt, burnStoppedAt, alerts, pagedAfterS: Number.isFinite(first) ? (first - burnStartedAt) / 1000 : null, resolvedAfterS };
}
