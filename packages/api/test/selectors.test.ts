import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  convertFieldSelector,
  escapeFieldValue,
  type FieldSelector,
  fieldRequiresExactMatch,
  fieldSelectorToString,
  formatLabelSelector,
  type LabelOperator,
  type LabelRequirement,
  type LabelSelector,
  labelSelectorFromMeta,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
  selectorToString,
  unescapeFieldValue,
} from '../src/selectors.js';

/** A replayable seed: FC_SEED pins it; a failure prints it through fast-check's report. */
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 300 };

function parseError(input: string): string {
  try {
    parseLabelSelector(input);
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(SelectorError);
    expect((err as SelectorError).code).toBe(400);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

const NAME_PART_ERR =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

describe('label selector parsing', () => {
  it('parses every operator into requirements sorted by key, as labels.Parse does', () => {
    // Proves the grammar: =, ==, !=, in, notin, exists, !, gt, lt, and key order.
    const sel = parseLabelSelector('z=1,y==2,x!=3,w in (b,a),v notin (c),u,!t,s>4,r<5');
    expect(sel.requirements.map((r) => [r.key, r.operator, r.values])).toEqual([
      ['r', 'lt', ['5']],
      ['s', 'gt', ['4']],
      ['t', '!', []],
      ['u', 'exists', []],
      ['v', 'notin', ['c']],
      ['w', 'in', ['a', 'b']],
      ['x', '!=', ['3']],
      ['y', '==', ['2']],
      ['z', '=', ['1']],
    ]);
    expect(selectorToString(sel)).toBe('r<5,s>4,!t,u,v notin (c),w in (a,b),x!=3,y==2,z=1');
  });

  it('accepts whitespace, empty values and the in/notin keywords as values', () => {
    // Proves `a = `, `x in (,b)` and `k in (in)` parse as in Kubernetes' tests.
    expect(selectorToString(parseLabelSelector(' a = , b '))).toBe('a=,b');
    expect(parseLabelSelector('x in (,b)').requirements[0]?.values).toEqual(['', 'b']);
    expect(parseLabelSelector('x in ()').requirements[0]?.values).toEqual(['']);
    expect(parseLabelSelector('k in (in,notin)').requirements[0]?.values).toEqual(['in', 'notin']);
    expect(parseLabelSelector('').requirements).toEqual([]);
  });

  it("rejects bad keys with Kubernetes' message and a <nil> path", () => {
    // Proves the message kubectl users see for `-l app:monolith`.
    expect(parseError('app:monolith')).toBe(
      `unable to parse requirement: <nil>: Invalid value: "app:monolith": ${NAME_PART_ERR}`,
    );
    expect(parseError('a/b/c=d')).toMatch(
      /^unable to parse requirement: <nil>: Invalid value: "a\/b\/c": a qualified name /,
    );
    expect(parseError('Example.com/x=y')).toMatch(/prefix part a lowercase RFC 1123 subdomain/);
  });

  it('rejects bad values with the values[i][key] path', () => {
    // Proves label value validation goes through NewRequirement's path.
    expect(parseError('a=-b')).toBe(
      `unable to parse requirement: values[0][a]: Invalid value: "-b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
    expect(parseError('a>b')).toBe(
      "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer",
    );
  });

  it('reports syntax errors with the parser messages', () => {
    // Proves the "found '…', expected: …" messages of the recursive-descent parser.
    expect(parseError('a b')).toBe(
      "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
    );
    expect(parseError('a in b')).toBe("unable to parse requirement: found 'b' expected: '('");
    expect(parseError('a in (b')).toBe("unable to parse requirement: found '', expected: ',' or ')'");
    expect(parseError('a=b,')).toBe("found '', expected: identifier after ','");
    expect(parseError('a=b c')).toBe("found 'c', expected: ',' or 'end of string'");
    expect(parseError(',a')).toBe("found ',', expected: !, identifier, or 'end of string'");
    expect(parseError('a=(b)')).toBe("unable to parse requirement: found '(', expected: identifier");
    expect(parseError('!a=b')).toBe("found '=', expected: ',' or 'end of string'");
  });
});

describe('metav1.LabelSelector', () => {
  it('converts matchLabels and matchExpressions', () => {
    // Proves LabelSelectorAsSelector: operators, sorting by key, value order normalised in String().
    const sel = labelSelectorFromMeta({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['b', 'a'] },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'owner', operator: 'Exists' },
      ],
    });
    expect(selectorToString(sel)).toBe('app=web,!canary,env notin (dev),owner,tier in (a,b)');
    expect(matchesLabels(sel, { app: 'web', tier: 'a', owner: 'x' })).toBe(true);
    expect(matchesLabels(sel, { app: 'web', tier: 'a', owner: 'x', canary: '1' })).toBe(false);
  });

  it('treats nil as Nothing and empty as Everything', () => {
    // Proves the two special cases the controllers and printers rely on.
    expect(matchesLabels(labelSelectorFromMeta(undefined), {})).toBe(false);
    expect(matchesLabels(labelSelectorFromMeta({}), { a: 'b' })).toBe(true);
    expect(formatLabelSelector(undefined)).toBe('<none>');
    expect(formatLabelSelector({})).toBe('<none>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Bad' }] })).toBe('<error>');
  });

  it("rejects bad expressions with Kubernetes' messages", () => {
    // Proves the NewRequirement errors for metav1 selectors (path "key" / "values").
    const msg = (ps: Parameters<typeof labelSelectorFromMeta>[0]): string => {
      try {
        labelSelectorFromMeta(ps);
      } catch (err: unknown) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(msg({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })).toBe(
      "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
    );
    expect(msg({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })).toBe(
      'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
    );
    expect(msg({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] })).toBe(
      '"Equals" is not a valid label selector operator',
    );
    expect(msg({ matchLabels: { 'bad key': 'x' } })).toBe(`key: Invalid value: "bad key": ${NAME_PART_ERR}`);
  });
});

// Generators of valid selectors.
const keyArb: fc.Arbitrary<string> = fc.constantFrom('a', 'b', 'app', 'tier', 'example.com/role', 'x-y.z');
const valueArb: fc.Arbitrary<string> = fc.constantFrom('', 'v', 'web', 'db', '1', '20', 'a.b-c_d');
const labelsArb = fc.dictionary(keyArb, valueArb, { maxKeys: 4 });

const requirementArb: fc.Arbitrary<LabelRequirement> = fc.oneof(
  fc.record({
    key: keyArb,
    operator: fc.constantFrom<LabelOperator>('=', '==', '!='),
    values: valueArb.map((v) => [v]),
  }),
  fc.record({
    key: keyArb,
    operator: fc.constantFrom<LabelOperator>('in', 'notin'),
    values: fc.uniqueArray(valueArb, { minLength: 1, maxLength: 3 }).map((vs) => [...vs].sort()),
  }),
  fc.record({
    key: keyArb,
    operator: fc.constantFrom<LabelOperator>('exists', '!'),
    values: fc.constant<string[]>([]),
  }),
  fc.record({
    key: keyArb,
    operator: fc.constantFrom<LabelOperator>('gt', 'lt'),
    values: fc.constantFrom<string[]>(['1'], ['20']),
  }),
);

const selectorArb: fc.Arbitrary<LabelSelector> = fc.array(requirementArb, { maxLength: 4 }).map((reqs) => ({
  requirements: [...reqs].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)),
  nothing: false,
}));

/** A dumb matcher written straight from the documentation of each operator. */
function naiveMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const r of sel.requirements) {
    const has = r.key in labels;
    const v = labels[r.key];
    let ok: boolean;
    if (r.operator === '=' || r.operator === '==' || r.operator === 'in')
      ok = has && r.values.some((x) => x === v);
    else if (r.operator === '!=' || r.operator === 'notin') ok = !has || r.values.every((x) => x !== v);
    else if (r.operator === 'exists') ok = has;
    else if (r.operator === '!') ok = !has;
    else {
      const n = Number(v);
      const bound = Number(r.values[0]);
      ok = has && v !== '' && Number.isInteger(n) && (r.operator === 'gt' ? n > bound : n < bound);
    }
    if (!ok) return false;
  }
  return true;
}

describe('label selector properties', () => {
  it('round-trips: parse(toString(sel)) equals sel', () => {
    // Proves the printer and the parser agree on every generated selector.
    fc.assert(
      fc.property(selectorArb, (sel) => {
        const text = selectorToString(sel);
        const parsed = parseLabelSelector(text);
        expect(parsed).toEqual(sel);
        expect(selectorToString(parsed)).toBe(text);
      }),
      fcOptions,
    );
  });

  it('matches like a naive reference implementation', () => {
    // Proves matchesLabels against the documented semantics of each operator.
    fc.assert(
      fc.property(selectorArb, labelsArb, (sel, labels) => {
        expect(matchesLabels(sel, labels)).toBe(naiveMatches(sel, labels));
      }),
      fcOptions,
    );
  });
});

describe('field selectors', () => {
  it('parses =, == and != terms, sorted by their text', () => {
    // Proves fields.ParseSelector: operator precedence, sorting and the String() form.
    const sel = parseFieldSelector('status.phase!=Running,metadata.name==web,spec.nodeName=n1');
    expect(sel.requirements).toEqual([
      { field: 'metadata.name', operator: '==', value: 'web' },
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Running' },
    ]);
    expect(fieldSelectorToString(sel)).toBe('metadata.name=web,spec.nodeName=n1,status.phase!=Running');
    expect(fieldRequiresExactMatch(sel, 'metadata.name')).toBe('web');
    expect(fieldRequiresExactMatch(sel, 'status.phase')).toBeUndefined();
  });

  it('matches with missing fields reading as empty', () => {
    // Proves fields.Set.Get semantics: `a=` matches an object without `a`.
    const fields = { 'metadata.name': 'web', 'status.phase': 'Running' };
    expect(matchesFields(parseFieldSelector('metadata.name=web'), fields)).toBe(true);
    expect(matchesFields(parseFieldSelector('metadata.name!=web'), fields)).toBe(false);
    expect(matchesFields(parseFieldSelector('spec.nodeName='), fields)).toBe(true);
    expect(matchesFields(parseFieldSelector(''), fields)).toBe(true);
  });

  it("escapes and rejects values with Kubernetes' messages", () => {
    // Proves the escaping rules of fields.EscapeValue / UnescapeValue.
    expect(parseFieldSelector('a=x\\,y\\=z\\\\').requirements[0]?.value).toBe('x,y=z\\');
    const bad = (s: string): string => {
      try {
        parseFieldSelector(s);
      } catch (err: unknown) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(bad('abc')).toBe("invalid selector: 'abc'; can't understand 'abc'");
    expect(bad('a=b=c')).toBe('invalid field selector: unescaped character in value: 61');
    expect(bad('a=b\\n')).toBe('invalid field selector: invalid escape sequence: \\n');
    expect(bad('a=b\\')).toBe('invalid field selector: invalid escape sequence: \\');
  });

  it('round-trips escaped values', () => {
    // Proves unescape(escape(v)) = v and parse(toString(sel)) = sel for arbitrary values.
    const fieldSelArb: fc.Arbitrary<FieldSelector> = fc
      .uniqueArray(
        fc.record({
          field: fc.constantFrom('metadata.name', 'spec.nodeName', 'status.phase', 'type'),
          operator: fc.constantFrom<'=' | '!='>('=', '!='),
          value: fc.string({ unit: fc.constantFrom('a', 'b', ',', '=', '\\', '!', ' '), maxLength: 6 }),
        }),
        { maxLength: 4, selector: (r) => r.field },
      )
      .map((reqs) => ({
        requirements: reqs
          .map((r) => ({ r, text: `${r.field}${r.operator}${escapeFieldValue(r.value)}` }))
          .sort((x, y) => (x.text < y.text ? -1 : x.text > y.text ? 1 : 0))
          .map((x) => x.r),
      }));
    fc.assert(
      fc.property(fieldSelArb, (sel) => {
        for (const r of sel.requirements) expect(unescapeFieldValue(escapeFieldValue(r.value))).toBe(r.value);
        expect(parseFieldSelector(fieldSelectorToString(sel))).toEqual(sel);
      }),
      fcOptions,
    );
  });

  it("checks supported fields per kind with the apiserver's messages", () => {
    // Proves the two 400 messages: custom conversions and the default metadata-only one.
    const check = (kind: string, s: string): string => {
      try {
        return fieldSelectorToString(convertFieldSelector(kind, parseFieldSelector(s)));
      } catch (err: unknown) {
        expect((err as SelectorError).code).toBe(400);
        return (err as Error).message;
      }
    };
    expect(check('Pod', 'spec.nodeName=n1,status.phase=Running')).toBe(
      'spec.nodeName=n1,status.phase=Running',
    );
    expect(check('Pod', 'spec.host=n1')).toBe('spec.nodeName=n1');
    expect(check('Pod', 'spec.foo=x')).toBe('field label not supported: spec.foo');
    expect(check('Event', 'involvedObject.name=web,involvedObject.uid=1')).toBe(
      'involvedObject.name=web,involvedObject.uid=1',
    );
    expect(check('Node', 'metadata.namespace=x')).toBe('field label not supported: metadata.namespace');
    expect(check('Ingress', 'foo.bar=baz')).toBe(
      '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
    expect(check('Deployment', 'metadata.name=web')).toBe('metadata.name=web');
    expect(check('Job', 'status.successful=1')).toBe('status.successful=1');
    expect(check('Job', 'spec.foo=1')).toBe('field label "spec.foo" not supported for Job');
  });
});
