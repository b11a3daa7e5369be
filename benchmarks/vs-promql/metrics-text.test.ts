import { describe, expect, it } from 'vitest';
import { parseMetricsText, sumOf } from './metrics-text.js';

const BODY = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
prometheus_rule_group_iterations_total{rule_group="/tmp/x/rules.yml;zscore"} 7
prometheus_rule_group_iterations_missed_total{rule_group="/tmp/x/rules.yml;zscore"} 1
prometheus_rule_evaluation_duration_seconds{quantile="0.5"} 0.25
prometheus_rule_evaluation_duration_seconds_sum 3.5
weird{a="x\\"y",b="line\\nbreak"} +Inf
with_ts{a="1"} 2 1700000000000

`;

describe('parseMetricsText', () => {
  it('reads names, labels (with escapes) and values, skipping comments', () => {
    const s = parseMetricsText(BODY);
    expect(s).toHaveLength(7);
    expect(sumOf(s, 'process_cpu_seconds_total')).toBe(12.34);
    expect(sumOf(s, 'prometheus_rule_group_iterations_total', { rule_group: '/tmp/x/rules.yml;zscore' })).toBe(7);
    expect(sumOf(s, 'prometheus_rule_evaluation_duration_seconds', { quantile: '0.5' })).toBe(0.25);
    expect(s[5].labels).toEqual({ a: 'x"y', b: 'line\nbreak' });
    expect(s[5].value).toBe(Infinity);
    expect(sumOf(s, 'with_ts')).toBe(2);
  });

  it('gives NaN for a metric that is not there and sums several matches', () => {
    const s = parseMetricsText('a{x="1"} 1\na{x="2"} 2\n');
    expect(sumOf(s, 'a')).toBe(3);
    expect(sumOf(s, 'a', { x: '2' })).toBe(2);
    expect(sumOf(s, 'b')).toBeNaN();
  });

  it('names the line that is not a sample', () => {
    expect(() => parseMetricsText('ok 1\nthis is not a sample\n')).toThrow(/line 2/);
    expect(() => parseMetricsText('a{x=1} 1\n')).toThrow(/line 1: bad labels/);
    expect(() => parseMetricsText('a abc\n')).toThrow(/bad value/);
  });
});
