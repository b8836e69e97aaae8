#!/usr/bin/env node
// Generates packages/api/src/generated/definitions.json: OpenAPI v2 definitions of the built-in types
// the apiserver serves, keyed by Kubernetes' names (io.k8s.api.core.v1.Pod, …), read from the .d.ts
// files of `kubernetes-types` (v1.30, which carry the JSDoc descriptions of Kubernetes' OpenAPI spec)
// with the TypeScript compiler API. The JSON is committed; regenerate it after upgrading
// kubernetes-types with:
//
//   cd /work/main && node packages/api/scripts/gen-definitions.mjs
//
// What the .d.ts files cannot say and how it is recovered:
// - Integers: kubernetes-types writes every Go int as `number`. Kubernetes' built-in API has no
//   floating-point fields in the groups served here, so `number` becomes `integer`; the format is
//   int64 for the fields in INT64_FIELDS (Go int64 in Kubernetes' types.go: seconds, generations,
//   user/group ids, …) and int32 otherwise.
// - IntOrString: written as `number | string`; becomes a $ref to
//   io.k8s.apimachinery.pkg.util.intstr.IntOrString.
// - Quantity, Time and MicroTime are `string` aliases; they become $refs to their definitions.
// - x-kubernetes-group-version-kind: from the literal types of `apiVersion` and `kind`; meta/v1's
//   DeleteOptions and WatchEvent get one entry per served group-version, as in Kubernetes.
// - Patch tags (merge keys, list types) are not in the .d.ts files: see src/openapi/patch-tags.ts,
//   applied when the documents are built.
// - meta/v1 Table, TableRow, TableColumnDefinition, PartialObjectMetadata(List) are not in
//   kubernetes-types; EXTRA_DEFINITIONS below adds them by hand (they are small).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const typesRoot = dirname(require.resolve('kubernetes-types/package.json', { paths: [join(here, '..')] }));
const outFile = join(here, '..', 'src', 'generated', 'definitions.json');

/** kubernetes-types module (path without .d.ts) → Kubernetes' definition name prefix. */
const MODULES = {
  'meta/v1': 'io.k8s.apimachinery.pkg.apis.meta.v1',
  'api/resource': 'io.k8s.apimachinery.pkg.api.resource',
  runtime: 'io.k8s.apimachinery.pkg.runtime',
  version: 'io.k8s.apimachinery.pkg.version',
  'core/v1': 'io.k8s.api.core.v1',
  'apps/v1': 'io.k8s.api.apps.v1',
  'batch/v1': 'io.k8s.api.batch.v1',
  'autoscaling/v1': 'io.k8s.api.autoscaling.v1',
  'autoscaling/v2': 'io.k8s.api.autoscaling.v2',
  'coordination/v1': 'io.k8s.api.coordination.v1',
  'rbac/v1': 'io.k8s.api.rbac.v1',
  'networking/v1': 'io.k8s.api.networking.v1',
  'discovery/v1': 'io.k8s.api.discovery.v1',
  'storage/v1': 'io.k8s.api.storage.v1',
  'policy/v1': 'io.k8s.api.policy.v1',
  'authorization/v1': 'io.k8s.api.authorization.v1',
  'authentication/v1': 'io.k8s.api.authentication.v1',
};

/** Group-versions served, for the GVK lists of DeleteOptions and WatchEvent. */
const SERVED_GROUP_VERSIONS = [
  ['', 'v1'],
  ['apps', 'v1'],
  ['authentication.k8s.io', 'v1'],
  ['authorization.k8s.io', 'v1'],
  ['autoscaling', 'v1'],
  ['autoscaling', 'v2'],
  ['batch', 'v1'],
  ['coordination.k8s.io', 'v1'],
  ['discovery.k8s.io', 'v1'],
  ['networking.k8s.io', 'v1'],
  ['policy', 'v1'],
  ['rbac.authorization.k8s.io', 'v1'],
  ['storage.k8s.io', 'v1'],
];

/** Field names that are Go int64 in Kubernetes' types (everything else numeric is int32). */
const INT64_FIELDS = new Set([
  'activeDeadlineSeconds',
  'deletionGracePeriodSeconds',
  'expirationSeconds',
  'fsGroup',
  'generation',
  'gracePeriodSeconds',
  'observedGeneration',
  'remainingItemCount',
  'revision',
  'runAsGroup',
  'runAsUser',
  'startingDeadlineSeconds',
  'supplementalGroups',
  'terminationGracePeriodSeconds',
  'tolerationSeconds',
]);
/** `<definition>.<field>` of fields named in INT64_FIELDS that are nonetheless int32. None so far. */
const INT32_OVERRIDES = new Set([]);

