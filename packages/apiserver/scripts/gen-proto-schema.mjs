#!/usr/bin/env node
// Turns the Kubernetes generated.proto copies under scripts/proto/ (plus the hand-written Go facts in
// scripts/proto/go-overrides.json) into src/generated/proto-schema.json, the table the apiserver's
// protobuf decoder reads. Run from anywhere: `node packages/apiserver/scripts/gen-proto-schema.mjs`.
// `--check` exits 1 when the committed schema differs from what the .proto files give (for CI).
//
// Schema shape: { kinds: { "<apiVersion>/<Kind>": "<message>" },
//                 messages: { "<full message name>": { list?: true, fields: { "<number>": Field } } } }
// Field: { name, type, repeated?, message?, key?, value?, valueMessage?, keepZero?, inline? } where type is a
// proto scalar ("string", "bytes", "bool", "int32", "int64", ...), "message" or "map".
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const protoRoot = join(here, 'proto');
const outPath = join(here, '..', 'src', 'generated', 'proto-schema.json');

const scalarTypes = new Set([
  'string',
  'bytes',
  'bool',
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
  'double',
  'float',
]);

/** API groups whose name differs from the proto package's group segment. */
const groupOfPackage = {
  core: '',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  policy: 'policy',
  coordination: 'coordination.k8s.io',
  rbac: 'rbac.authorization.k8s.io',
  networking: 'networking.k8s.io',
  discovery: 'discovery.k8s.io',
  storage: 'storage.k8s.io',
  authorization: 'authorization.k8s.io',
  authentication: 'authentication.k8s.io',
};

const objectMeta = 'k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function fail(message) {
  throw new Error(`gen-proto-schema: ${message}`);
}

function protoFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...protoFiles(path));
    else if (entry.endsWith('.proto')) out.push(path);
  }
  return out;
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

