// Label and field selectors, parsed, printed and matched the way k8s.io/apimachinery/pkg/labels and
// k8s.io/apimachinery/pkg/fields do it, with Kubernetes' own error messages. The apiserver turns a
// SelectorError straight into a 400 Status, so `kubectl get -l 'app:x'` prints what it prints against
// kube-apiserver.

import { StatusError } from './status.js';
import { isQualifiedName, isValidLabelValue } from './validation/names.js';

/** selection.Operator values. `!` is DoesNotExist, `exists` is Exists, `gt`/`lt` compare integers. */
export type LabelOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

/** labels.Requirement. `values` keeps the order it was built with; printing sorts a copy. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/**
 * labels.Selector: requirements sorted by key (AND of all). `nothing` is labels.Nothing(), the
 * selector of a nil metav1.LabelSelector, which matches no object at all.
 */
export interface LabelSelector {
  requirements: LabelRequirement[];
  nothing: boolean;
}

/** metav1.LabelSelector as it appears in object specs. */
export interface MetaLabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export type SelectorErrorCode = 'InvalidLabelSelector' | 'InvalidFieldSelector' | 'UnsupportedFieldLabel';

/** A selector the client got wrong: a 400 BadRequest whose message is Kubernetes' own. */
export class SelectorError extends StatusError {
  readonly selectorCode: SelectorErrorCode;

  constructor(selectorCode: SelectorErrorCode, message: string) {
    super(400, 'BadRequest', message);
    this.name = 'SelectorError';
    this.selectorCode = selectorCode;
  }
}

// ---------------------------------------------------------------------------------------------
// Error text the selector parser builds around validation/names.ts's messages.

