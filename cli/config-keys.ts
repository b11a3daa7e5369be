// `foreshock config-keys`: every configuration key with its env variable, default and meaning,
// as tab-separated lines or as the Markdown table README.md embeds (a test keeps them equal).

import { configKeys, envName, formatDuration } from '../shared/config/index.js';

export function renderConfigKeys(markdown: boolean): string {
  const out: string[] = markdown ? ['| key | env | default | meaning |', '| --- | --- | --- | --- |'] : [];
  for (const [path, leaf] of configKeys()) {
    const def = leaf.type === 'duration' ? formatDuration(leaf.default as number) : JSON.stringify(leaf.default);
    out.push(
      markdown
        ? `| \`${path}\` | \`${envName(path)}\` | \`${def}\` | ${leaf.doc.replaceAll('|', '\\|')} |`
        : `${path}\t${envName(path)}\t${def}\t${leaf.doc}`,
    );
  }
  return out.join('\n') + '\n';
}