const fieldPattern = /^(optional|repeated|required)\s+([.\w]+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;$/;
const mapPattern = /^map\s*<\s*(\w+)\s*,\s*([.\w]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;$/;

/** Parses one .proto text into { pkg, messages: [{ name, fields: [raw field] }] }; k8s protos nest no messages. */
function parseProto(text, file) {
  const body = stripComments(text);
  const pkg = /\bpackage\s+([\w.]+)\s*;/.exec(body)?.[1] ?? fail(`${file}: no package`);
  const messages = [];
  const messagePattern = /\bmessage\s+(\w+)\s*\{([^{}]*)\}/g;
  for (let m = messagePattern.exec(body); m !== null; m = messagePattern.exec(body)) {
    const fields = [];
    for (const rawLine of (m[2] ?? '').split(';')) {
      const line = `${rawLine.trim()};`;
      if (line === ';') continue;
      const f = fieldPattern.exec(line);
      const mp = f === null ? mapPattern.exec(line) : null;
      if (f !== null) {
        fields.push({ label: f[1], type: f[2], name: f[3], number: Number(f[4]) });
      } else if (mp !== null) {
        fields.push({ label: 'map', key: mp[1], type: mp[2], name: mp[3], number: Number(mp[4]) });
      } else fail(`${file}: message ${m[1]}: cannot parse "${line}"`);
    }
    messages.push({ name: m[1], fields });
  }
  return { pkg, messages };
}

function resolveType(type, pkg) {
  if (scalarTypes.has(type)) return type;
  return type.startsWith('.') ? type.slice(1) : `${pkg}.${type}`;
}

function overrideSet(section, fullMessage) {
  const dot = fullMessage.lastIndexOf('.');
  return section[fullMessage.slice(0, dot)]?.[fullMessage.slice(dot + 1)];
}

function buildField(raw, pkg, fullMessage, overrides) {
  const keepZero = [
    ...(overrideSet(overrides.pointers, fullMessage) ?? []),
    ...(overrideSet(overrides.keepZero, fullMessage) ?? []),
  ];
  const inline = overrideSet(overrides.inline, fullMessage) ?? [];
  const renames = overrideSet(overrides.renames, fullMessage) ?? {};
  const field = { name: renames[raw.name] ?? raw.name };
  if (raw.label === 'map') {
    field.type = 'map';
    field.key = raw.key;
    const value = resolveType(raw.type, pkg);
    if (scalarTypes.has(value)) field.value = value;
    else {
      field.value = 'message';
      field.valueMessage = value;
    }
  } else {
    const type = resolveType(raw.type, pkg);
    if (scalarTypes.has(type)) field.type = type;
    else {
      field.type = 'message';
      field.message = type;
    }
    if (raw.label === 'repeated') field.repeated = true;
  }
  if (keepZero.includes(raw.name)) field.keepZero = true;
  if (inline.includes(raw.name)) field.inline = true;
  return field;
}

/** go-to-protobuf wraps named slices (ExtraValue, Verbs) in a message whose only field is `repeated items = 1`. */
function isListWrapper(raw) {
  const only = raw.fields[0];
  return raw.fields.length === 1 && only?.name === 'items' && only.number === 1 && only.label === 'repeated';
}

function kindKey(pkg, message) {
  const m = /^k8s\.io\.api\.(\w+)\.(\w+)$/.exec(pkg);
  if (m === null) return undefined;
  const group = groupOfPackage[m[1]] ?? fail(`no API group known for package ${pkg}`);
  return `${group === '' ? '' : `${group}/`}${m[2]}/${message}`;
}

function checkOverrides(overrides, messages) {
  for (const section of ['pointers', 'keepZero', 'inline', 'renames']) {
    for (const [pkg, byMessage] of Object.entries(overrides[section])) {
      for (const [message, names] of Object.entries(byMessage)) {
        const full = `${pkg}.${message}`;
        const raw = messages.get(full) ?? fail(`go-overrides ${section}: unknown message ${full}`);
        for (const name of Array.isArray(names) ? names : Object.keys(names)) {
          if (!raw.fields.some((f) => f.name === name))
            fail(`go-overrides ${section}: ${full} has no field ${name}`);
        }
      }
    }
  }
}

export function generate() {
  const overrides = JSON.parse(readFileSync(join(protoRoot, 'go-overrides.json'), 'utf8'));
  const raws = new Map();
  for (const file of protoFiles(protoRoot)) {
    const { pkg, messages } = parseProto(readFileSync(file, 'utf8'), relative(protoRoot, file));
    for (const m of messages) {
      const full = `${pkg}.${m.name}`;
      if (raws.has(full)) fail(`message ${full} defined twice`);
      raws.set(full, { ...m, pkg });
    }
  }
  checkOverrides(overrides, raws);
  const messages = {};
  const kinds = {};
  for (const [full, raw] of [...raws.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const fields = {};
    for (const f of raw.fields) {
      if (fields[f.number] !== undefined) fail(`${full}: field number ${f.number} used twice`);
      const field = buildField(f, raw.pkg, full, overrides);
      for (const ref of [field.message, field.valueMessage]) {
        if (ref !== undefined && !raws.has(ref)) fail(`${full}.${f.name}: unknown message ${ref}`);
      }
      fields[f.number] = field;
    }
    messages[full] = isListWrapper(raw) ? { list: true, fields } : { fields };
    const first = fields[1];
    const key = kindKey(raw.pkg, raw.name);
    const isKind = first?.name === 'metadata' && first.message === objectMeta && !raw.name.endsWith('Spec');
    if (key !== undefined && isKind && !raw.name.endsWith('ClaimTemplate')) kinds[key] = full;
  }
  return { kinds, messages };
}

/** One message per line keeps the committed file compact yet diffable. */
export function render(schema) {
  const lines = ['{', '"kinds": {'];
  const kindEntries = Object.entries(schema.kinds).sort(([a], [b]) => a.localeCompare(b));
  kindEntries.forEach(([k, v], i) => {
    lines.push(`${JSON.stringify(k)}: ${JSON.stringify(v)}${i < kindEntries.length - 1 ? ',' : ''}`);
  });
  lines.push('},', '"messages": {');
  const messageEntries = Object.entries(schema.messages);
  messageEntries.forEach(([k, v], i) => {
    lines.push(`${JSON.stringify(k)}: ${JSON.stringify(v)}${i < messageEntries.length - 1 ? ',' : ''}`);
  });
  lines.push('}', '}', '');
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = render(generate());
  if (process.argv.includes('--check')) {
    const current = readFileSync(outPath, 'utf8');
    if (current !== text) {
      console.error(
        `${relative(process.cwd(), outPath)} is stale: run node packages/apiserver/scripts/gen-proto-schema.mjs`,
      );
      process.exit(1);
    }
  } else {
    writeFileSync(outPath, text);
    const schema = JSON.parse(text);
    console.log(
      `wrote ${relative(process.cwd(), outPath)}: ${Object.keys(schema.messages).length} messages, ${Object.keys(schema.kinds).length} kinds`,
    );
  }
}