/** Go's %#v of a []string, as field.Invalid prints a bad values list. */
function goStringSlice(values: string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

/** field.Invalid(path, value, detail).Error(); a nil path prints as `<nil>`. */
function invalidField(path: string, value: string, detail: string): string {
  return `${path}: Invalid value: ${value}: ${detail}`;
}

function validateLabelKey(key: string, path: string): string | undefined {
  const errs = isQualifiedName(key);
  return errs.length === 0 ? undefined : invalidField(path, JSON.stringify(key), errs.join('; '));
}

// ---------------------------------------------------------------------------------------------
// labels.NewRequirement

const BINARY_OPERATORS = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'] as const;
const INTEGER_RE = /^[+-]?\d+$/;

/**
 * labels.NewRequirement with the errors Kubernetes aggregates: one message alone, several as `[a, b]`.
 * `keyPath` is where a bad key is reported: `<nil>` from the parser, `key` from metav1 selectors.
 */
export function newRequirement(
  key: string,
  operator: LabelOperator,
  values: string[],
  keyPath = 'key',
): LabelRequirement {
  const errs: string[] = [];
  const keyErr = validateLabelKey(key, keyPath);
  if (keyErr !== undefined) errs.push(keyErr);
  const shown = goStringSlice(values);
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0)
        errs.push(invalidField('values', shown, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1)
        errs.push(invalidField('values', shown, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0)
        errs.push(invalidField('values', shown, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1)
        errs.push(invalidField('values', shown, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (!INTEGER_RE.test(v)) {
          errs.push(
            invalidField(
              `values[${i}]`,
              JSON.stringify(v),
              "for 'Gt', 'Lt' operators, the value must be an integer",
            ),
          );
        }
      });
      break;
  }
  values.forEach((v, i) => {
    const valueErrs = isValidLabelValue(v);
    if (valueErrs.length > 0)
      errs.push(invalidField(`values[${i}][${key}]`, JSON.stringify(v), valueErrs.join('; ')));
  });
  if (errs.length > 0) {
    throw new SelectorError(
      'InvalidLabelSelector',
      errs.length === 1 ? (errs[0] as string) : `[${errs.join(', ')}]`,
    );
  }
  return { key, operator, values: [...values] };
}

// ---------------------------------------------------------------------------------------------
// The lexer and parser of labels.Parse.

type Token =
  | 'error'
  | 'end'
  | 'closedPar'
  | 'comma'
  | 'doesNotExist'
  | 'doubleEquals'
  | 'equals'
  | 'greaterThan'
  | 'identifier'
  | 'in'
  | 'lessThan'
  | 'notEquals'
  | 'notIn'
  | 'openPar';

interface ScannedItem {
  tok: Token;
  literal: string;
}

const STRING_TO_TOKEN: ReadonlyMap<string, Token> = new Map<string, Token>([
  [')', 'closedPar'],
  [',', 'comma'],
  ['!', 'doesNotExist'],
  ['==', 'doubleEquals'],
  ['=', 'equals'],
  ['>', 'greaterThan'],
  ['in', 'in'],
  ['<', 'lessThan'],
  ['!=', 'notEquals'],
  ['notin', 'notIn'],
  ['(', 'openPar'],
]);

/** Selectors longer than this are refused before lexing; the apiserver bounds URLs far below it anyway. */
const SELECTOR_LENGTH_MAX = 1 << 20;

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function isSpecialSymbol(ch: string): boolean {
  return ch === '=' || ch === '!' || ch === '(' || ch === ')' || ch === ',' || ch === '>' || ch === '<';
}

/** labels.Lexer. A NUL character ends the input, as Go's lexer reads byte 0 as end of string. */
class Lexer {
  private pos = 0;

  constructor(private readonly s: string) {}

  private read(): string {
    if (this.pos < this.s.length) {
      const ch = this.s[this.pos] as string;
      this.pos++;
      return ch === '\0' ? '' : ch;
    }
    return '';
  }

  private unread(): void {
    this.pos--;
  }

  private scanIdOrKeyword(): ScannedItem {
    let buffer = '';
    for (;;) {
      const ch = this.read();
      if (ch === '') break;
      if (isSpecialSymbol(ch) || isWhitespace(ch)) {
        this.unread();
        break;
      }
      buffer += ch;
    }
    const tok = STRING_TO_TOKEN.get(buffer);
    return { tok: tok ?? 'identifier', literal: buffer };
  }

  private scanSpecialSymbol(): ScannedItem {
    let last: ScannedItem | undefined;
    let buffer = '';
    for (;;) {
      const ch = this.read();
      if (ch === '') break;
      if (!isSpecialSymbol(ch)) {
        this.unread();
        break;
      }
      buffer += ch;
      const tok = STRING_TO_TOKEN.get(buffer);
      if (tok !== undefined) {
        last = { tok, literal: buffer };
      } else if (last !== undefined) {
        this.unread();
        break;
      }
    }
    return last ?? { tok: 'error', literal: `error expected: keyword found '${buffer}'` };
  }

  lex(): ScannedItem {
    let ch = this.read();
    while (ch !== '' && isWhitespace(ch)) ch = this.read();
    if (ch === '') return { tok: 'end', literal: '' };
    this.unread();
    return isSpecialSymbol(ch) ? this.scanSpecialSymbol() : this.scanIdOrKeyword();
  }
}

type ParserContext = 'keyAndOperator' | 'values';

/** labels.Parser: a recursive-descent parser over the scanned tokens. */
class Parser {
  private readonly items: ScannedItem[] = [];
  private position = 0;

  constructor(input: string) {
    const lexer = new Lexer(input);
    // Every token consumes at least one character, so input length + 1 bounds the scan.
    for (let i = 0; i <= input.length + 1; i++) {
      const item = lexer.lex();
      this.items.push(item);
      if (item.tok === 'end') return;
    }
    throw new Error('assertion failed: the label selector lexer did not reach the end of its input');
  }

  private at(index: number, context: ParserContext): ScannedItem {
    const item = this.items[Math.min(index, this.items.length - 1)] as ScannedItem;
    if (context === 'values' && (item.tok === 'in' || item.tok === 'notIn'))
      return { tok: 'identifier', literal: item.literal };
    return item;
  }

  private lookahead(context: ParserContext): ScannedItem {
    return this.at(this.position, context);
  }

  private consume(context: ParserContext): ScannedItem {
    this.position++;
    return this.at(this.position - 1, context);
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const { tok, literal } = this.lookahead('values');
      if (tok === 'end') return requirements;
      if (tok !== 'identifier' && tok !== 'doesNotExist') {
        throw new Error(`found '${literal}', expected: !, identifier, or 'end of string'`);
      }
      requirements.push(this.parseRequirementWrapped());
      const next = this.consume('values');
      if (next.tok === 'end') return requirements;
      if (next.tok !== 'comma') throw new Error(`found '${next.literal}', expected: ',' or 'end of string'`);
      const after = this.lookahead('values');
      if (after.tok !== 'identifier' && after.tok !== 'doesNotExist') {
        throw new Error(`found '${after.literal}', expected: identifier after ','`);
      }
    }
  }

  private parseRequirementWrapped(): LabelRequirement {
    try {
      return this.parseRequirement();
    } catch (err: unknown) {
      throw new Error(`unable to parse requirement: ${(err as Error).message}`);
    }
  }

  private parseRequirement(): LabelRequirement {
    const { key, operator } = this.parseKeyAndInferOperator();
    if (operator === 'exists' || operator === '!') return newRequirement(key, operator, [], '<nil>');
    const op = this.parseOperator();
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort(compareStrings), '<nil>');
  }

  private parseKeyAndInferOperator(): { key: string; operator: LabelOperator | undefined } {
    let operator: LabelOperator | undefined;
    let item = this.consume('values');
    if (item.tok === 'doesNotExist') {
      operator = '!';
      item = this.consume('values');
    }
    if (item.tok !== 'identifier') throw new Error(`found '${item.literal}', expected: identifier`);
    const keyErr = validateLabelKey(item.literal, '<nil>');
    if (keyErr !== undefined) throw new Error(keyErr);
    const next = this.lookahead('values').tok;
    if ((next === 'end' || next === 'comma') && operator !== '!') operator = 'exists';
    return { key: item.literal, operator };
  }

  private parseOperator(): LabelOperator {
    const { tok, literal } = this.consume('keyAndOperator');
    const op = TOKEN_TO_OPERATOR.get(tok);
    if (op === undefined) throw new Error(`found '${literal}', expected: ${BINARY_OPERATORS.join(', ')}`);
    return op;
  }

  private parseValues(): Set<string> {
    const open = this.consume('values');
    if (open.tok !== 'openPar') throw new Error(`found '${open.literal}' expected: '('`);
    const { tok, literal } = this.lookahead('values');
    if (tok === 'identifier' || tok === 'comma') {
      const s = this.parseIdentifiersList();
      if (this.consume('values').tok !== 'closedPar') throw new Error(`found '${literal}', expected: ')'`);
      return s;
    }
    if (tok === 'closedPar') {
      this.consume('values');
      return new Set(['']);
    }
    throw new Error(`found '${literal}', expected: ',', ')' or identifier`);
  }

  private parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    // Each round consumes one token, so the number of tokens bounds the loop.
    for (let round = 0; round < this.items.length; round++) {
      const { tok, literal } = this.consume('values');
      if (tok === 'identifier') {
        s.add(literal);
        const next = this.lookahead('values');
        if (next.tok === 'comma') continue;
        if (next.tok === 'closedPar') return s;
        throw new Error(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (tok !== 'comma') throw new Error(`found '${literal}', expected: ',', or identifier`);
      // "(," and ",," and ",)" stand for empty values.
      if (s.size === 0) s.add('');
      const next = this.lookahead('values').tok;
      if (next === 'closedPar') {
        s.add('');
        return s;
      }
      if (next === 'comma') s.add('');
    }
    throw new Error("found '', expected: ',' or ')'");
  }

  private parseExactValue(): Set<string> {
    const next = this.lookahead('values').tok;
    if (next === 'end' || next === 'comma') return new Set(['']);
    const { tok, literal } = this.consume('values');
    if (tok === 'identifier') return new Set([literal]);
    throw new Error(`found '${literal}', expected: identifier`);
  }
}

const TOKEN_TO_OPERATOR: ReadonlyMap<Token, LabelOperator> = new Map<Token, LabelOperator>([
  ['in', 'in'],
  ['equals', '='],
  ['doubleEquals', '=='],
  ['greaterThan', 'gt'],
  ['lessThan', 'lt'],
  ['notIn', 'notin'],
  ['notEquals', '!='],
]);

/** Go's byte-wise string order (sort.Strings), which differs from localeCompare. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedByKey(requirements: LabelRequirement[]): LabelRequirement[] {
  return [...requirements].sort((a, b) => compareStrings(a.key, b.key));
}

/** labels.Everything(): the empty selector. */
export function everythingSelector(): LabelSelector {
  return { requirements: [], nothing: false };
}

/** labels.Parse. Throws SelectorError with Kubernetes' message for bad input. */
export function parseLabelSelector(input: string): LabelSelector {
  if (input.length > SELECTOR_LENGTH_MAX) {
    throw new SelectorError(
      'InvalidLabelSelector',
      `label selector is longer than ${SELECTOR_LENGTH_MAX} characters`,
    );
  }
  try {
    return { requirements: sortedByKey(new Parser(input).parse()), nothing: false };
  } catch (err: unknown) {
    if (err instanceof SelectorError) throw err;
    if (err instanceof Error && !err.message.startsWith('assertion failed')) {
      throw new SelectorError('InvalidLabelSelector', err.message);
    }
    throw err;
  }
}

const META_OPERATORS: ReadonlyMap<string, LabelOperator> = new Map<string, LabelOperator>([
  ['In', 'in'],
  ['NotIn', 'notin'],
  ['Exists', 'exists'],
  ['DoesNotExist', '!'],
]);

/** metav1.LabelSelectorAsSelector: nil selects nothing, an empty one everything. */
export function labelSelectorFromMeta(ps: MetaLabelSelector | null | undefined): LabelSelector {
  if (ps === null || ps === undefined) return { requirements: [], nothing: true };
  const matchLabels = ps.matchLabels ?? {};
  const expressions = ps.matchExpressions ?? [];
  const requirements: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(matchLabels)) requirements.push(newRequirement(k, '=', [v]));
  for (const expr of expressions) {
    const op = META_OPERATORS.get(expr.operator);
    if (op === undefined) {
      throw new SelectorError(
        'InvalidLabelSelector',
        `${JSON.stringify(expr.operator)} is not a valid label selector operator`,
      );
    }
    requirements.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
  }
  return { requirements: sortedByKey(requirements), nothing: false };
}

