// batch/v1 strategies: Jobs (with the selector Kubernetes generates from the job's uid) and
// CronJobs (with the schedule parsed the way robfig/cron v3's ParseStandard parses it, so the
// messages are the ones kube-apiserver gives). Defaults follow pkg/apis/batch/v1/defaults.go,
// validation pkg/apis/batch/validation.

import { findResource } from '../registry.js';
import { labelSelectorFromMeta, type MetaLabelSelector } from '../selectors.js';
import type { FieldError, KubeObject, ResourceInfo, ResourceStrategy } from '../types.js';
import {
  child,
  deepEqual,
  immutable,
  invalid,
  nonNegative,
  notSupported,
  required,
} from '../validation/field.js';
import { selectorMatchesLabels, validateLabelSelector } from './apps.js';
import { defaultPodTemplate, validatePodTemplate } from './core.js';
import {
  defineStrategy,
  ensureObj,
  getObj,
  isObj,
  meta,
  type Obj,
  StrategyAssertionError,
  setDefault,
  setDefaultStr,
} from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('batch', 'v1', plural);
  if (found === undefined) throw new StrategyAssertionError(`batch/v1 ${plural} is not in the registry`);
  return found;
}

function specOf(obj: KubeObject): Obj {
  return isObj(obj.spec) ? obj.spec : {};
}

/** The labels Kubernetes puts on a Job's pod template and selects by (batch/v1 types.go). */
export const JOB_LABELS = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  legacyJobName: 'job-name',
} as const;

// ---------------------------------------------------------------------------------------------
// Jobs.

/** SetDefaults_Job on the spec alone (also used, without labels, for nothing else). */
function defaultJobSpec(spec: Obj): void {
  if (spec.completions == null && spec.parallelism == null) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  setDefault(spec, 'parallelism', 1);
  if (spec.backoffLimit == null) spec.backoffLimit = spec.backoffLimitPerIndex != null ? 2147483647 : 6;
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  defaultPodFailurePolicy(spec.podFailurePolicy);
  setDefault(spec, 'podReplacementPolicy', spec.podFailurePolicy != null ? 'Failed' : 'TerminatingOrFailed');
  setDefault(spec, 'manualSelector', false);
}

/** SetDefaults_PodFailurePolicyOnPodConditionsPattern: status "True". */
function defaultPodFailurePolicy(policy: unknown): void {
  if (!isObj(policy) || !Array.isArray(policy.rules)) return;
  for (const rule of policy.rules) {
    const patterns = isObj(rule) && Array.isArray(rule.onPodConditions) ? rule.onPodConditions : [];
    for (const p of patterns) if (isObj(p)) setDefaultStr(p, 'status', 'True');
  }
}

export function defaultJob(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  defaultJobSpec(spec);
  const template = ensureObj(spec, 'template');
  const templateLabels = getObj(template, 'metadata')?.labels;
  const m = meta(obj);
  if (isObj(templateLabels) && Object.keys(m.labels ?? {}).length === 0) {
    m.labels = structuredClone(templateLabels) as Record<string, string>;
  }
  defaultPodTemplate(template);
}

/**
 * generateSelector: unless the user asked for a manual selector, label the pod template with the
 * job's name and uid and select by the uid. Needs metadata.uid, so it runs once the REST layer
 * has filled in the system fields (Kubernetes does it in Validate for the same reason).
 */
export function generateJobSelector(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  if (spec.manualSelector === true) return;
  const m = meta(obj);
  const uid = m.uid ?? '';
  const name = m.name ?? '';
  if (uid === '') return;
  const templateMeta = ensureObj(ensureObj(spec, 'template'), 'metadata');
  const labels = ensureObj(templateMeta, 'labels');
  for (const key of [JOB_LABELS.legacyJobName, JOB_LABELS.jobName]) setDefault(labels, key, name);
  for (const key of [JOB_LABELS.legacyControllerUid, JOB_LABELS.controllerUid]) setDefault(labels, key, uid);
  const selector = ensureObj(spec, 'selector');
  const matchLabels = ensureObj(selector, 'matchLabels');
  setDefault(matchLabels, JOB_LABELS.controllerUid, uid);
}

