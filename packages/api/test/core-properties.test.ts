// Properties of the core strategies over generated objects: defaulting is idempotent, generation
// moves iff something outside metadata and status changed, status updates never touch the spec and
// main-resource updates never touch the status. FC_SEED pins the seed; a failure reports it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  coreStrategies,
  podStrategy,
  replicationControllerStrategy,
  serviceStrategy,
} from '../src/strategy/core.js';
import type { KubeObject } from '../src/types.js';
import { deepEqual } from '../src/validation/field.js';

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 200 };

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const image = fc.constantFrom('nginx', 'nginx:1.27', 'nginx:latest', 'r.io/a/b@sha256:abc', 'busybox:1');
const port = fc.record(
  { containerPort: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('TCP', 'UDP') },
  { requiredKeys: ['containerPort'] },
);
const container = fc.record(
  {
    name,
    image,
    ports: fc.array(port, { maxLength: 3 }),
    imagePullPolicy: fc.constantFrom('Always', 'Never'),
    resources: fc.record({ limits: fc.record({ cpu: fc.constantFrom('1', '500m') }) }, { requiredKeys: [] }),
    livenessProbe: fc.record({ httpGet: fc.record({ port: fc.integer({ min: 1, max: 9999 }) }) }),
  },
  { requiredKeys: ['name', 'image'] },
);
const podSpec = fc.record(
  {
    containers: fc.array(container, { minLength: 1, maxLength: 3 }),
    initContainers: fc.array(container, { maxLength: 1 }),
    restartPolicy: fc.constantFrom('Always', 'OnFailure', 'Never'),
    volumes: fc.array(fc.record({ name, configMap: fc.record({ name }) }, { requiredKeys: ['name'] }), {
      maxLength: 2,
    }),
    hostNetwork: fc.boolean(),
  },
  { requiredKeys: ['containers'] },
);
const pod = podSpec.map((spec): KubeObject => ({ metadata: { name: 'p', namespace: 'd' }, spec }));
const servicePort = fc.record(
  {
    port: fc.integer({ min: 1, max: 65535 }),
    targetPort: fc.oneof(fc.integer({ min: 1, max: 65535 }), name),
  },
  { requiredKeys: ['port'] },
);
const service = fc
  .record(
    {
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
      ports: fc.array(servicePort, { maxLength: 3 }),
      sessionAffinity: fc.constantFrom('None', 'ClientIP'),
      clusterIP: fc.constantFrom('None', '10.0.0.1', '2001:db8::1'),
    },
    { requiredKeys: [] },
  )
  .map((spec): KubeObject => ({ metadata: { name: 's', namespace: 'd' }, spec }));
const rc = fc
  .record(
    {
      replicas: fc.integer({ min: 0, max: 5 }),
      template: fc.record({ metadata: fc.constant({ labels: { app: 'a' } }), spec: podSpec }),
    },
    { requiredKeys: ['template'] },
  )
  .map((spec): KubeObject => ({ metadata: { name: 'r', namespace: 'd' }, spec }));

describe('defaulting', () => {
  it('is idempotent', () => {
    // Proves applyDefaults twice equals applyDefaults once, for generated pods, services and RCs.
    const cases: [typeof podStrategy, fc.Arbitrary<KubeObject>][] = [
      [podStrategy, pod],
      [serviceStrategy, service],
      [replicationControllerStrategy, rc],
    ];
    for (const [strategy, arb] of cases) {
      fc.assert(
        fc.property(arb, (obj) => {
          const once = structuredClone(obj);
          strategy.applyDefaults(once);
          const twice = structuredClone(once);
          strategy.applyDefaults(twice);
          expect(twice).toEqual(once);
        }),
        fcOptions,
      );
    }
  });

  it('tolerates empty objects', () => {
    // Proves every core strategy tolerates an empty object (defaults never throw on missing parts).
    for (const s of coreStrategies) {
      const obj: KubeObject = { metadata: { name: 'x' } };
      s.applyDefaults(obj);
      s.prepareForCreate(obj);
      expect(Array.isArray(s.validateCreate(obj))).toBe(true);
    }
  });
});

/** A created RC with the fields the REST layer adds. */
function storedRC(obj: KubeObject): KubeObject {
  const out = structuredClone(obj);
  replicationControllerStrategy.applyDefaults(out);
  replicationControllerStrategy.prepareForCreate(out);
  out.metadata = { ...out.metadata, uid: 'u', resourceVersion: '1', creationTimestamp: 't' };
  out.status = { replicas: 2 };
  return out;
}

describe('generation and the status split', () => {
  it('generation bumps iff the spec changes', () => {
    // Proves generation is bumped by one exactly when the spec changed, and never by metadata or status.
    fc.assert(
      fc.property(
        rc,
        rc,
        fc.boolean(),
        fc.dictionary(name, name, { maxKeys: 2 }),
        (a, b, sameSpec, labels) => {
          const old = storedRC(a);
          const next = structuredClone(old);
          if (!sameSpec) next.spec = structuredClone(b.spec);
          replicationControllerStrategy.applyDefaults(next);
          next.metadata = { ...next.metadata, labels };
          next.status = { replicas: 99 };
          const changed = !deepEqual(next.spec, old.spec);
          replicationControllerStrategy.prepareForUpdate(next, old);
          expect(next.metadata?.generation).toBe(changed ? 2 : 1);
          expect(next.status).toEqual({ replicas: 2 });
        },
      ),
      fcOptions,
    );
  });

  it('status updates keep the spec', () => {
    // Proves a status update keeps the old spec and generation whatever the body says.
    fc.assert(
      fc.property(rc, rc, fc.integer({ min: 0, max: 9 }), (a, b, replicas) => {
        const old = storedRC(a);
        const next = structuredClone(b);
        next.metadata = { ...old.metadata, generation: 7 };
        next.status = { replicas };
        replicationControllerStrategy.prepareForStatusUpdate!(next, old);
        expect(next.spec).toEqual(old.spec);
        expect(next.status).toEqual({ replicas });
        expect(next.metadata?.generation).toBe(old.metadata?.generation);
      }),
      fcOptions,
    );
  });
});
