// Server-side field validation (fieldValidation=Strict|Warn|Ignore): unknown fields, found by walking
// a body against its SchemaNode, and duplicate fields, found by scanning the raw JSON (JSON.parse
// silently keeps the last duplicate). Paths and messages are kube-apiserver's, in document order:
//   Strict → 400 `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
//            duplicate field "metadata.name", unknown field "spec.foo"`
//   Warn   → one warning per issue: `unknown field "spec.foo"`.
// As in Kubernetes for typed resources, a field both unknown and duplicated is reported once, as
// unknown; a duplicate is reported where its second occurrence is.

import { StatusError } from '../status.js';
import type { SchemaNode } from '../types.js';

export interface FieldIssue {
  kind: 'unknown' | 'duplicate';
  /** Kubernetes' path without a leading dot: `spec.template.spec.containers[0].imagee`. */
  path: string;
}

export class JsonScanError extends Error {
  readonly code = 'JSON_SCAN_ERROR';
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonScanError';
    this.offset = offset;
  }
}

/** JSON as a tree that keeps every key of an object, duplicates included, in document order. */
type JsonTree =
  | { t: 'object'; entries: Array<[string, JsonTree]> }
  | { t: 'array'; items: JsonTree[] }
  | { t: 'scalar' };

const SCALAR: JsonTree = { t: 'scalar' };
/** Deeper bodies are refused rather than risking the stack (Kubernetes' limit is 10,000). */
const DEPTH_MAX = 1000;

/** A recursive-descent scanner: just enough JSON to see keys; values other than containers are skipped. */
class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  scanDocument(): JsonTree {
    const tree = this.value(0);
    this.ws();
    if (this.pos !== this.text.length) throw new JsonScanError('unexpected trailing data', this.pos);
    return tree;
  }

  private ws(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] as string)) this.pos++;
  }

  private value(depth: number): JsonTree {
    if (depth > DEPTH_MAX) throw new JsonScanError('nesting too deep', this.pos);
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') {
      this.string();
      return SCALAR;
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (m === null) throw new JsonScanError('invalid value', this.pos);
    this.pos += m[0].length;
    return SCALAR;
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\\') this.pos += 2;
      else if (c === '"') {
        this.pos++;
        return JSON.parse(this.text.slice(start, this.pos)) as string;
      } else this.pos++;
    }
    throw new JsonScanError('unterminated string', start);
  }

  private expect(c: string): void {
    this.ws();
    if (this.text[this.pos] !== c) throw new JsonScanError(`expected '${c}'`, this.pos);
    this.pos++;
  }

  private object(depth: number): JsonTree {
    this.pos++;
    const entries: Array<[string, JsonTree]> = [];
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { t: 'object', entries };
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') throw new JsonScanError('expected a key', this.pos);
      const key = this.string();
      this.expect(':');
      entries.push([key, this.value(depth + 1)]);
      this.ws();
      const c = this.text[this.pos++];
      if (c === '}') return { t: 'object', entries };
      if (c !== ',') throw new JsonScanError("expected ',' or '}'", this.pos - 1);
    }
  }

  private array(depth: number): JsonTree {
    this.pos++;
    const items: JsonTree[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { t: 'array', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === ']') return { t: 'array', items };
      if (c !== ',') throw new JsonScanError("expected ',' or ']'", this.pos - 1);
    }
  }
}