const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const META = MODULES['meta/v1'];

const EXTRA_DEFINITIONS = {
  [INT_OR_STRING]: {
    description:
      'IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.',
    format: 'int-or-string',
    type: 'string',
  },
  [`${META}.TableColumnDefinition`]: {
    description: 'TableColumnDefinition contains information about a column returned in the Table.',
    type: 'object',
    required: ['name', 'type', 'format', 'description', 'priority'],
    properties: {
      name: { description: 'name is a human readable name for the column.', type: 'string' },
      type: {
        description:
          'type is an OpenAPI type definition for this column, such as number, integer, string, or array. See https://github.com/OAI/OpenAPI-Specification/blob/master/versions/2.0.md#data-types for more.',
        type: 'string',
      },
      format: {
        description:
          "format is an optional OpenAPI type modifier for this column. A format modifies the type and imposes additional rules, like date or time formatting for a string. The 'name' format is applied to the primary identifier column which has type 'string' to assist in clients identifying column is the resource name. See https://github.com/OAI/OpenAPI-Specification/blob/master/versions/2.0.md#data-types for more.",
        type: 'string',
      },
      description: {
        description: 'description is a human readable description of this column.',
        type: 'string',
      },
      priority: {
        description:
          'priority is an integer defining the relative importance of this column compared to others. Lower numbers are considered higher priority. Columns that may be omitted in limited space scenarios should be given a higher priority.',
        type: 'integer',
        format: 'int32',
      },
    },
  },
  [`${META}.TableRow`]: {
    description: 'TableRow is an individual row in a table.',
    type: 'object',
    required: ['cells'],
    properties: {
      cells: {
        description:
          'cells will be as wide as the column definitions array and may contain strings, numbers (float64 or int64), booleans, simple maps, lists, or null. See the type field of the column definition for a more detailed description.',
        type: 'array',
        items: { type: 'object' },
      },
      conditions: {
        description:
          "conditions describe additional status of a row that are relevant for a human user. These conditions apply to the row, not to the object, and will be specific to table output. The only defined condition type is 'Completed', for a row that indicates a resource that has run to completion and can be given less visual priority.",
        type: 'array',
        items: { type: 'object' },
      },
      object: {
        description:
          'This field contains the requested additional information about each object based on the includeObject policy when requesting the Table. If "None", this field is empty, if "Object" this will be the default serialization of the object for the current API version, and if "Metadata" (the default) will contain the object metadata. Check the returned kind and apiVersion of the object before parsing. The media type of the object will always match the enclosing list - if this as a JSON table, these will be JSON encoded objects.',
        $ref: '#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension',
      },
    },
  },
  [`${META}.Table`]: {
    description:
      'Table is a tabular representation of a set of API resources. The server transforms the object into a set of preferred columns for quickly reviewing the objects.',
    type: 'object',
    required: ['columnDefinitions', 'rows'],
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: {
        description: 'Kind is a string value representing the REST resource this object represents.',
        type: 'string',
      },
      metadata: { description: 'Standard list metadata.', $ref: `#/definitions/${META}.ListMeta` },
      columnDefinitions: {
        description:
          'columnDefinitions describes each column in the returned items array. The number of cells per row will always match the number of column definitions.',
        type: 'array',
        items: { $ref: `#/definitions/${META}.TableColumnDefinition` },
      },
      rows: {
        description: 'rows is the list of items in the table.',
        type: 'array',
        items: { $ref: `#/definitions/${META}.TableRow` },
      },
    },
    'x-kubernetes-group-version-kind': [{ group: 'meta.k8s.io', kind: 'Table', version: 'v1' }],
  },
  [`${META}.PartialObjectMetadata`]: {
    description:
      'PartialObjectMetadata is a generic representation of any object with ObjectMeta. It allows clients to get access to a particular ObjectMeta schema without knowing the details of the version.',
    type: 'object',
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: {
        description: 'Kind is a string value representing the REST resource this object represents.',
        type: 'string',
      },
      metadata: { description: "Standard object's metadata.", $ref: `#/definitions/${META}.ObjectMeta` },
    },
    'x-kubernetes-group-version-kind': [
      { group: 'meta.k8s.io', kind: 'PartialObjectMetadata', version: 'v1' },
    ],
  },
  [`${META}.PartialObjectMetadataList`]: {
    description: 'PartialObjectMetadataList contains a list of objects containing only their metadata',
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      items: {
        description: 'items contains each of the included items.',
        type: 'array',
        items: { $ref: `#/definitions/${META}.PartialObjectMetadata` },
      },
      kind: {
        description: 'Kind is a string value representing the REST resource this object represents.',
        type: 'string',
      },
      metadata: { description: 'Standard list metadata.', $ref: `#/definitions/${META}.ListMeta` },
    },
    'x-kubernetes-group-version-kind': [
      { group: 'meta.k8s.io', kind: 'PartialObjectMetadataList', version: 'v1' },
    ],
  },
};

