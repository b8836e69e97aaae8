// Row cells of the remaining printers (printers.go): horizontal pod autoscalers (v1 and v2 shapes),
// leases, role bindings, ingresses and ingress classes, network policies, endpoint slices, storage
// classes and pod disruption budgets.

import { formatLabelSelector, type MetaLabelSelector } from '../selectors.js';
import { loadBalancerIngress } from './core.js';
import {
  ageSince,
  arr,
  int,
  intOrString,
  type Json,
  listWithMore,
  obj,
  quantity,
  str,
  strMap,
  strs,
} from './format.js';

type Cells = unknown[];

function name(o: Json): string {
  return str(obj(o, 'metadata'), 'name');
}

function age(o: Json, now: Date): string {
  return ageSince(obj(o, 'metadata').creationTimestamp, now);
}

function present(o: Json, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

function averageOrValue(target: Json, current: Json | undefined, hasCurrent: boolean): string {
  if (present(target, 'averageValue')) {
    const cur =
      hasCurrent && current !== undefined && present(current, 'averageValue')
        ? quantity(current.averageValue)
        : '<unknown>';
    return `${cur}/${quantity(target.averageValue)} (avg)`;
  }
  const cur = hasCurrent && current !== undefined ? quantity(current.value) : '<unknown>';
  return `${cur}/${quantity(target.value)}`;
}

/** One entry of formatHPAMetrics for a v2 metric spec and its status (if any). */
function formatMetric(spec: Json, status: Json | undefined): string {
  const type = str(spec, 'type');
  switch (type) {
    case 'External':
    case 'Object': {
      const key = type === 'External' ? 'external' : 'object';
      const target = obj(spec, key, 'target');
      const st = status !== undefined && present(status, key) ? obj(status, key, 'current') : undefined;
      return averageOrValue(target, st, st !== undefined);
    }
    case 'Pods': {
      const current =
        status !== undefined && present(status, 'pods')
          ? quantity(obj(status, 'pods', 'current').averageValue)
          : '<unknown>';
      return `${current}/${quantity(obj(spec, 'pods', 'target').averageValue)}`;
    }
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const source = obj(spec, key);
      const target = obj(source, 'target');
      const st = status !== undefined && present(status, key) ? obj(status, key, 'current') : undefined;
      if (present(target, 'averageValue')) {
        const cur = st !== undefined ? quantity(st.averageValue) : '<unknown>';
        return `${str(source, 'name')}: ${cur}/${quantity(target.averageValue)}`;
      }
      const cur =
        st !== undefined && present(st, 'averageUtilization')
          ? `${int(st, 'averageUtilization')}%`
          : '<unknown>';
      const want = present(target, 'averageUtilization') ? `${int(target, 'averageUtilization')}%` : '<auto>';
      return `${str(source, 'name')}: ${cur}/${want}`;
    }
    default:
      return '<unknown type>';
  }
}

/** autoscaling/v1 carries one CPU target; convert it to the v2 shape the printer reads. */
function hpaMetrics(hpa: Json): { specs: Json[]; statuses: Json[] } {
  const spec = obj(hpa, 'spec');
  const status = obj(hpa, 'status');
  if (!present(spec, 'targetCPUUtilizationPercentage')) {
    return { specs: arr(spec, 'metrics'), statuses: arr(status, 'currentMetrics') };
  }
  const specs = [
    {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage },
      },
    },
  ];
  const statuses = present(status, 'currentCPUUtilizationPercentage')
    ? [
        {
          type: 'Resource',
          resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } },
        },
      ]
    : [];
  return { specs, statuses };
}

/** formatHPAMetrics: at most two targets, then " + N more...", "<none>" without metrics. */
function formatHpaMetrics(hpa: Json): string {
  const { specs, statuses } = hpaMetrics(hpa);
  if (specs.length === 0) return '<none>';
  const max = 2;
  const list = specs.map((s, i) => formatMetric(s, statuses[i]));
  const shown = list.slice(0, max).join(', ');
  return specs.length > max ? `${shown} + ${specs.length - max} more...` : shown;
}

export function hpaCells(hpa: Json, now: Date): Cells {
  const spec = obj(hpa, 'spec');
  const ref = obj(spec, 'scaleTargetRef');
  const minPods = typeof spec.minReplicas === 'number' ? String(spec.minReplicas) : '<unset>';
  return [
    name(hpa),
    `${str(ref, 'kind')}/${str(ref, 'name')}`,
    formatHpaMetrics(hpa),
    minPods,
    int(spec, 'maxReplicas'),
    int(obj(hpa, 'status'), 'currentReplicas'),
    age(hpa, now),
  ];
}

