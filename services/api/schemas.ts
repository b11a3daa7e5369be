// JSON schemas of the query API: fastify validates every request with them, and @fastify/swagger
// turns the same objects into the OpenAPI document at /docs. Each route carries an example.

const labels = { type: 'object', additionalProperties: { type: 'string' }, example: { __name__: 'node_filesystem_avail_ratio', host: 'web-1', cluster: 'eu-1', service: 'web' } } as const;
/** Numbers the detector may not have yet (warm-up) are null. */
const num = { type: ['number', 'null'] } as const;
const state = { type: 'string', enum: ['warmup', 'normal', 'pending', 'anomalous', 'resolving'] } as const;
const errorResponse = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  example: { code: 'FS_API_SERIES', message: 'querystring/series: no active series "x{}"' },
} as const;
const errors = { 400: errorResponse, 401: errorResponse, 403: errorResponse, 404: errorResponse } as const;
const limit = (def: number, max: number) => ({ type: 'integer', minimum: 1, maximum: max, default: def }) as const;
const offset = { type: 'integer', minimum: 0, default: 0 } as const;
const time = {
  type: 'string', maxLength: 40, pattern: '^(\\d{1,16}|\\d{4}-\\d{2}-\\d{2}T.+)$',
  description: 'ms since the epoch, or an RFC 3339 time',
} as const;

const EXAMPLE_KEY = 'node_filesystem_avail_ratio{cluster="eu-1",host="web-1",service="web"}';
const T = 1767225600000;

const crossing = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    threshold: { type: 'number' },
    direction: { type: 'string', enum: ['above', 'below'] },
    at: { type: 'number', description: 'expected crossing, ms since the epoch' },
    earliest: { type: 'number', description: 'earliest crossing (near edge of the prediction interval)' },
    latest: { type: ['number', 'null'], description: 'latest crossing; null when the far edge does not reach the threshold within 7 days' },
  },
} as const;
const crossingExample = { name: 'breach', threshold: 0.1, direction: 'below', at: T + 5_400_000, earliest: T + 3_900_000, latest: T + 8_100_000 };

const seriesSummary = {
  type: 'object',
  properties: {
    key: { type: 'string' }, labels, host: { type: 'string' }, kind: { type: 'string', enum: ['gauge', 'counter'] }, state,
    samples: { type: 'number' }, lastTs: { type: 'number', description: 'event time of the last sample, ms' },
    value: num, expected: num, lower: num, upper: num, score: num, z: num, trendPerS: num,
    publishedAt: { type: 'number' },
    model: {
      type: ['object', 'null'],
      description: 'Holt forecast model (level, trend per second, residual σ, mean step, smoothing, interval quantile)',
      additionalProperties: { type: 'number' },
    },
    crossings: { type: 'array', items: crossing },
  },
} as const;
const seriesExample = {
  key: EXAMPLE_KEY, labels: labels.example, host: 'web-1', kind: 'gauge', state: 'normal', samples: 1440, lastTs: T,
  value: 0.31, expected: 0.312, lower: 0.29, upper: 0.334, score: 0.02, z: -0.4, trendPerS: -0.0000412, publishedAt: T + 1200,
  model: { level: 0.31, trendPerS: -0.0000412, residualSd: 0.004, stepMs: 15000, alpha: 0.2, beta: 0.05, phi: 1, z: 1.96 },
  crossings: [crossingExample],
};

const explanation = {
  type: 'object',
  additionalProperties: true,
  description: 'why: detectors that fired, value, expected value and band, z, trend, score, a one-line summary',
  properties: {
    fired: { type: 'array', items: { type: 'string' } }, value: num, expected: num, lower: num, upper: num, z: num, trendPerS: num,
    score: num, summary: { type: 'string' },
  },
} as const;
const explanationExample = {
  fired: ['zscore', 'ewma'], value: 0.97, expected: 0.41, lower: 0.33, upper: 0.49, z: 7.8, trendPerS: 0.0009, score: 0.998,
  summary: 'value 0.97 above expected 0.41 (band 0.33–0.49), z 7.8; zscore, ewma fired',
};