/** Requirement.String(). */
export function requirementToString(r: LabelRequirement): string {
  const prefix = r.operator === '!' ? '!' : '';
  if (r.operator === 'exists' || r.operator === '!') return `${prefix}${r.key}`;
  const shown =
    r.values.length === 1 ? (r.values[0] as string) : [...r.values].sort(compareStrings).join(',');
  switch (r.operator) {
    case 'in':
      return `${r.key} in (${shown})`;
    case 'notin':
      return `${r.key} notin (${shown})`;
    case 'gt':
      return `${r.key}>${shown}`;
    case 'lt':
      return `${r.key}<${shown}`;
    default:
      return `${r.key}${r.operator}${shown}`;
  }
}

/** Selector.String(): requirements joined by ",". Nothing prints as "". */
export function selectorToString(sel: LabelSelector): string {
  if (sel.nothing) return '';
  return sel.requirements.map(requirementToString).join(',');
}

/** Whether the selector restricts nothing (labels.Everything()). */
export function isEverything(sel: LabelSelector): boolean {
  return !sel.nothing && sel.requirements.length === 0;
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return value !== undefined && r.values.includes(value);
    case 'notin':
    case '!=':
      return value === undefined || !r.values.includes(value);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt':
      return compareInteger(r, value);
  }
}