export function leaseCells(lease: Json, now: Date): Cells {
  return [name(lease), str(obj(lease, 'spec'), 'holderIdentity'), age(lease, now)];
}

/** rbac.SubjectsStrings joined by ", ": users, groups and "namespace/name" service accounts. */
export function roleBindingCells(rb: Json, now: Date): Cells {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of arr(rb, 'subjects')) {
    const kind = str(s, 'kind');
    if (kind === 'ServiceAccount') sas.push(`${str(s, 'namespace')}/${str(s, 'name')}`);
    else if (kind === 'User') users.push(str(s, 'name'));
    else if (kind === 'Group') groups.push(str(s, 'name'));
  }
  const roleRef = obj(rb, 'roleRef');
  return [
    name(rb),
    `${str(roleRef, 'kind')}/${str(roleRef, 'name')}`,
    age(rb, now),
    users.join(', '),
    groups.join(', '),
    sas.join(', '),
  ];
}

/** formatHosts: up to three hosts, "*" when no rule names one. */
function ingressHosts(rules: Json[]): string {
  const max = 3;
  const list: string[] = [];
  let more = false;
  for (const rule of rules) {
    if (list.length === max) more = true;
    if (!more && str(rule, 'host') !== '') list.push(str(rule, 'host'));
  }
  if (list.length === 0) return '*';
  const shown = list.join(',');
  return more ? `${shown} + ${rules.length - max} more...` : shown;
}

export function ingressCells(ing: Json, now: Date): Cells {
  const spec = obj(ing, 'spec');
  return [
    name(ing),
    typeof spec.ingressClassName === 'string' ? spec.ingressClassName : '<none>',
    ingressHosts(arr(spec, 'rules')),
    loadBalancerIngress(obj(ing, 'status', 'loadBalancer')),
    arr(spec, 'tls').length > 0 ? '80, 443' : '80',
    age(ing, now),
  ];
}

export function ingressClassCells(ic: Json, now: Date): Cells {
  const spec = obj(ic, 'spec');
  let parameters = '<none>';
  if (present(spec, 'parameters')) {
    const p = obj(spec, 'parameters');
    parameters = str(p, 'kind');
    if (typeof p.apiGroup === 'string') parameters += `.${p.apiGroup}`;
    parameters += `/${str(p, 'name')}`;
  }
  return [name(ic), str(spec, 'controller'), parameters, age(ic, now)];
}

export function networkPolicyCells(np: Json, now: Date): Cells {
  const spec = obj(np, 'spec');
  return [name(np), formatLabelSelector(obj(spec, 'podSelector') as MetaLabelSelector), age(np, now)];
}

export function endpointSliceCells(es: Json, now: Date): Cells {
  const ports = arr(es, 'ports').map((p) => {
    if (typeof p.port === 'number') return String(p.port);
    return typeof p.name === 'string' ? p.name : '*';
  });
  const addresses = arr(es, 'endpoints').flatMap((e) => strs(e, 'addresses'));
  return [
    name(es),
    str(es, 'addressType'),
    listWithMore(ports, ports.length, 3),
    listWithMore(addresses, addresses.length, 3),
    age(es, now),
  ];
}

const DEFAULT_CLASS_ANNOTATIONS = [
  'storageclass.kubernetes.io/is-default-class',
  'storageclass.beta.kubernetes.io/is-default-class',
];

export function storageClassCells(sc: Json, now: Date): Cells {
  const annotations = strMap(obj(sc, 'metadata'), 'annotations');
  const isDefault = DEFAULT_CLASS_ANNOTATIONS.some((a) => annotations[a] === 'true');
  return [
    isDefault ? `${name(sc)} (default)` : name(sc),
    str(sc, 'provisioner'),
    typeof sc.reclaimPolicy === 'string' ? sc.reclaimPolicy : 'Delete',
    typeof sc.volumeBindingMode === 'string' ? sc.volumeBindingMode : 'Immediate',
    sc.allowVolumeExpansion === true,
    age(sc, now),
  ];
}

export function podDisruptionBudgetCells(pdb: Json, now: Date): Cells {
  const spec = obj(pdb, 'spec');
  const minAvailable = present(spec, 'minAvailable') ? intOrString(spec.minAvailable) : 'N/A';
  const maxUnavailable = present(spec, 'maxUnavailable') ? intOrString(spec.maxUnavailable) : 'N/A';
  return [
    name(pdb),
    minAvailable,
    maxUnavailable,
    int(obj(pdb, 'status'), 'disruptionsAllowed'),
    age(pdb, now),
  ];
}
