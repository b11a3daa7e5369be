#!/usr/bin/env bash
# Production dependencies against npm's advisory database: fails on a high or critical advisory.
# Where the registry's advisory endpoint cannot be reached (a mirror or proxy that only serves
# packages), it says so and exits 0 — "could not check" is reported, never passed off as "clean".
#
#   bash deploy/local/audit.sh        (npm run audit:prod)

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=$(npm audit --omit=dev --audit-level=high --json 2>/dev/null)
rc=$?
if [[ $rc -ne 0 ]] && node -e 'const r=JSON.parse(process.argv[1]); process.exit(r.statusCode || r.error ? 0 : 1)' "$out" 2>/dev/null; then
  msg=$(node -e 'const r=JSON.parse(process.argv[1]); console.log(r.message ?? r.error?.summary ?? "unknown error")' "$out")
  echo "audit: NOT CHECKED — the advisory endpoint did not answer: $msg"
  exit 0
fi
node -e '
  const r = JSON.parse(process.argv[1]);
  const v = r.metadata?.vulnerabilities ?? {};
  console.log(`audit: production dependencies ${r.metadata?.dependencies?.prod ?? "?"}; advisories: ` +
    ["critical", "high", "moderate", "low", "info"].map((k) => `${k} ${v[k] ?? 0}`).join(", "));
  for (const [name, x] of Object.entries(r.vulnerabilities ?? {})) console.log(`  ${x.severity.padEnd(8)} ${name} ${x.range}`);
' "$out"
exit "$rc"
