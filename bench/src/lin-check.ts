// Benchmark of the linearizability checker: a random linearizable history (by construction, from a
// sequential in-memory object under random concurrency) of 10,000 operations over 10 keys from 16
// clients, with some unknown-outcome writes, checked once per model. It measures; it asserts nothing
// beyond the verdict being "linearizable".
//   node bench/dist/lin-check.js [--model register|cas-register|kv ...] [--ops N] [--keys N]
//                                [--clients N] [--info-permille N] [--seed N] [--json]
import { parseArgs } from 'node:util';
import { checkHistory, type GeneratedModel, generateHistory, historyModels } from '@keelson/chaos';

const MODELS: readonly GeneratedModel[] = ['register', 'cas-register', 'kv'];

interface Row {
  model: GeneratedModel;
  ops: number;
  keys: number;
  clients: number;
  unknownOutcome: number;
  verdict: string;
  generateSeconds: number;
  checkSeconds: number;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got "${text}"`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', multiple: true },
      ops: { type: 'string', default: '10000' },
      keys: { type: 'string', default: '10' },
      clients: { type: 'string', default: '16' },
      'info-permille': { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const models = (values.model ?? MODELS) as GeneratedModel[];
  for (const m of models)
    if (!MODELS.includes(m)) throw new Error(`--model must be one of ${MODELS.join(', ')}`);
  const shape = {
    ops: positive('ops', values.ops),
    keys: positive('keys', values.keys),
    clients: positive('clients', values.clients),
    infoPermille: positive('info-permille', values['info-permille']),
    seed: positive('seed', values.seed),
  };
  const rows: Row[] = [];
  for (const model of models) {
    const t0 = performance.now();
    const ops = generateHistory({ ...shape, model });
    const t1 = performance.now();
    const result = checkHistory(historyModels[model], ops, { timeoutMs: 60_000 });
    const t2 = performance.now();
    const row: Row = {
      model,
      ops: ops.length,
      keys: shape.keys,
      clients: shape.clients,
      unknownOutcome: ops.filter((o) => o.outcome === 'info').length,
      verdict: result.verdict,
      generateSeconds: (t1 - t0) / 1000,
      checkSeconds: (t2 - t1) / 1000,
    };
    rows.push(row);
    if (!values.json) {
      console.log(
        `${model.padEnd(13)} ops ${row.ops}  keys ${row.keys}  clients ${row.clients}  unknown-outcome ${row.unknownOutcome}  ` +
          `verdict ${row.verdict}  check ${row.checkSeconds.toFixed(3)} s`,
      );
    }
    if (result.verdict !== 'linearizable') process.exitCode = 1;
  }
  if (values.json) console.log(JSON.stringify(rows));
}

main();