/** Formats of the string aliases (Quantity has none: it is a string or a number on the wire). */
const ALIAS_FORMATS = { Time: 'date-time', MicroTime: 'date-time' };

function jsDocText(node) {
  const docs = ts.getJSDocCommentsAndTags(node).filter((d) => ts.isJSDoc(d));
  const last = docs[docs.length - 1];
  if (last === undefined || last.comment === undefined) return undefined;
  const text = typeof last.comment === 'string' ? last.comment : last.comment.map((c) => c.text).join('');
  return text.trim();
}

/** Resolves every identifier a module may use to the definition name it stands for. */
function scopeOf(sourceFile, moduleKey) {
  const scope = new Map();
  for (const stmt of sourceFile.statements) {
    if (ts.isImportDeclaration(stmt) && stmt.importClause?.namedBindings) {
      const spec = stmt.moduleSpecifier.text; // "../meta/v1" or "../runtime"
      const target = spec.replace(/^\.\.\//, '');
      const prefix = MODULES[target];
      if (prefix === undefined) throw new Error(`${moduleKey}: import of unknown module ${spec}`);
      for (const el of stmt.importClause.namedBindings.elements)
        scope.set(el.name.text, `${prefix}.${el.name.text}`);
    } else if ((ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt)) && stmt.name) {
      scope.set(stmt.name.text, `${MODULES[moduleKey]}.${stmt.name.text}`);
    }
  }
  return scope;
}

function numberSchema(ownerName, fieldName) {
  const int64 = INT64_FIELDS.has(fieldName) && !INT32_OVERRIDES.has(`${ownerName}.${fieldName}`);
  return { type: 'integer', format: int64 ? 'int64' : 'int32' };
}

/** The schema of one TypeScript type node. */
function typeSchema(node, ctx) {
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: 'string' };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: 'boolean' };
    case ts.SyntaxKind.NumberKeyword:
      return numberSchema(ctx.owner, ctx.field);
    case ts.SyntaxKind.LiteralType:
      return { type: 'string' };
    case ts.SyntaxKind.ParenthesizedType:
      return typeSchema(node.type, ctx);
    case ts.SyntaxKind.ArrayType:
      return { type: 'array', items: typeSchema(node.elementType, ctx) };
    case ts.SyntaxKind.UnionType: {
      const kinds = node.types.map((t) => t.kind).sort();
      if (
        kinds.length === 2 &&
        kinds.includes(ts.SyntaxKind.NumberKeyword) &&
        kinds.includes(ts.SyntaxKind.StringKeyword)
      ) {
        ctx.used.add(INT_OR_STRING);
        return { $ref: `#/definitions/${INT_OR_STRING}` };
      }
      throw new Error(`${ctx.owner}.${ctx.field}: unsupported union`);
    }
    case ts.SyntaxKind.TypeLiteral: {
      const index = node.members.find((m) => ts.isIndexSignatureDeclaration(m));
      if (index === undefined || node.members.length !== 1)
        throw new Error(`${ctx.owner}.${ctx.field}: unsupported literal`);
      return { type: 'object', additionalProperties: typeSchema(index.type, ctx) };
    }
    case ts.SyntaxKind.TypeReference: {
      const name = node.typeName.getText();
      if (name === 'Array') return { type: 'array', items: typeSchema(node.typeArguments[0], ctx) };
      const def = ctx.scope.get(name);
      if (def === undefined) throw new Error(`${ctx.owner}.${ctx.field}: unknown type ${name}`);
      ctx.used.add(def);
      return { $ref: `#/definitions/${def}` };
    }
    default:
      throw new Error(`${ctx.owner}.${ctx.field}: unsupported type node ${ts.SyntaxKind[node.kind]}`);
  }
}

function literalOf(member) {
  return member?.type && ts.isLiteralTypeNode(member.type) && ts.isStringLiteral(member.type.literal)
    ? member.type.literal.text
    : undefined;
}