export const seriesSchema = {
  tags: ['series'],
  summary: 'Series the detector workers hold, with their current state',
  description: 'Scans the published series records (cold path); filters combine with AND.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      match: { type: 'string', maxLength: 1024, description: 'substring of the series key', example: 'node_load1' },
      metric: { type: 'string', maxLength: 256, example: 'node_load1' },
      host: { type: 'string', maxLength: 256, example: 'web-1' },
      cluster: { type: 'string', maxLength: 256, example: 'eu-1' },
      service: { type: 'string', maxLength: 256, example: 'web' },
      state: { ...state, example: 'anomalous' },
      label: { type: 'array', items: { type: 'string', pattern: '^[^=]+=.*$' }, maxItems: 16, description: 'name=value, repeatable', example: ['job=node'] },
      limit: limit(100, 10_000),
      offset,
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' }, series: { type: 'array', items: seriesSummary } },
      example: { total: 1, limit: 100, offset: 0, series: [seriesExample] },
    },
    ...errors,
  },
} as const;

export const seriesValuesSchema = {
  tags: ['series'],
  summary: 'Recent values of a series with the expected band and score (for the chart)',
  description: 'Read back from the embedded metric sink; `available` is false when the sink is not readable (e.g. InfluxDB).',
  querystring: {
    type: 'object',
    additionalProperties: false,
    required: ['series'],
    properties: {
      series: { type: 'string', minLength: 1, maxLength: 4096, example: EXAMPLE_KEY },
      window: { type: 'string', maxLength: 32, description: 'how far back from the last sample (duration), default 1h', example: '2h' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        series: { type: 'string' }, from: { type: 'number' }, to: { type: 'number' }, available: { type: 'boolean' },
        points: {
          type: 'array',
          items: { type: 'object', properties: { ts: { type: 'number' }, value: num, expected: num, lower: num, upper: num, score: num } },
        },
      },
      example: { series: EXAMPLE_KEY, from: T - 3_600_000, to: T, available: true, points: [{ ts: T, value: 0.31, expected: 0.312, lower: 0.29, upper: 0.334, score: 0.02 }] },
    },
    ...errors,
  },
} as const;

export const forecastSchema = {
  tags: ['forecast'],
  summary: 'Forecast path with its prediction interval, and predicted threshold crossings',
  description: 'Either `series`, or `host` and `metric` (every series of that metric on that host, at most 50).',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      series: { type: 'string', minLength: 1, maxLength: 4096, example: EXAMPLE_KEY },
      host: { type: 'string', maxLength: 256, example: 'web-1' },
      metric: { type: 'string', maxLength: 256, example: 'node_filesystem_avail_ratio' },
      horizon: { type: 'string', maxLength: 32, description: 'duration like 30m, 6h, 7d (default detector.forecastHorizon, at most 30d)', example: '6h' },
      steps: { type: 'integer', minimum: 1, maximum: 1000, default: 60, description: 'points after the last sample' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        horizonMs: { type: 'number' },
        steps: { type: 'integer' },
        forecasts: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              series: seriesSummary,
              points: {
                type: 'array',
                items: { type: 'object', properties: { ts: { type: 'number' }, mean: num, lower: num, upper: num } },
              },
              crossings: { type: 'array', items: { type: 'object', properties: { ...crossing.properties, withinHorizon: { type: 'boolean' } } } },
            },
          },
        },
      },
      example: {
        horizonMs: 21_600_000,
        steps: 2,
        forecasts: [{
          series: seriesExample,
          points: [
            { ts: T, mean: 0.31, lower: 0.302, upper: 0.318 },
            { ts: T + 10_800_000, mean: 0.165, lower: 0.11, upper: 0.22 },
            { ts: T + 21_600_000, mean: 0.02, lower: -0.09, upper: 0.13 },
          ],
          crossings: [{ ...crossingExample, withinHorizon: true }],
        }],
      },
    },
    ...errors,
  },
} as const;

const riskEntry = {
  type: 'object',
  properties: {
    key: { type: 'string' }, labels, host: { type: 'string' }, metric: { type: 'string' }, state,
    value: num, score: num, trendPerS: num, crossing,
  },
} as const;

export const risksSchema = {
  tags: ['forecast'],
  summary: 'Series predicted to breach their thresholds soonest',
  description: 'The merged risk boards of all detector workers (each keeps its api.riskBoardSize soonest); filters apply to that list.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      cluster: { type: 'string', maxLength: 256, example: 'eu-1' },
      service: { type: 'string', maxLength: 256, example: 'web' },
      host: { type: 'string', maxLength: 256, example: 'web-1' },
      metric: { type: 'string', maxLength: 256, example: 'node_filesystem_avail_ratio' },
      within: { type: 'string', maxLength: 32, description: 'only crossings expected within this duration from now', example: '24h' },
      limit: limit(50, 1000),
      offset,
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' },
        workers: { type: 'integer' }, series: { type: 'integer' }, breaching: { type: 'integer' },
        risks: { type: 'array', items: riskEntry },
      },
      example: {
        total: 1, limit: 50, offset: 0, workers: 1, series: 1440, breaching: 1,
        risks: [{ key: EXAMPLE_KEY, labels: labels.example, host: 'web-1', metric: 'node_filesystem_avail_ratio', state: 'normal', value: 0.31, score: 0.02, trendPerS: -0.0000412, crossing: crossingExample }],
      },
    },
    ...errors,
  },
} as const;

