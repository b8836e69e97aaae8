// Hand-built SchemaNodes for a small subset of Pod, Deployment and Service, with Kubernetes' patch
// tags: containers by name, ports by containerPort (+protocol for apply), env by name, volumes by
// name with retainKeys, finalizers as a set, tolerations atomic. Patch tests use them so that they
// do not depend on the generated schemas.

import type { SchemaNode } from '@keelson/api';

type Fields = Record<string, () => SchemaNode>;

const str = (): SchemaNode => ({ type: 'string' });
const int = (): SchemaNode => ({ type: 'integer' });
const bool = (): SchemaNode => ({ type: 'boolean' });
const obj = (fields: Fields): SchemaNode => ({ type: 'object', fields });
const mapOf = (values: () => SchemaNode): SchemaNode => ({ type: 'map', values });
const atomic = (items: () => SchemaNode): SchemaNode => ({ type: 'list', items, listType: 'atomic' });
const byKey = (items: () => SchemaNode, key: string, keys = [key]): SchemaNode => ({
  type: 'list',
  items,
  listType: 'map',
  listMapKeys: keys,
  patchStrategy: 'merge',
  patchMergeKey: key,
});

export const metadataSchema = (): SchemaNode =>
  obj({
    name: str,
    generateName: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    generation: int,
    creationTimestamp: () => ({ type: 'time' }),
    labels: () => mapOf(str),
    annotations: () => mapOf(str),
    finalizers: () => ({ type: 'list', items: str, listType: 'set', patchStrategy: 'merge' }),
    ownerReferences: () =>
      byKey(() => obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool }), 'uid'),
    managedFields: () => atomic(() => ({ type: 'any' })),
  });

const port = (): SchemaNode => obj({ name: str, containerPort: int, protocol: str, hostPort: int });
const envVar = (): SchemaNode => obj({ name: str, value: str, valueFrom: () => ({ type: 'any' }) });
const resources = (): SchemaNode =>
  obj({
    limits: () => mapOf(() => ({ type: 'quantity' })),
    requests: () => mapOf(() => ({ type: 'quantity' })),
  });

export const containerSchema = (): SchemaNode =>
  obj({
    name: str,
    image: str,
    imagePullPolicy: str,
    command: () => atomic(str),
    args: () => atomic(str),
    ports: () => byKey(port, 'containerPort', ['containerPort', 'protocol']),
    env: () => byKey(envVar, 'name'),
    resources,
    volumeMounts: () => byKey(() => obj({ name: str, mountPath: str, readOnly: bool }), 'mountPath'),
  });

const volume = (): SchemaNode =>
  obj({
    name: str,
    hostPath: () => obj({ path: str, type: str }),
    emptyDir: () => obj({ medium: str, sizeLimit: () => ({ type: 'quantity' }) }),
    configMap: () => obj({ name: str, optional: bool }),
  });

const toleration = (): SchemaNode => obj({ key: str, operator: str, value: str, effect: str });

export const podSpecSchema = (): SchemaNode =>
  obj({
    containers: () => byKey(containerSchema, 'name'),
    initContainers: () => byKey(containerSchema, 'name'),
    volumes: () => ({
      type: 'list',
      items: volume,
      listType: 'map',
      listMapKeys: ['name'],
      patchStrategy: 'merge,retainKeys',
      patchMergeKey: 'name',
    }),
    tolerations: () => atomic(toleration),
    nodeName: str,
    restartPolicy: str,
    terminationGracePeriodSeconds: int,
  });

export const podSchema = (): SchemaNode =>
  obj({
    apiVersion: str,
    kind: str,
    metadata: metadataSchema,
    spec: podSpecSchema,
    status: () => obj({ phase: str, podIP: str }),
  });

export const deploymentSchema = (): SchemaNode =>
  obj({
    apiVersion: str,
    kind: str,
    metadata: metadataSchema,
    spec: () =>
      obj({
        replicas: int,
        paused: bool,
        selector: () => obj({ matchLabels: () => mapOf(str) }),
        template: () => obj({ metadata: metadataSchema, spec: podSpecSchema }),
        strategy: () =>
          obj({
            type: str,
            rollingUpdate: () =>
              obj({
                maxSurge: () => ({ type: 'int-or-string' }),
                maxUnavailable: () => ({ type: 'int-or-string' }),
              }),
          }),
      }),
    status: () => obj({ replicas: int, readyReplicas: int }),
  });

export const serviceSchema = (): SchemaNode =>
  obj({
    apiVersion: str,
    kind: str,
    metadata: metadataSchema,
    spec: () =>
      obj({
        type: str,
        clusterIP: str,
        selector: () => mapOf(str),
        ports: () =>
          byKey(
            () => obj({ name: str, port: int, protocol: str, targetPort: () => ({ type: 'int-or-string' }) }),
            'port',
            ['port', 'protocol'],
          ),
      }),
  });

/** A Deployment as kubectl would apply it. */
export function nginxDeployment(replicas = 3, image = 'nginx:1.27'): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image, ports: [{ containerPort: 80 }] }] },
      },
    },
  };
}

/** A replayable seed: FC_SEED pins it; fast-check prints it on failure. */
export const fcSeed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
