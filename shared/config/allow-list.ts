// URL allow-lists for outbound requests Foreshock makes on the config's say (runbook webhooks):
// checked at config load and again where the request is made, so no rule reaches an arbitrary host.

/**
 * Whether `url` is covered by one of the `allowList` entries. An entry is a URL prefix: the scheme,
 * host and port must be equal and the path must start with the entry's path at a segment
 * boundary (`https://ops.example.com/hooks` allows `/hooks/restart`, not `/hooksmith`, and never
 * `https://ops.example.com.evil.net`). Credentials in the URL are refused.
 */
export function urlAllowed(url: string, allowList: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username !== '' || u.password !== '') return false;
  for (const entry of allowList) {
    let a: URL;
    try {
      a = new URL(entry);
    } catch {
      continue;
    }
    if (a.protocol !== u.protocol || a.host !== u.host) continue;
    const prefix = a.pathname.endsWith('/') ? a.pathname : a.pathname + '/';
    if (u.pathname === a.pathname || u.pathname.startsWith(prefix)) return true;
  }
  return false;
}