const anomalyEvent = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['anomaly_opened', 'anomaly_updated', 'anomaly_resolved', 'forecast_breach'] },
    seriesKey: { type: 'string' }, labels, host: { type: 'string' },
    ts: { type: 'number' }, startedAt: { type: 'number' },
    severity: { type: 'string', enum: ['warning', 'critical'] },
    explanation,
  },
} as const;

export const anomaliesSchema = {
  tags: ['events'],
  summary: 'Recent detector events, newest first, each with its explanation',
  description: '`state=open` keeps events of episodes not yet resolved, `state=resolved` those that are. Page with `before` = the `next` of the previous answer.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      from: { ...time, example: '2026-01-01T00:00:00Z' },
      to: { ...time, example: String(T) },
      host: { type: 'string', maxLength: 256, example: 'web-1' },
      cluster: { type: 'string', maxLength: 256, example: 'eu-1' },
      service: { type: 'string', maxLength: 256, example: 'web' },
      series: { type: 'string', maxLength: 4096, example: EXAMPLE_KEY },
      kind: { ...anomalyEvent.properties.kind, example: 'anomaly_opened' },
      state: { type: 'string', enum: ['open', 'resolved'], example: 'open' },
      limit: limit(100, 10_000),
      before: { type: 'string', maxLength: 64, pattern: '^[0-9-]+$', description: 'cursor: the `next` of the previous page' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { anomalies: { type: 'array', items: anomalyEvent }, next: { type: ['string', 'null'] } },
      example: {
        anomalies: [{
          id: '9f2c4e1a07b3d5e6-1767225540000-anomaly_opened', kind: 'anomaly_opened', seriesKey: 'node_load1{cluster="eu-1",host="web-1",service="web"}',
          labels: { __name__: 'node_load1', host: 'web-1', cluster: 'eu-1', service: 'web' }, host: 'web-1', ts: T, startedAt: T - 60_000,
          severity: 'critical', explanation: explanationExample,
        }],
        next: null,
      },
    },
    ...errors,
  },
} as const;

export const alertsSchema = {
  tags: ['events'],
  summary: 'Alerts the intervention stage opened in Alertmanager, newest first, with their explanation',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: { type: 'string', enum: ['firing', 'resolved'], example: 'firing' },
      status: { type: 'string', enum: ['firing', 'resolved'], description: 'alias of state' },
      host: { type: 'string', maxLength: 256, example: 'web-1' },
      cluster: { type: 'string', maxLength: 256, example: 'eu-1' },
      service: { type: 'string', maxLength: 256, example: 'web' },
      from: { ...time, description: 'alerts active at or after this time', example: '2026-01-01T00:00:00Z' },
      to: { ...time, description: 'alerts started at or before this time', example: String(T) },
      limit: limit(100, 10_000),
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        total: { type: 'integer' },
        alerts: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: true,
            properties: {
              id: { type: 'string' }, alertname: { type: 'string' }, seriesKey: { type: 'string' }, labels, host: { type: 'string' },
              severity: { type: 'string' }, status: { type: 'string', enum: ['firing', 'resolved'] },
              startsAt: { type: 'number' }, endsAt: { type: ['number', 'null'] }, lastSentAt: { type: ['number', 'null'] }, explanation,
            },
          },
        },
      },
      example: {
        total: 1,
        alerts: [{
          id: 'a-9f2c4e1a07b3d5e6', alertname: 'ForeshockAnomaly', seriesKey: 'node_load1{cluster="eu-1",host="web-1",service="web"}',
          labels: { __name__: 'node_load1', host: 'web-1', cluster: 'eu-1', service: 'web' }, host: 'web-1', severity: 'critical',
          status: 'firing', startsAt: T - 60_000, endsAt: null, lastSentAt: T, explanation: explanationExample,
        }],
      },
    },
    ...errors,
  },
} as const;
