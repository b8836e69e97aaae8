// What `up` records in cluster.json as the versions that ran the cluster.
import { readFileSync } from 'node:fs';
import { KUBERNETES_VERSION } from '@keelson/apiserver';
import type { ClusterVersions } from './layout.js';

export function currentVersions(): ClusterVersions {
  // package.json sits one level above both src/ (tests) and dist/ (the built CLI).
  let keelson = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    keelson = pkg.version ?? keelson;
  } catch {
    // A bundled or moved copy: the version is informative only.
  }
  return { keelson, node: process.version, kubernetes: KUBERNETES_VERSION.gitVersion };
}