function gvkOf(name, members) {
  const kind = literalOf(members.get('kind'));
  const apiVersion = literalOf(members.get('apiVersion'));
  if (name === `${META}.Status`) return [{ group: '', kind: 'Status', version: 'v1' }];
  if (name === `${META}.DeleteOptions` || name === `${META}.WatchEvent`) {
    const kindName = name.split('.').pop();
    return SERVED_GROUP_VERSIONS.map(([group, version]) => ({ group, kind: kindName, version }));
  }
  if (kind === undefined || apiVersion === undefined || name.startsWith(META)) return undefined;
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  return [{ group, kind, version }];
}

function interfaceDefinition(decl, defName, scope, used) {
  const def = {};
  const description = jsDocText(decl);
  if (description) def.description = description;
  def.type = 'object';
  const members = new Map();
  for (const m of decl.members) if (ts.isPropertySignature(m)) members.set(m.name.getText(), m);
  const properties = {};
  const required = [];
  for (const [field, m] of [...members].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const schema = typeSchema(m.type, { owner: defName, field, scope, used });
    const text = jsDocText(m);
    properties[field] = text ? { description: text, ...schema } : schema;
    if (m.questionToken === undefined) required.push(field);
  }
  if (members.size > 0) def.properties = properties;
  if (required.length > 0) def.required = required;
  const gvk = gvkOf(defName, members);
  if (gvk !== undefined) def['x-kubernetes-group-version-kind'] = gvk;
  return def;
}

function aliasDefinition(decl, defName) {
  const description = jsDocText(decl);
  const base = decl.type.kind === ts.SyntaxKind.StringKeyword ? { type: 'string' } : { type: 'object' };
  const format = ALIAS_FORMATS[decl.name.text];
  const def = description ? { description, ...base } : base;
  if (format) def.format = format;
  if (defName.endsWith('.Quantity')) def.type = 'string';
  return def;
}

/** Reads every module, returning all definitions and the names each one references. */
function readAll() {
  const definitions = {};
  const refs = {};
  for (const [moduleKey, prefix] of Object.entries(MODULES)) {
    const file = join(typesRoot, `${moduleKey}.d.ts`);
    // Parent pointers are needed by getText() and the JSDoc helpers.
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const scope = scopeOf(sf, moduleKey);
    for (const stmt of sf.statements) {
      if (!ts.isInterfaceDeclaration(stmt) && !ts.isTypeAliasDeclaration(stmt)) continue;
      const defName = `${prefix}.${stmt.name.text}`;
      const used = new Set();
      definitions[defName] = ts.isInterfaceDeclaration(stmt)
        ? interfaceDefinition(stmt, defName, scope, used)
        : aliasDefinition(stmt, defName);
      refs[defName] = used;
    }
  }
  for (const [name, def] of Object.entries(EXTRA_DEFINITIONS)) {
    definitions[name] = def;
    refs[name] = new Set(
      JSON.stringify(def)
        .match(/#\/definitions\/[\w.]+/g)
        ?.map((r) => r.slice(14)) ?? [],
    );
  }
  return { definitions, refs };
}

/** Keeps the definitions of the served group-versions (and meta/v1) plus all they reference. */
function prune(definitions, refs) {
  const roots = Object.keys(definitions).filter(
    (n) => !n.startsWith('io.k8s.apimachinery.pkg.version') && !n.startsWith('io.k8s.apimachinery.pkg.api.'),
  );
  const keep = new Set();
  const queue = [...roots];
  // Bounded by the number of definitions: each is queued at most once more than it is kept.
  while (queue.length > 0) {
    const name = queue.pop();
    if (keep.has(name)) continue;
    if (definitions[name] === undefined) throw new Error(`dangling reference to ${name}`);
    keep.add(name);
    for (const r of refs[name] ?? []) if (!keep.has(r)) queue.push(r);
  }
  keep.add('io.k8s.apimachinery.pkg.version.Info');
  const out = {};
  for (const name of [...keep].sort()) out[name] = definitions[name];
  return out;
}

function main() {
  const { definitions, refs } = readAll();
  const out = prune(definitions, refs);
  for (const must of [
    'io.k8s.api.core.v1.Pod',
    'io.k8s.api.apps.v1.Deployment',
    `${META}.ObjectMeta`,
    INT_OR_STRING,
  ]) {
    if (out[must] === undefined) throw new Error(`generated definitions lack ${must}`);
  }
  mkdirSync(dirname(outFile), { recursive: true });
  const text = JSON.stringify(out);
  writeFileSync(outFile, `${text}\n`);
  const check = JSON.parse(readFileSync(outFile, 'utf8'));
  process.stdout.write(
    `wrote ${Object.keys(check).length} definitions, ${text.length} bytes to ${outFile}\n`,
  );
}

main();