function treeOf(value: unknown, depth: number): JsonTree {
  if (depth > DEPTH_MAX) throw new JsonScanError('nesting too deep', 0);
  if (Array.isArray(value)) return { t: 'array', items: value.map((v) => treeOf(v, depth + 1)) };
  if (value !== null && typeof value === 'object') {
    return { t: 'object', entries: Object.entries(value).map(([k, v]) => [k, treeOf(v, depth + 1)]) };
  }
  return SCALAR;
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Walks a tree against a schema, appending issues in document order. */
function walk(tree: JsonTree, schema: SchemaNode, path: string, out: FieldIssue[]): void {
  if (schema.type === 'object' && tree.t === 'object') {
    if (schema.preserveUnknown === true) return;
    const seen = new Set<string>();
    for (const [key, child] of tree.entries) {
      const field = schema.fields[key];
      if (field === undefined) {
        if (!seen.has(key)) out.push({ kind: 'unknown', path: join(path, key) });
      } else {
        if (seen.has(key)) out.push({ kind: 'duplicate', path: join(path, key) });
        walk(child, field(), join(path, key), out);
      }
      seen.add(key);
    }
  } else if (schema.type === 'map' && tree.t === 'object') {
    const seen = new Set<string>();
    for (const [key, child] of tree.entries) {
      if (seen.has(key)) out.push({ kind: 'duplicate', path: join(path, key) });
      seen.add(key);
      walk(child, schema.values(), join(path, key), out);
    }
  } else if (schema.type === 'list' && tree.t === 'array') {
    for (const [i, item] of tree.items.entries()) walk(item, schema.items(), `${path}[${i}]`, out);
  }
  // Anything else is either opaque (any, preserveUnknown) or a type mismatch that decoding reports.
}

/** Kubernetes' paths of the fields of `obj` that `schema` does not know, e.g. `spec.containers[0].imagee`. */
export function unknownFields(obj: unknown, schema: SchemaNode): string[] {
  const out: FieldIssue[] = [];
  walk(treeOf(obj, 0), schema, '', out);
  return out.map((issue) => issue.path);
}

/**
 * Every strict-decoding issue of a raw JSON body: duplicate fields and, when a schema is given,
 * unknown fields, in document order. Throws JsonScanError for malformed JSON.
 */
export function strictDecodeErrors(rawJson: string, schema?: SchemaNode): FieldIssue[] {
  const tree = new Scanner(rawJson).scanDocument();
  if (schema === undefined) return duplicatesOnly(tree);
  const out: FieldIssue[] = [];
  walk(tree, schema, '', out);
  return out;
}

/** Duplicate keys anywhere in the tree, for bodies without a schema. */
function duplicatesOnly(tree: JsonTree): FieldIssue[] {
  const out: FieldIssue[] = [];
  const visit = (node: JsonTree, path: string): void => {
    if (node.t === 'array') for (const [i, item] of node.items.entries()) visit(item, `${path}[${i}]`);
    if (node.t !== 'object') return;
    const seen = new Set<string>();
    for (const [key, child] of node.entries) {
      if (seen.has(key)) out.push({ kind: 'duplicate', path: join(path, key) });
      seen.add(key);
      visit(child, join(path, key));
    }
  };
  visit(tree, '');
  return out;
}

/** `unknown field "spec.foo"` / `duplicate field "metadata.name"`: one Warn warning each. */
export function fieldIssueMessage(issue: FieldIssue): string {
  return `${issue.kind} field "${issue.path}"`;
}

/** `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`. */
export function strictDecodingMessage(issues: readonly FieldIssue[]): string {
  if (issues.length === 0) throw new Error('strictDecodingMessage: no issues');
  return `strict decoding error: ${issues.map(fieldIssueMessage).join(', ')}`;
}

/**
 * The 400 BadRequest kube-apiserver answers under fieldValidation=Strict:
 * `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: …`.
 */
export function strictDecodingStatusError(
  kind: string,
  version: string,
  issues: readonly FieldIssue[],
): StatusError {
  return new StatusError(
    400,
    'BadRequest',
    `${kind} in version "${version}" cannot be handled as a ${kind}: ${strictDecodingMessage(issues)}`,
  );
}

/** The value of one `Warning:` response header: `299 - "unknown field \"spec.foo\""`. */
export function warningHeaderValue(text: string): string {
  return `299 - ${JSON.stringify(text)}`;
}