/** Gt/Lt compare as int64; values that are not integers never match, as in Kubernetes. */
function compareInteger(r: LabelRequirement, value: string | undefined): boolean {
  if (value === undefined || !INTEGER_RE.test(value) || r.values.length !== 1) return false;
  const bound = r.values[0] as string;
  if (!INTEGER_RE.test(bound)) return false;
  const have = BigInt(value);
  const want = BigInt(bound);
  return r.operator === 'gt' ? have > want : have < want;
}

/** Selector.Matches over an object's labels (absent labels are an empty set). */
export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (sel.nothing) return false;
  const set = labels ?? {};
  return sel.requirements.every((r) => requirementMatches(r, set));
}

/** labels.FormatLabels: sorted `k=v` joined by ",", or `<none>`. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort(compareStrings);
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${(labels as Record<string, string>)[k]}`).join(',');
}

/** metav1.FormatLabelSelector: the selector's string, `<none>` when empty, `<error>` when invalid. */
export function formatLabelSelector(ps: MetaLabelSelector | null | undefined): string {
  try {
    const s = selectorToString(labelSelectorFromMeta(ps));
    return s === '' ? '<none>' : s;
  } catch (err: unknown) {
    if (err instanceof SelectorError) return '<error>';
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Field selectors: k8s.io/apimachinery/pkg/fields.

export type FieldOperator = '=' | '==' | '!=';

/** One term of a field selector. `=` and `==` both mean "has"; the value is unescaped. */
export interface FieldRequirement {
  field: string;
  operator: FieldOperator;
  value: string;
}

/** A field selector: an AND of terms, in the order Kubernetes sorts them (by their text). */
export interface FieldSelector {
  requirements: FieldRequirement[];
}

const TERM_OPERATORS: readonly FieldOperator[] = ['!=', '==', '='];

/** fields.EscapeValue: `\` then `,` and `=` are escaped with a backslash. */
export function escapeFieldValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/=/g, '\\=');
}

