// Where the NAB tests find the NAB folder, and whether its absence is a failure (CI, or a run
// that requires its services and data) or a skip (a developer without the data).

import { isNabDir, NAB_DIR_ENV, resolveNabDir } from './corpus.js';

export interface NabDirForTests {
  readonly dir: string;
  readonly available: boolean;
  /** Missing data must fail the run: FORESHOCK_REQUIRE_SERVICES=1 or CI is set. */
  readonly required: boolean;
  /** Message for the failing test when required and missing. */
  readonly missingMessage: string;
}

function isSet(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export async function nabDirForTests(env: NodeJS.ProcessEnv = process.env): Promise<NabDirForTests> {
  const dir = resolveNabDir(undefined, env);
  const available = await isNabDir(dir);
  const required = isSet(env.FORESHOCK_REQUIRE_SERVICES) || isSet(env.CI);
  const missingMessage =
    `NAB data not found at ${dir} (needs data/ and labels/combined_windows.json); ` +
    `set ${NAB_DIR_ENV} to the NAB folder`;
  return { dir, available, required, missingMessage };
}
