// The cron schedule parser against robfig/cron's ParseStandard (what kube-apiserver uses), and the
// HPA v1 ↔ v2 conversion: targetCPUUtilizationPercentage ↔ a Resource cpu Utilization metric, the
// other metrics, status and behavior carried losslessly. FC_SEED pins the property seed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../src/status.js';
import { convertHpa, HPA_ANNOTATIONS, hpaV1Strategy, hpaV2Strategy } from '../src/strategy/autoscaling.js';
import { cronJobStrategy, parseCronSchedule } from '../src/strategy/batch.js';
import type { KubeObject } from '../src/types.js';

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 200 };

describe('cron schedules', () => {
  const valid = [
    '* * * * *',
    '*/5 * * * *',
    '0 0 * * 0',
    '0 12 1-15/2 JAN-jun mon,wed,FRI',
    '15,45 9-17 * * 1-5',
    '0 0 ? * *',
    '5/15 * * * *',
    '@hourly',
    '@daily',
    '@midnight',
    '@weekly',
    '@monthly',
    '@yearly',
    '@annually',
    '@every 1h30m',
    '  0   3 * * *  ',
  ];
  const invalid: [string, string][] = [
    ['', 'empty spec string'],
    ['* * * *', 'expected exactly 5 fields, found 4: [* * * *]'],
    ['* * * * * *', 'expected exactly 5 fields, found 6: [* * * * * *]'],
    ['60 * * * *', 'end of range (60) above maximum (59): 60'],
    ['* 24 * * *', 'end of range (24) above maximum (23): 24'],
    ['* * 0 * *', 'beginning of range (0) below minimum (1): 0'],
    ['* * * 13 *', 'end of range (13) above maximum (12): 13'],
    ['* * * * 7', 'end of range (7) above maximum (6): 7'],
    ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['*/2/3 * * * *', 'too many slashes: */2/3'],
    ['x * * * *', 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ['@fortnightly', 'unrecognized descriptor: @fortnightly'],
    ['@every soon', 'failed to parse duration @every soon: time: invalid duration "soon"'],
  ];

  it.each(valid)('accepts %j', (schedule) => {
    // Proves every valid standard schedule and descriptor is accepted.
    expect(parseCronSchedule(schedule)).toBeUndefined();
  });

  it.each(invalid)('refuses %j', (schedule, message) => {
    // Proves invalid schedules are refused with robfig/cron's message.
    expect(parseCronSchedule(schedule)).toBe(message);
  });

  it('reports schedule errors on the CronJob', () => {
    // Proves the CronJob strategy reports schedule problems at spec.schedule and refuses TZ= prefixes.
    const cronJob = (schedule: string): KubeObject => ({
      metadata: { name: 'c', namespace: 'default' },
      spec: {
        schedule,
        jobTemplate: {
          spec: {
            template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'Never' } },
          },
        },
      },
    });
    const errorsOf = (schedule: string): string[] => {
      const obj = cronJob(schedule);
      cronJobStrategy.applyDefaults(obj);
      return cronJobStrategy.validateCreate(obj).map(formatFieldError);
    };
    expect(errorsOf('61 * * * *')).toEqual([
      'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
    ]);
    expect(errorsOf('TZ=UTC 0 * * * *')).toEqual([
      'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
    ]);
    expect(errorsOf('@hourly')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// HPA conversion.

const quantity = fc.constantFrom('100m', '1', '250Mi', '2Gi', '10k');
const selector = fc.option(fc.record({ matchLabels: fc.constant({ app: 'x' }) }), { nil: undefined });
const resourceMetric = fc.oneof(
  fc.record({
    name: fc.constantFrom('cpu', 'memory'),
    target: fc.record({
      type: fc.constant('Utilization'),
      averageUtilization: fc.integer({ min: 1, max: 200 }),
    }),
  }),
  fc.record({
    name: fc.constantFrom('cpu', 'memory'),
    target: fc.record({ type: fc.constant('AverageValue'), averageValue: quantity }),
  }),
);
const otherMetric = fc.oneof(
  resourceMetric
    .filter((r) => r.name !== 'cpu' || r.target.type !== 'Utilization')
    .map((resource) => ({ type: 'Resource', resource })),
  fc.record({
    type: fc.constant('Pods'),
    pods: fc.record({
      metric: fc.record({ name: fc.constantFrom('qps', 'latency') }),
      target: fc.record({ type: fc.constant('AverageValue'), averageValue: quantity }),
    }),
  }),
  fc.record({
    type: fc.constant('External'),
    external: fc.record({
      metric: fc.record({ name: fc.constant('queue'), selector }, { requiredKeys: ['name'] }),
      target: fc.record({ type: fc.constant('Value'), value: quantity }),
    }),
  }),
);
const cpuMetric = fc.integer({ min: 1, max: 100 }).map((percent) => ({
  type: 'Resource',
  resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: percent } },
}));
const behavior = fc.option(
  fc.record({
    scaleDown: fc.record({
      stabilizationWindowSeconds: fc.integer({ min: 0, max: 3600 }),
      selectPolicy: fc.constantFrom('Max', 'Min'),
      policies: fc.constant([{ type: 'Pods', value: 1, periodSeconds: 60 }]),
    }),
  }),
  { nil: undefined },
);
const status = fc.option(
  fc.record({
    currentReplicas: fc.nat(10),
    desiredReplicas: fc.nat(10),
    currentMetrics: fc.constant([
      {
        type: 'Resource',
        resource: { name: 'cpu', current: { averageUtilization: 42, averageValue: '120m' } },
      },
    ]),
    conditions: fc.constant([{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' }]),
  }),
  { nil: undefined },
);

/** A v2 HPA with at most one CPU utilization metric (v1 can carry only one), placed last. */
const hpaV2 = fc
  .record({
    others: fc.array(otherMetric, { maxLength: 3 }),
    cpu: fc.option(cpuMetric, { nil: undefined }),
    min: fc.integer({ min: 1, max: 5 }),
    extra: fc.nat(5),
    behavior,
    status,
    annotations: fc.option(fc.constant({ team: 'a' }), { nil: undefined }),
  })
  .map((g): KubeObject => {
    const metrics = [...g.others, ...(g.cpu === undefined ? [] : [g.cpu])];
    const spec: Record<string, unknown> = {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: g.min,
      maxReplicas: g.min + g.extra,
    };
    if (metrics.length > 0) spec.metrics = metrics;
    if (g.behavior !== undefined) spec.behavior = g.behavior;
    const obj: KubeObject = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {
        name: 'web',
        namespace: 'default',
        ...(g.annotations ? { annotations: g.annotations } : {}),
      },
      spec,
    };
    if (g.status !== undefined) obj.status = g.status;
    return obj;
  });

describe('HPA conversion', () => {
  it('maps targetCPUUtilizationPercentage to a Resource metric', () => {
    // Proves targetCPUUtilizationPercentage maps to a cpu Utilization metric and back, and other metrics go
    // into Kubernetes' metrics annotation on v1.
    const v1: KubeObject = {
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'web' },
        minReplicas: 1,
        maxReplicas: 4,
        targetCPUUtilizationPercentage: 70,
      },
    };
    const v2 = convertHpa(v1, 'v2');
    expect(v2.apiVersion).toBe('autoscaling/v2');
    expect(v2.spec).toEqual({
      scaleTargetRef: { kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 4,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ],
    });
    const memory = {
      type: 'Resource',
      resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Gi' } },
    };
    (v2.spec as { metrics: unknown[] }).metrics.unshift(memory);
    const back = convertHpa(v2, 'v1');
    expect((back.spec as { targetCPUUtilizationPercentage: number }).targetCPUUtilizationPercentage).toBe(70);
    expect(JSON.parse(back.metadata?.annotations?.[HPA_ANNOTATIONS.metrics] ?? '[]')).toEqual([
      { type: 'Resource', resource: { name: 'memory', targetAverageValue: '1Gi' } },
    ]);
  });

  it('defaults a v1 HPA through v2', () => {
    // Proves a v1 HPA without a target reads back with the v2 default of 80% CPU, minReplicas 1.
    const v1: KubeObject = {
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'default' },
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 3 },
    };
    hpaV1Strategy.applyDefaults(v1);
    expect(v1.apiVersion).toBe('autoscaling/v1');
    expect(v1.spec).toEqual({
      scaleTargetRef: { kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 3,
      targetCPUUtilizationPercentage: 80,
    });
    expect(v1.metadata?.annotations).toBeUndefined();
    expect(hpaV1Strategy.validateCreate(v1)).toEqual([]);
  });

  it('fills scaling rule defaults', () => {
    // Proves v2 behavior defaults fill only what the user left out (copyHPAScalingRules).
    const v2: KubeObject = {
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        scaleTargetRef: { kind: 'Deployment', name: 'web' },
        maxReplicas: 3,
        behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
      },
    };
    hpaV2Strategy.applyDefaults(v2);
    expect((v2.spec as { behavior: unknown }).behavior).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
    });
    expect(hpaV2Strategy.validateCreate(v2)).toEqual([]);
  });

  it('round-trips v2 → v1 → v2 (property)', () => {
    // Proves v2 → v1 → v2 is lossless (the CPU metric is last, where Kubernetes' conversion puts it).
    fc.assert(
      fc.property(hpaV2, (v2) => {
        expect(convertHpa(convertHpa(v2, 'v1'), 'v2')).toEqual(v2);
      }),
      fcOptions,
    );
  });

  it('round-trips v1 → v2 → v1 (property)', () => {
    // Proves v1 → v2 → v1 is lossless, including the annotations that carry what v1 cannot say.
    fc.assert(
      fc.property(hpaV2, (v2) => {
        const v1 = convertHpa(v2, 'v1');
        expect(convertHpa(convertHpa(v1, 'v2'), 'v1')).toEqual(v1);
      }),
      fcOptions,
    );
  });
});