/** fields.UnescapeValue with its two error messages (an unescaped rune prints as its code point). */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') {
        throw new SelectorError(
          'InvalidFieldSelector',
          `invalid field selector: invalid escape sequence: \\${c}`,
        );
      }
      out += c;
      inSlash = false;
    } else if (c === '\\') {
      inSlash = true;
    } else if (c === ',' || c === '=') {
      throw new SelectorError(
        'InvalidFieldSelector',
        `invalid field selector: unescaped character in value: ${c.codePointAt(0)}`,
      );
    } else {
      out += c;
    }
  }
  if (inSlash)
    throw new SelectorError('InvalidFieldSelector', 'invalid field selector: invalid escape sequence: \\');
  return out;
}

/** fields.splitTerms: split on commas that are not backslash-escaped; escapes stay in the terms. */
function splitTerms(selector: string): string[] {
  if (selector.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** fields.splitTerm: the first operator found (trying `!=`, `==`, `=` at each position) splits. */
function splitTerm(term: string): { lhs: string; op: FieldOperator; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** fields.ParseSelector. Throws SelectorError with Kubernetes' message for bad input. */
export function parseFieldSelector(selector: string): FieldSelector {
  if (selector.length > SELECTOR_LENGTH_MAX) {
    throw new SelectorError(
      'InvalidFieldSelector',
      `field selector is longer than ${SELECTOR_LENGTH_MAX} characters`,
    );
  }
  const parts = splitTerms(selector).sort(compareStrings);
  const requirements: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const term = splitTerm(part);
    if (term === undefined) {
      throw new SelectorError(
        'InvalidFieldSelector',
        `invalid selector: '${selector}'; can't understand '${part}'`,
      );
    }
    requirements.push({ field: term.lhs, operator: term.op, value: unescapeFieldValue(term.rhs) });
  }
  return { requirements };
}

/** Selector.String(): `field=value` / `field!=value` with values escaped, joined by ",". */
export function fieldSelectorToString(sel: FieldSelector): string {
  return sel.requirements
    .map((r) => `${r.field}${r.operator === '!=' ? '!=' : '='}${escapeFieldValue(r.value)}`)
    .join(',');
}

/** Selector.Matches: a missing field reads as "" (fields.Set.Get). */
export function matchesFields(sel: FieldSelector, fields: Record<string, string>): boolean {
  return sel.requirements.every((r) => {
    const have = Object.hasOwn(fields, r.field) ? fields[r.field] : '';
    return r.operator === '!=' ? have !== r.value : have === r.value;
  });
}

/** Selector.RequiresExactMatch: the value a `field=value` term pins, for indexed lookups. */
export function fieldRequiresExactMatch(sel: FieldSelector, field: string): string | undefined {
  const term = sel.requirements.find((r) => r.field === field && r.operator !== '!=');
  return term?.value;
}

/**
 * The field labels each kind accepts, from the AddFieldLabelConversionFunc registrations of
 * kube-apiserver 1.32 (pkg/apis/core/v1, batch/v1, …). Kinds not listed take the default set,
 * metadata.name and metadata.namespace, and answer with the default conversion's message.
 */
const FIELD_LABELS: Readonly<Record<string, readonly string[]>> = {
  Pod: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.podIPs',
    'status.nominatedNodeName',
    'spec.host',
  ],
  Node: ['metadata.name', 'spec.unschedulable'],
  ReplicationController: ['metadata.name', 'metadata.namespace', 'status.replicas'],
  Event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
    'metadata.namespace',
    'metadata.name',
  ],
  Namespace: ['status.phase', 'metadata.name'],
  Secret: ['type', 'metadata.namespace', 'metadata.name'],
  Service: ['metadata.namespace', 'metadata.name', 'spec.clusterIP', 'spec.type'],
  Job: ['metadata.name', 'metadata.namespace', 'status.successful'],
};