/** ValidateHasLabel. */
function validateHasLabel(labels: Obj, path: string, key: string, expected: string): FieldError[] {
  const at = `${path}.labels[${key}]`;
  if (!Object.hasOwn(labels, key)) return [required(at, expected)];
  return labels[key] === expected ? [] : [invalid(at, labels, `must be '${expected}'`)];
}

/** validateGeneratedSelector (create only, as in Kubernetes). */
export function validateGeneratedSelector(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  if (spec.manualSelector === true || spec.selector == null) return [];
  const labels = getObj(getObj(getObj(spec, 'template'), 'metadata'), 'labels') ?? {};
  const uid = obj.metadata?.uid ?? '';
  const name = obj.metadata?.name ?? '';
  const errs: FieldError[] = [];
  // A missing uid would make the selector "controller-uid=", which selects every stray pod.
  if (uid === '') errs.push(required('metadata.uid'));
  const path = 'spec.template.metadata';
  errs.push(...validateHasLabel(labels, path, JOB_LABELS.legacyControllerUid, uid));
  errs.push(...validateHasLabel(labels, path, JOB_LABELS.legacyJobName, name));
  errs.push(...validateHasLabel(labels, path, JOB_LABELS.controllerUid, uid));
  errs.push(...validateHasLabel(labels, path, JOB_LABELS.jobName, name));
  const expected = {
    [JOB_LABELS.controllerUid]: uid,
    [JOB_LABELS.jobName]: name,
    [JOB_LABELS.legacyControllerUid]: uid,
    [JOB_LABELS.legacyJobName]: name,
  };
  if (!selectorMatchesLabels(spec.selector, expected)) {
    errs.push(invalid('spec.selector', spec.selector, '`selector` not auto-generated'));
  }
  return errs;
}

const COMPLETION_MODES = ['NonIndexed', 'Indexed'];
const REPLACEMENT_POLICIES = ['Failed', 'TerminatingOrFailed'];

/** validateJobSpec without the selector (shared with CronJobs' job templates). */
function validateJobSpecBody(spec: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const counts = [
    'parallelism',
    'completions',
    'activeDeadlineSeconds',
    'backoffLimit',
    'ttlSecondsAfterFinished',
  ];
  for (const f of [...counts, 'backoffLimitPerIndex', 'maxFailedIndexes']) {
    errs.push(...nonNegative(spec[f], child(path, f)));
  }
  const mode = spec.completionMode;
  if (mode != null && !COMPLETION_MODES.includes(String(mode))) {
    errs.push(notSupported(child(path, 'completionMode'), mode, COMPLETION_MODES));
  }
  if (mode === 'Indexed' && spec.completions == null) {
    errs.push(required(child(path, 'completions'), 'when completion mode is Indexed'));
  }
  if (mode !== 'Indexed') {
    for (const f of ['backoffLimitPerIndex', 'maxFailedIndexes']) {
      if (spec[f] != null) errs.push(invalid(child(path, f), spec[f], 'requires indexed completion mode'));
    }
  }
  errs.push(...validateReplacementPolicy(spec, child(path, 'podReplacementPolicy')));
  const template = spec.template;
  if (!isObj(template)) return [...errs, required(child(path, 'template'))];
  errs.push(...validatePodTemplate(template, child(path, 'template')));
  errs.push(...validateJobRestartPolicy(spec, child(path, 'template', 'spec', 'restartPolicy')));
  return errs;
}

/** validatePodReplacementPolicy: with a pod failure policy only Failed makes sense. */
function validateReplacementPolicy(spec: Obj, path: string): FieldError[] {
  const policy = spec.podReplacementPolicy;
  if (policy == null) return [];
  if (spec.podFailurePolicy != null)
    return policy === 'Failed' ? [] : [notSupported(path, policy, ['Failed'])];
  return REPLACEMENT_POLICIES.includes(String(policy))
    ? []
    : [notSupported(path, policy, REPLACEMENT_POLICIES)];
}

/**
 * Pods of a Job must end, so Always (the pod default when the user gave nothing) is refused as
 * a missing value, the way Kubernetes words it.
 */
