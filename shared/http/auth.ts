// Bearer-token auth of the HTTP server: write tokens for the receivers (and other actions),
// read tokens for the API and the page's data. Tokens are configured as SHA-256 hashes, so the
// config holds nothing a reader could replay; presented tokens are hashed and compared in
// constant time against every configured hash.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../errors/index.js';
import type { Logger, Telemetry } from '../telemetry/index.js';

/** What a route needs: `public` (health, page assets, docs), `read` or `write`. */
export type RouteAccess = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Access class of the route; default: GET/HEAD read, anything else write. */
    access?: RouteAccess;
  }
}

export interface AuthOptions {
  /** SHA-256 digests (32 bytes each) of accepted read tokens; empty: reads are open. */
  readHashes: Buffer[];
  /** SHA-256 digests of accepted write tokens; empty: writes are open. */
  writeHashes: Buffer[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Config entries (hex SHA-256, or `file:PATH` with one hash per line, `#` comments) → digests.
 * Throws ConfigError naming `key` for anything that is not a hash.
 */
export function resolveTokenHashes(key: string, entries: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of entries) {
    let lines: string[];
    let where = '';
    if (entry.startsWith('file:')) {
      const path = entry.slice(5);
      try {
        lines = readFileSync(path, 'utf8').split('\n');
      } catch (err) {
        throw new ConfigError(key, `cannot read ${path}: ${(err as Error).message}`);
      }
      where = ` in ${path}`;
    } else {
      lines = [entry];
    }
    for (const raw of lines) {
      const line = raw.trim().toLowerCase();
      if (line === '' || line.startsWith('#')) continue;
      if (!HEX64.test(line)) {
        throw new ConfigError(key, `"${line.slice(0, 12)}…"${where} is not a SHA-256 hash (64 hex digits); hash a token with: printf %s TOKEN | sha256sum`);
      }
      out.push(Buffer.from(line, 'hex'));
    }
  }
  return out;
}

/** SHA-256 of a token, hex: what goes into auth.readTokens / auth.writeTokens. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** true when `digest` equals one of `hashes`; looks at every hash, so timing says nothing about which. */
function matches(digest: Buffer, hashes: Buffer[]): boolean {
  let found = false;
  for (const h of hashes) if (timingSafeEqual(digest, h)) found = true;
  return found;
}

/** Adds the auth check to every route of `app` (call before routes are registered). */
export function installAuth(app: FastifyInstance, options: AuthOptions, logger: Logger, telemetry: Telemetry): void {
  const { readHashes, writeHashes } = options;
  if (readHashes.length === 0) logger.warn('auth.readTokens is empty: the API, page data and /metrics are open to anyone who can reach the port');
  if (writeHashes.length === 0) logger.warn('auth.writeTokens is empty: the write endpoints accept data from anyone who can reach the port');
  if (readHashes.length === 0 && writeHashes.length === 0) return;

  const deny = (reply: FastifyReply, status: 401 | 403, reason: string, message: string): FastifyReply => {
    telemetry.authRejected.inc({ reason });
    if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="foreshock"');
    return reply.status(status).send({ code: status === 401 ? 'FS_AUTH_REQUIRED' : 'FS_AUTH_FORBIDDEN', message });
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const configured = req.routeOptions.config?.access;
    // Unknown routes fall through to the 404 handler without leaking whether they exist behind auth.
    if (req.routeOptions.url === undefined) return;
    const access: RouteAccess = configured ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
    if (access === 'public') return;
    const need = access === 'read' ? readHashes : writeHashes;
    if (need.length === 0) return;
    const header = req.headers.authorization;
    // `Token` is how Telegraf's influxdb_v2 output (and InfluxDB clients) send the same token.
    const m = header === undefined ? null : /^(?:Bearer|Token)[ ]+([^\s]+)\s*$/i.exec(header);
    if (m === null) return deny(reply, 401, 'missing', `${access} endpoint: send "Authorization: Bearer <token>"`);
    const digest = createHash('sha256').update(m[1], 'utf8').digest();
    if (matches(digest, need)) return;
    const other = access === 'read' ? writeHashes : readHashes;
    if (matches(digest, other)) {
      return deny(reply, 403, 'forbidden', `a ${access === 'read' ? 'write' : 'read'} token cannot be used on a ${access} endpoint`);
    }
    return deny(reply, 401, 'invalid', 'bearer token not accepted');
  });
}
