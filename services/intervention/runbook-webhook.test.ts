import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunbookRule } from '../../shared/config/index.js';
import { seriesKey, sortedLabels, type AnomalyEvent } from '../../shared/model/index.js';
import { DEFAULT_BODY, renderTemplate, ruleMatches, signature, type TemplateContext } from './runbook-webhook.js';

const labels = sortedLabels([['__name__', 'disk_used'], ['host', 'db-1'], ['cluster', 'db']]);
const event: AnomalyEvent = {
  id: 'e1',
  kind: 'forecast_breach',
  seriesKey: seriesKey(labels),
  labels,
  host: 'db-1',
  ts: Date.UTC(2025, 0, 1),
  startedAt: Date.UTC(2025, 0, 1),
  severity: 'warning',
  explanation: {
    fired: ['holt'], value: 81.5, expected: 70, lower: 60, upper: 80, z: 3, trendPerS: 0.001, score: 0.93, summary: 'disk fills in 3h',
    forecast: { threshold: 95, breachAt: Date.UTC(2025, 0, 1, 3), breachEarliest: Date.UTC(2025, 0, 1, 2), breachLatest: Date.UTC(2025, 0, 1, 4) },
  },
};
const ctx: TemplateContext = { runbook: 'grow-disk', execution: 'x/1', target: 'db-1', cluster: 'db', event };

const rule: RunbookRule = {
  id: 'grow-disk', url: 'https://h/hooks', kinds: ['forecast_breach'], labels: { cluster: 'db' }, minScore: 0.9, forecast: 'only',
  body: null, secret: 's', target: '{{host}}', timeoutMs: 1000, attempts: 1, cooldownMs: 0, approval: false, verifyWindowMs: 1000,
};

describe('runbook templates', () => {
  it('fills placeholders: a whole-string placeholder keeps its type, inside text it becomes text', () => {
    const out = renderTemplate(
      { host: '{{host}}', score: '{{ score }}', labels: '{{labels}}', msg: '{{labels.cluster}}/{{host}} at {{score}}', '{{runbook}}': [1, '{{forecast.threshold}}'], missing: '{{nope.x}}', n: 3, b: true, z: null },
      ctx,
    );
    expect(out).toEqual({
      host: 'db-1',
      score: 0.93,
      labels: { __name__: 'disk_used', cluster: 'db', host: 'db-1' },
      msg: 'db/db-1 at 0.93',
      'grow-disk': [1, 95],
      missing: '',
      n: 3,
      b: true,
      z: null,
    });
  });

  it('cannot reach outside the context (no prototype lookups)', () => {
    expect(renderTemplate('{{constructor}}|{{event.__proto__}}|{{labels.toString}}', ctx)).toBe('||');
  });

  it('has a default body with the explanation', () => {
    const body = renderTemplate(DEFAULT_BODY, ctx) as Record<string, unknown>;
    expect(body).toMatchObject({ runbook: 'grow-disk', target: 'db-1', cluster: 'db', kind: 'forecast_breach' });
    expect((body.explanation as { score: number }).score).toBe(0.93);
  });
});

describe('runbook matching', () => {
  it('matches kind, labels, score and forecast', () => {
    expect(ruleMatches(rule, event)).toBe(true);
    expect(ruleMatches({ ...rule, minScore: 0.95 }, event)).toBe(false);
    expect(ruleMatches({ ...rule, labels: { cluster: 'web' } }, event)).toBe(false);
    expect(ruleMatches({ ...rule, forecast: 'never' }, event)).toBe(false);
    expect(ruleMatches({ ...rule, kinds: ['anomaly_opened'] }, event)).toBe(false);
    const noForecast = { ...event, kind: 'anomaly_opened' as const, explanation: { ...event.explanation, forecast: undefined } };
    expect(ruleMatches({ ...rule, kinds: ['anomaly_opened'] }, noForecast)).toBe(false);
    expect(ruleMatches({ ...rule, kinds: ['anomaly_opened'], forecast: 'any' }, noForecast)).toBe(true);
  });
});

describe('signature', () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>"', () => {
    const want = createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex');
    expect(signature('k', 1700000000, '{"a":1}')).toBe(`sha256=${want}`);
    expect(signature('k', 1700000001, '{"a":1}')).not.toBe(`sha256=${want}`);
  });
});
