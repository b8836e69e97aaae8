// The RBAC authorizer: an in-memory copy of the Roles, ClusterRoles and their bindings, filled by a
// list and kept current by a watch of each prefix (so a new binding takes effect within the watch
// delay), evaluated by rbac-rules.ts. Members of system:masters are always allowed, as with
// kube-apiserver's privileged-group authorizer. The cache holds nothing another apiserver could
// contradict: it only mirrors the store.
import type { KubeObject } from '@keelson/api';
import type {
  Authorizer,
  Decision,
  ObjectStorage,
  RequestAttributes,
  StorageWatch,
  StorageWatchEvent,
} from '../types.js';
import { GROUP_MASTERS } from './authn.js';
import {
  type BindingObject,
  evaluateRbac,
  forbiddenError,
  labelSelectorMatches,
  type PolicyRule,
  type PolicySource,
  type RoleObject,
} from './rbac-rules.js';

/** Store key prefixes of the RBAC kinds under an --etcd-prefix ("/registry" by default). */
export function rbacPrefixes(etcdPrefix = '/registry') {
  return {
    roles: `${etcdPrefix}/roles/`,
    rolebindings: `${etcdPrefix}/rolebindings/`,
    clusterroles: `${etcdPrefix}/clusterroles/`,
    clusterrolebindings: `${etcdPrefix}/clusterrolebindings/`,
  };
}
export const RBAC_PREFIXES = rbacPrefixes();
type Kind = keyof typeof RBAC_PREFIXES;
const kinds = Object.keys(RBAC_PREFIXES) as Kind[];

/** The cache refuses to grow past this many objects per kind (an outage guard, not a feature limit). */
const objectsPerKindMax = 100_000;
const listPagesMax = 1_000;
const rewatchBackoffMsMin = 100;
const rewatchBackoffMsMax = 5_000;
/** Aggregation is followed this deep (admin ← edit ← view is 2). */
const aggregationDepthMax = 8;

export interface RbacLogger {
  warn(obj: object, msg: string): void;
}

export interface RbacAuthorizerOptions {
  storage: ObjectStorage;
  logger?: RbacLogger;
  /** --etcd-prefix; default "/registry". */
  etcdPrefix?: string;
}

/** The objects of one kind by store key, and the store revision they are current at. */
interface KindCache {
  objects: Map<string, KubeObject>;
  /** The revision of the last list: watch events at or below it are already in `objects`. */
  listRevision: number;
  /** The latest revision seen (list, events or progress). */
  revision: number;
  watch: StorageWatch | undefined;
  backoffMs: number;
}

