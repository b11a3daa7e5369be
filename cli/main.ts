#!/usr/bin/env node
// The `foreshock` command: start (every service in one process), check-config, replay.

import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { describeConfig, loadConfig } from '../shared/config/index.js';
import { renderConfigKeys } from './config-keys.js';
import { ConfigError } from '../shared/errors/index.js';
import { createLogger } from '../shared/telemetry/index.js';
import { startForeshock, SERVICES, type ServiceName } from './app.js';

const USAGE = `Usage: foreshock <command> [options]

Commands:
  start                 run every service in one process (embedded adapters by default)
  ${SERVICES.filter((s) => s !== 'all').join('|')}
                        run one service
  check-config          validate the configuration and print it (secrets masked)
  config-keys           list every configuration key with its env variable and default (--markdown)
  replay FILE.csv       run a CSV (timestamp,value) through the detector; --nab --out OUT.csv
  backtest              replay history from Prometheus through the pipeline and report what
                        would have paged: --prometheus URL --match SELECTOR [--match …]
                        [--from -7d] [--to now] [--json FILE]

Options:
  -c, --config FILE     YAML config file (default: env FORESHOCK_CONFIG)
  -h, --help            show this help
`;

/** `--from -7d` as users write it: node's parser takes `-7d` for an option, so join such pairs. */
function joinRelativeTimes(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--from' || argv[i] === '--to') && i + 1 < argv.length && /^-\d/.test(argv[i + 1])) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinRelativeTimes(argv),
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      nab: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
      'nab-dir': { type: 'string' },
      markdown: { type: 'boolean' },
      prometheus: { type: 'string' },
      match: { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }

  if (command === 'config-keys') {
    process.stdout.write(renderConfigKeys(values.markdown ?? false));
    return 0;
  }

  const { config, sources } = loadConfig({ file: values.config });

  if (command === 'check-config') {
    process.stdout.write(toYaml(describeConfig(config)));
    const overridden = Object.entries(sources);
    process.stdout.write(`# ${overridden.length} key(s) set: ${overridden.map(([k, s]) => `${k} (${s})`).join(', ') || 'none, all defaults'}\n`);
    process.stdout.write('config OK\n');
    return 0;
  }

  if (command === 'replay') {
    const { runReplay } = await import('./replay.js');
    const file = positionals[1];
    if (!file) throw new ConfigError('replay', 'needs a FILE argument');
    return runReplay({ file, nab: values.nab ?? false, out: values.out, nabDir: values['nab-dir'], config });
  }

  if (command === 'backtest') {
    const { runBacktest, formatBacktest, parseTimeArg, writeBacktestJson } = await import('./backtest.js');
    if (!values.prometheus) throw new ConfigError('--prometheus', 'backtest needs the URL of a Prometheus-compatible query API');
    const now = Date.now();
    const report = await runBacktest({
      prometheus: values.prometheus,
      match: values.match && values.match.length > 0 ? values.match : ['{__name__=~".+"}'],
      from: parseTimeArg('--from', values.from ?? '-1d', now),
      to: parseTimeArg('--to', values.to ?? 'now', now),
      configFile: values.config,
    });
    process.stdout.write(formatBacktest(report));
    if (values.json) await writeBacktestJson(values.json, report);
    return 0;
  }

  const service = (command === 'start' ? 'all' : command) as ServiceName;
  if (!SERVICES.includes(service)) {
    process.stderr.write(`foreshock: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const logger = createLogger(config.log.level);
  const running = await startForeshock(config, logger, service);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'draining and stopping');
      running.close().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

// A closed pipe (`foreshock config-keys | head`) ends the output quietly, as other CLIs do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`foreshock: invalid configuration: ${err.message}\n`);
      process.exitCode = 78; // EX_CONFIG
    } else if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`foreshock: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`foreshock: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
