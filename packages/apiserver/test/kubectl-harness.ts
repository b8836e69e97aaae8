// Runs kubectl 1.32 against a test apiserver: a kubeconfig per user, a private cache dir, bounded runs.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const kubectlTimeoutMsDefault = 30_000;

export interface KubeUser {
  name: string;
  token?: string;
}

/** Writes a kubeconfig for `server` (https with the CA, or plain http) and returns its path. */
export function writeKubeconfig(dir: string, server: string, user: KubeUser, caPath?: string): string {
  const path = join(dir, `kubeconfig-${user.name}`);
  const cluster =
    caPath === undefined
      ? `    server: ${server}`
      : `    server: ${server}\n    certificate-authority: ${caPath}`;
  const userBody = user.token === undefined ? '  user: {}' : `  user:\n    token: ${user.token}`;
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: keelson',
      '  cluster:',
      cluster,
      'users:',
      `- name: ${user.name}`,
      userBody,
      'contexts:',
      '- name: keelson',
      `  context: {cluster: keelson, user: ${user.name}}`,
      'current-context: keelson',
      '',
    ].join('\n'),
  );
  return path;
}

export function kubectlRunner(dir: string, kubeconfig: string) {
  const run = (args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        'kubectl',
        [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, 'kube-cache')}`, ...args],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? kubectlTimeoutMsDefault);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      // A command that exits before reading its stdin closes the pipe: EPIPE is its business, not ours.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.stdin ?? '');
    });
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const r = await run(args, { stdin });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  return { run, ok };
}