function assert(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

export class RbacAuthorizer implements Authorizer, PolicySource {
  private readonly storage: ObjectStorage;
  private readonly logger: RbacLogger | undefined;
  private readonly caches: Record<Kind, KindCache>;
  private readonly prefixes: Record<Kind, string>;
  private started: Promise<void> | undefined;
  private stopped = false;
  /** Effective ClusterRole rules by name; cleared whenever any ClusterRole changes. */
  private aggregated = new Map<string, PolicyRule[]>();
  /** RoleBindings by namespace then key: a request only walks the bindings of its namespace. */
  private roleBindingsByNamespace = new Map<string, Map<string, KubeObject>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: RbacAuthorizerOptions) {
    this.storage = opts.storage;
    this.logger = opts.logger;
    this.prefixes = rbacPrefixes(opts.etcdPrefix);
    const empty = (): KindCache => ({
      objects: new Map(),
      listRevision: 0,
      revision: 0,
      watch: undefined,
      backoffMs: rewatchBackoffMsMin,
    });
    this.caches = {
      roles: empty(),
      rolebindings: empty(),
      clusterroles: empty(),
      clusterrolebindings: empty(),
    };
  }

  /** Lists every kind and starts the watches; resolves once the cache is filled. Idempotent. */
  start(): Promise<void> {
    this.started ??= Promise.all(kinds.map((k) => this.relist(k))).then(
      () => undefined,
      (err: unknown) => {
        // Let the next request try again rather than fail forever.
        this.started = undefined;
        throw err;
      },
    );
    return this.started;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const k of kinds) {
      this.caches[k].watch?.cancel();
      this.caches[k].watch = undefined;
    }
  }

  async authorize(attrs: RequestAttributes): Promise<Decision> {
    if (attrs.user.groups.includes(GROUP_MASTERS)) return { allowed: true, reason: '' };
    await this.start();
    return evaluateRbac(this, attrs);
  }

  /** Authorizes or throws the 403 Status error Kubernetes answers with. */
  async authorizeOrThrow(attrs: RequestAttributes): Promise<void> {
    const decision = await this.authorize(attrs);
    if (!decision.allowed) throw forbiddenError(attrs, decision.reason);
  }

  // ---- PolicySource ----

  clusterRoleBindings(): Iterable<BindingObject> {
    return this.caches.clusterrolebindings.objects.values() as Iterable<KubeObject> as Iterable<BindingObject>;
  }

  roleBindings(namespace: string): Iterable<BindingObject> {
    const inNs = this.roleBindingsByNamespace.get(namespace);
    return (inNs?.values() ?? []) as Iterable<KubeObject> as Iterable<BindingObject>;
  }

  roleRules(namespace: string, name: string): PolicyRule[] | undefined {
    const role = this.caches.roles.objects.get(`${this.prefixes.roles}${namespace}/${name}`);
    return role === undefined ? undefined : ((role as RoleObject).rules ?? []);
  }

  clusterRoleRules(name: string): PolicyRule[] | undefined {
    const cached = this.aggregated.get(name);
    if (cached !== undefined) return cached;
    const role = this.clusterRole(name);
    if (role === undefined) return undefined;
    const rules = this.effectiveRules(role, name, new Set([name]), 0);
    this.aggregated.set(name, rules);
    return rules;
  }

  /** The ClusterRole objects as the store holds them (for SelfSubjectRulesReview and tests). */
  clusterRole(name: string): RoleObject | undefined {
    return this.caches.clusterroles.objects.get(`${this.prefixes.clusterroles}${name}`) as
      | RoleObject
      | undefined;
  }

  /**
   * Rules of a ClusterRole with an aggregationRule are those of every other ClusterRole its
   * selectors match, followed transitively — what the aggregation controller converges to.
   */
  private effectiveRules(role: RoleObject, name: string, visiting: Set<string>, depth: number): PolicyRule[] {
    const selectors = role.aggregationRule?.clusterRoleSelectors;
    if (selectors === undefined || depth >= aggregationDepthMax) return role.rules ?? [];
    const rules: PolicyRule[] = [];
    const seen = new Set<string>();
    const matching = [...this.caches.clusterroles.objects.values()]
      .map((o) => o as RoleObject)
      .filter((o) => o.metadata?.name !== name && !visiting.has(o.metadata?.name ?? ''))
      .filter((o) => selectors.some((s) => labelSelectorMatches(s, o.metadata?.labels ?? {})))
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    for (const other of matching) {
      const otherName = other.metadata?.name ?? '';
      visiting.add(otherName);
      for (const rule of this.effectiveRules(other, otherName, visiting, depth + 1)) {
        const id = JSON.stringify(rule);
        if (!seen.has(id)) rules.push(rule);
        seen.add(id);
      }
      visiting.delete(otherName);
    }
    return rules;
  }

  // ---- list and watch ----

  private async relist(kind: Kind): Promise<void> {
    const cache = this.caches[kind];
    const prefix = this.prefixes[kind];
    const objects = new Map<string, KubeObject>();
    let listed = await this.storage.list(prefix, { limit: 0 });
    const revision = listed.revision;
    assert(
      revision >= cache.listRevision,
      `the ${kind} list went back in time (${revision} < ${cache.listRevision})`,
    );
    for (let page = 0; ; page++) {
      for (const s of listed.items) objects.set(this.keyOf(prefix, s.obj), s.obj);
      if (objects.size > objectsPerKindMax) {
        throw new Error(`too many ${kind} to cache: more than ${objectsPerKindMax}`);
      }
      if (listed.continueToken === undefined) break;
      if (page >= listPagesMax) throw new Error(`listing ${kind} took more than ${listPagesMax} pages`);
      listed = await this.storage.list(prefix, { limit: 0, continueToken: listed.continueToken, revision });
    }
    cache.objects = objects;
    if (kind === 'rolebindings') {
      this.roleBindingsByNamespace = new Map();
      for (const [key, obj] of objects) this.indexRoleBinding(key, obj);
    }
    cache.listRevision = revision;
    cache.revision = revision;
    if (kind === 'clusterroles') this.aggregated = new Map();
    this.watch(kind);
  }

  /** Sets (or with undefined removes) a RoleBinding in the namespace index. */
  private indexRoleBinding(key: string, obj: KubeObject | undefined): void {
    const rest = key.slice(this.prefixes.rolebindings.length);
    const namespace = rest.slice(0, Math.max(rest.indexOf('/'), 0));
    let inNs = this.roleBindingsByNamespace.get(namespace);
    if (obj === undefined) {
      inNs?.delete(key);
      if (inNs?.size === 0) this.roleBindingsByNamespace.delete(namespace);
      return;
    }
    if (inNs === undefined) {
      inNs = new Map();
      this.roleBindingsByNamespace.set(namespace, inNs);
    }
    inNs.set(key, obj);
  }

  /** Store key of a listed object: list results carry objects, not keys. */
  private keyOf(prefix: string, obj: KubeObject): string {
    const ns = obj.metadata?.namespace;
    const name = obj.metadata?.name ?? '';
    return ns ? `${prefix}${ns}/${name}` : `${prefix}${name}`;
  }

  private watch(kind: Kind): void {
    if (this.stopped) return;
    const cache = this.caches[kind];
    const prefix = this.prefixes[kind];
    const previous = cache.watch;
    cache.watch = undefined;
    previous?.cancel();
    const watch = this.storage.watch(prefix, cache.listRevision, {
      events: (events) => {
        if (cache.watch === watch) this.apply(kind, events);
      },
      progress: (revision) => {
        if (cache.watch === watch) cache.revision = Math.max(cache.revision, revision);
      },
      closed: (err) => {
        if (cache.watch !== watch || this.stopped) return;
        cache.watch = undefined;
        this.logger?.warn({ component: 'rbac', kind, err: err?.message }, 'RBAC watch closed; restarting');
        this.scheduleRestart(kind);
      },
    });
    cache.watch = watch;
  }

  private apply(kind: Kind, events: StorageWatchEvent[]): void {
    const cache = this.caches[kind];
    for (const ev of events) {
      assert(ev.key.startsWith(this.prefixes[kind]), `a ${kind} watch event for ${ev.key}`);
      // Already reflected by the list. (Not `<= cache.revision`: one txn gives several events one revision.)
      if (ev.revision <= cache.listRevision) continue;
      if (ev.type === 'DELETED') {
        cache.objects.delete(ev.key);
        if (kind === 'rolebindings') this.indexRoleBinding(ev.key, undefined);
      } else if (cache.objects.size < objectsPerKindMax || cache.objects.has(ev.key)) {
        cache.objects.set(ev.key, ev.obj);
        if (kind === 'rolebindings') this.indexRoleBinding(ev.key, ev.obj);
      } else {
        this.logger?.warn({ component: 'rbac', kind, key: ev.key }, 'RBAC cache full; object ignored');
      }
      cache.revision = Math.max(cache.revision, ev.revision);
    }
    if (kind === 'clusterroles' && events.length > 0) this.aggregated = new Map();
    cache.backoffMs = rewatchBackoffMsMin;
  }

  /** Re-lists (the watch may have been compacted away) after a backoff that doubles up to a bound. */
  private scheduleRestart(kind: Kind): void {
    const cache = this.caches[kind];
    const delayMs = cache.backoffMs;
    cache.backoffMs = Math.min(cache.backoffMs * 2, rewatchBackoffMsMax);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped) return;
      this.relist(kind).catch((err: unknown) => {
        this.logger?.warn(
          { component: 'rbac', kind, err: (err as Error).message },
          'RBAC relist failed; retrying',
        );
        this.scheduleRestart(kind);
      });
    }, delayMs);
    timer.unref?.();
    this.timers.add(timer);
  }
}

export function createRbacAuthorizer(opts: RbacAuthorizerOptions): RbacAuthorizer {
  return new RbacAuthorizer(opts);
}