function validateJobRestartPolicy(spec: Obj, path: string): FieldError[] {
  const restartPolicy = getObj(getObj(spec, 'template'), 'spec')?.restartPolicy ?? '';
  if (restartPolicy === 'Always' || restartPolicy === '')
    return [required(path, 'valid values: "OnFailure", "Never"')];
  if (restartPolicy !== 'OnFailure' && restartPolicy !== 'Never') {
    return [notSupported(path, restartPolicy, ['OnFailure', 'Never'])];
  }
  if (spec.podFailurePolicy != null && restartPolicy !== 'Never') {
    return [invalid(path, restartPolicy, 'only "Never" is supported when podFailurePolicy is specified')];
  }
  return [];
}

/** ValidateJob's spec part (ValidateJobSpec): a nil selector selects nothing, so it also mismatches. */
export function validateJob(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs = validateJobSpecBody(spec, 'spec');
  if (spec.selector == null) errs.push(required('spec.selector'));
  else errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const labels = (getObj(getObj(spec, 'template'), 'metadata')?.labels ?? {}) as Record<string, string>;
  if (selectorParses(spec.selector) && !selectorMatchesLabels(spec.selector, labels)) {
    errs.push(
      invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'),
    );
  }
  errs.push(...validateIndexedHostname(obj));
  return errs;
}

/** Whether LabelSelectorAsSelector succeeds (nil does: it selects nothing). */
function selectorParses(selector: unknown): boolean {
  if (selector == null) return true;
  try {
    labelSelectorFromMeta(selector as MetaLabelSelector);
    return true;
  } catch {
    return false;
  }
}

/** Indexed pods are named <job>-<index>; the largest must still be a DNS label. */
function validateIndexedHostname(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  if (spec.completionMode !== 'Indexed' || typeof spec.completions !== 'number' || spec.completions <= 0)
    return [];
  const name = obj.metadata?.name ?? '';
  const hostname = `${name}-${spec.completions - 1}`;
  if (hostname.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(hostname)) return [];
  return [invalid('metadata.name', name, `will not able to create pod with invalid DNS label: ${hostname}`)];
}

/**
 * A suspended job that never started may change its scheduling directives (Kubernetes'
 * AllowMutableSchedulingDirectives); everything else of the template is fixed.
 */
function comparableTemplate(spec: Obj, oldSpec: Obj, old: KubeObject): { next: unknown; prev: unknown } {
  const next = spec.template;
  const started = getObj(old, 'status')?.startTime != null;
  if (oldSpec.suspend !== true || started || !isObj(next) || !isObj(oldSpec.template)) {
    return { next, prev: oldSpec.template };
  }
  const prev = structuredClone(oldSpec.template) as Obj;
  const prevMeta = ensureObj(prev, 'metadata');
  const nextMeta = getObj(next, 'metadata') ?? {};
  prevMeta.labels = nextMeta.labels;
  prevMeta.annotations = nextMeta.annotations;
  const prevSpec = ensureObj(prev, 'spec');
  const nextSpec = getObj(next, 'spec') ?? {};
  for (const f of ['nodeSelector', 'tolerations', 'schedulingGates']) prevSpec[f] = nextSpec[f];
  const nodeAffinity = getObj(nextSpec, 'affinity')?.nodeAffinity;
  if (isObj(prevSpec.affinity)) prevSpec.affinity.nodeAffinity = nodeAffinity;
  else if (nodeAffinity != null) prevSpec.affinity = { nodeAffinity };
  return { next, prev };
}

/** ValidateJobSpecUpdate's immutability rules. */
export function validateJobUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const oldSpec = specOf(old);
  const errs = immutable(spec.selector, oldSpec.selector, 'spec.selector');
  const { next, prev } = comparableTemplate(spec, oldSpec, old);
  errs.push(...immutable(next, prev, 'spec.template'));
  for (const f of [
    'completionMode',
    'podFailurePolicy',
    'backoffLimitPerIndex',
    'managedBy',
    'successPolicy',
  ]) {
    errs.push(...immutable(spec[f], oldSpec[f], `spec.${f}`));
  }
  if (spec.completionMode !== 'Indexed') {
    errs.push(...immutable(spec.completions, oldSpec.completions, 'spec.completions'));
  } else if (!deepEqual(spec.completions, oldSpec.completions) && spec.completions !== spec.parallelism) {
    errs.push(
      invalid('spec.completions', spec.completions, 'can only be modified in tandem with spec.parallelism'),
    );
  }
  return errs;
}