const DEFAULT_FIELD_LABELS: readonly string[] = ['metadata.name', 'metadata.namespace'];

/** The message of a kind's own conversion function (batch/v1 words it differently from core/v1). */
function customFieldLabelError(kind: string, label: string): string {
  if (kind === 'Job') return `field label ${JSON.stringify(label)} not supported for Job`;
  return `field label not supported: ${label}`;
}

/** runtime.DefaultMetaV1FieldSelectorConversion's message. */
function defaultFieldLabelError(label: string): string {
  return `${JSON.stringify(label)} is not a known field selector: only "metadata.name", "metadata.namespace"`;
}

/** The field labels `kind` accepts in a field selector. */
export function supportedFieldLabels(kind: string): readonly string[] {
  return FIELD_LABELS[kind] ?? DEFAULT_FIELD_LABELS;
}

/**
 * Checks every field of the selector against what `kind` supports, as the apiserver's field label
 * conversion does, and rewrites the legacy `spec.host` of pods to `spec.nodeName`. Throws a
 * SelectorError (400) with Kubernetes' message for the first unsupported field.
 */
export function convertFieldSelector(kind: string, sel: FieldSelector): FieldSelector {
  const custom = FIELD_LABELS[kind];
  const allowed = custom ?? DEFAULT_FIELD_LABELS;
  const requirements = sel.requirements.map((r) => {
    if (!allowed.includes(r.field)) {
      const message =
        custom !== undefined ? customFieldLabelError(kind, r.field) : defaultFieldLabelError(r.field);
      throw new SelectorError('UnsupportedFieldLabel', message);
    }
    return kind === 'Pod' && r.field === 'spec.host' ? { ...r, field: 'spec.nodeName' } : r;
  });
  return { requirements };
}