const jobBase = defineStrategy({
  info: info('jobs'),
  defaults: defaultJob,
  validate: validateJob,
  validateUpdate: validateJobUpdate,
  hasStatus: true,
  hasGeneration: true,
  prepareForCreate: generateJobSelector,
  fields: (obj) => ({ 'status.successful': String(getObj(obj, 'status')?.successful ?? 0) }),
});

/** Jobs: the generated selector is (re)applied and checked on create only, once the uid exists. */
export const jobStrategy: ResourceStrategy = {
  ...jobBase,
  validateCreate: (obj) => {
    generateJobSelector(obj);
    return [...validateGeneratedSelector(obj), ...jobBase.validateCreate(obj)];
  },
};

// ---------------------------------------------------------------------------------------------
// CronJobs.

export function defaultCronJob(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultStr(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  const jobSpec = ensureObj(ensureObj(spec, 'jobTemplate'), 'spec');
  defaultPodTemplate(ensureObj(jobSpec, 'template'));
}

const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'];
/** The cron controller appends "-<11 digits>" to job names, which are at most 63 characters. */
const CRONJOB_NAME_MAX = 52;

/** ValidateCronJobSpec plus the name length rule. */
export function validateCronJob(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs: FieldError[] = [];
  const name = obj.metadata?.name ?? '';
  if (name.length > CRONJOB_NAME_MAX)
    errs.push(invalid('metadata.name', name, 'must be no more than 52 characters'));
  const schedule = typeof spec.schedule === 'string' ? spec.schedule : '';
  if (schedule === '') errs.push(required('spec.schedule'));
  else errs.push(...validateScheduleFormat(schedule, 'spec.schedule'));
  errs.push(...validateTimeZone(spec.timeZone, 'spec.timeZone'));
  errs.push(...nonNegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'));
  const policy = spec.concurrencyPolicy ?? '';
  if (policy === '') errs.push(required('spec.concurrencyPolicy'));
  else if (!CONCURRENCY_POLICIES.includes(String(policy))) {
    errs.push(notSupported('spec.concurrencyPolicy', policy, CONCURRENCY_POLICIES));
  }
  errs.push(...nonNegative(spec.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'));
  errs.push(...nonNegative(spec.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'));
  errs.push(...validateJobTemplate(getObj(spec, 'jobTemplate') ?? {}, 'spec.jobTemplate'));
  return errs;
}

/** ValidateJobTemplateSpec: the selector is always generated for jobs a CronJob makes. */
function validateJobTemplate(template: Obj, path: string): FieldError[] {
  const jobSpec = getObj(template, 'spec') ?? {};
  const errs = validateJobSpecBody(jobSpec, child(path, 'spec'));
  if (jobSpec.selector != null) {
    errs.push(
      invalid(child(path, 'spec', 'selector'), jobSpec.selector, '`selector` will be auto-generated'),
    );
  }
  if (jobSpec.manualSelector === true) {
    errs.push(notSupported(child(path, 'spec', 'manualSelector'), true, ['nil', 'false']));
  }
  return errs;
}

/** validateScheduleFormat: new CronJobs put the zone in spec.timeZone, never in the schedule. */
function validateScheduleFormat(schedule: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const problem = parseCronSchedule(schedule);
  if (problem !== undefined) errs.push(invalid(path, schedule, problem));
  if (schedule.includes('TZ')) {
    errs.push(invalid(path, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
  }
  return errs;
}

const TIME_ZONE_PART_RE = /^[A-Za-z.\-_0-9+]{1,14}$/;

/** validateTimeZone: an explicit IANA zone name the runtime knows. */
export function validateTimeZone(timeZone: unknown, path: string): FieldError[] {
  if (timeZone === undefined || timeZone === null) return [];
  const tz = String(timeZone);
  if (tz === '') return [invalid(path, tz, 'timeZone must be nil or non-empty string')];
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !TIME_ZONE_PART_RE.test(part)) {
      return [invalid(path, tz, `unknown time zone ${tz}`)];
    }
  }
  if (tz.toLowerCase() === 'local') {
    return [
      invalid(
        path,
        tz,
        'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones',
      ),
    ];
  }
  return isKnownTimeZone(tz) ? [] : [invalid(path, tz, `unknown time zone ${tz}`)];
}

function isKnownTimeZone(tz: string): boolean {
  if (tz === 'UTC') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const cronJobStrategy = defineStrategy({
  info: info('cronjobs'),
  defaults: defaultCronJob,
  validate: validateCronJob,
  hasStatus: true,
  hasGeneration: true,
});

export const batchStrategies = [jobStrategy, cronJobStrategy];

// ---------------------------------------------------------------------------------------------
// The cron parser: robfig/cron v3 ParseStandard (minute hour dom month dow, descriptors).

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DOW_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const CRON_FIELDS: Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: Object.fromEntries(MONTH_NAMES.map((n, i) => [n, i + 1])) },
  { min: 0, max: 6, names: Object.fromEntries(DOW_NAMES.map((n, i) => [n, i])) },
];
const DESCRIPTORS = new Set([
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
]);
const GO_DURATION_RE = /^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$/;

/** Parses a cron schedule; undefined when valid, else robfig/cron's error message. */
export function parseCronSchedule(input: string): string | undefined {
  let spec = input;
  if (spec.length === 0) return 'empty spec string';
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const space = spec.indexOf(' ');
    const zone = spec.slice(spec.indexOf('=') + 1, space < 0 ? spec.length : space);
    if (space < 0 || !isKnownTimeZone(zone))
      return `provided bad location ${zone}: unknown time zone ${zone}`;
    spec = spec.slice(space).trim();
  }
  if (spec.startsWith('@')) return parseDescriptor(spec);
  const fields = spec.split(/\s+/).filter((f) => f !== '');
  if (fields.length !== CRON_FIELDS.length) {
    return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  }
  for (let i = 0; i < CRON_FIELDS.length; i++) {
    const problem = parseCronField(fields[i] ?? '', CRON_FIELDS[i] as Bounds);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function parseDescriptor(spec: string): string | undefined {
  if (DESCRIPTORS.has(spec)) return undefined;
  const every = '@every ';
  if (spec.startsWith(every)) {
    const duration = spec.slice(every.length);
    if (duration === '0' || GO_DURATION_RE.test(duration)) return undefined;
    return `failed to parse duration ${spec}: time: invalid duration ${JSON.stringify(duration)}`;
  }
  return `unrecognized descriptor: ${spec}`;
}

function parseCronField(field: string, bounds: Bounds): string | undefined {
  for (const expr of field.split(',')) {
    const problem = parseCronRange(expr, bounds);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function parseCronRange(expr: string, bounds: Bounds): string | undefined {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = (rangeAndStep[0] ?? '').split('-');
  let start: number;
  let end: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = bounds.min;
    end = bounds.max;
  } else {
    const low = parseIntOrName(lowAndHigh[0] ?? '', bounds.names);
    if (typeof low === 'string') return low;
    start = low;
    if (lowAndHigh.length > 2) return `too many hyphens: ${expr}`;
    const high = lowAndHigh.length === 2 ? parseIntOrName(lowAndHigh[1] ?? '', bounds.names) : start;
    if (typeof high === 'string') return high;
    end = high;
  }
  let step = 1;
  if (rangeAndStep.length > 2) return `too many slashes: ${expr}`;
  if (rangeAndStep.length === 2) {
    const parsed = mustParseInt(rangeAndStep[1] ?? '');
    if (typeof parsed === 'string') return parsed;
    step = parsed;
    // "N/step" means "N-max/step".
    if (lowAndHigh.length === 1) end = bounds.max;
  }
  if (start < bounds.min) return `beginning of range (${start}) below minimum (${bounds.min}): ${expr}`;
  if (end > bounds.max) return `end of range (${end}) above maximum (${bounds.max}): ${expr}`;
  if (start > end) return `beginning of range (${start}) beyond end of range (${end}): ${expr}`;
  if (step === 0) return `step of range should be a positive number: ${expr}`;
  return undefined;
}

function parseIntOrName(expr: string, names: Record<string, number> | undefined): number | string {
  const named = names?.[expr.toLowerCase()];
  return named ?? mustParseInt(expr);
}

/** strconv.Atoi plus robfig's sign check; the error text is Go's. */
function mustParseInt(expr: string): number | string {
  if (!/^[-+]?[0-9]+$/.test(expr)) {
    return `failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`;
  }
  const n = Number.parseInt(expr, 10);
  if (!Number.isSafeInteger(n)) {
    return `failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: value out of range`;
  }
  if (n < 0) return `negative number (${n}) not allowed: ${expr}`;
  return n;
}
