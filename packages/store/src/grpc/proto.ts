// Loads Keelson's copy of etcd 3.4's .proto files (packages/store/proto) at run time. The path is resolved
// relative to this module, which lives two levels below the package root both as src/grpc/proto.ts and as
// dist/grpc/proto.js, so the same code works from sources (tests) and from the build.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoDirPath = fileURLToPath(new URL('../../proto/', import.meta.url));

/** The server decodes int64 as JS numbers: Keelson's ids and revisions stay below 2^53 (see api/types.ts). */
const serverLoaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDirPath],
};

/** The client decodes int64 as decimal strings: real etcd's member, lease and cluster ids exceed 2^53. */
const clientLoaderOptions: protoLoader.Options = { ...serverLoaderOptions, longs: String };

export const etcdServiceNames = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'] as const;
export type EtcdServiceName = (typeof etcdServiceNames)[number];

export type EtcdServices = Record<EtcdServiceName, grpc.ServiceClientConstructor>;

function load(options: protoLoader.Options): EtcdServices {
  const definition = protoLoader.loadSync('rpc.proto', options);
  const root = grpc.loadPackageDefinition(definition);
  const pkg = root.etcdserverpb as grpc.GrpcObject | undefined;
  if (pkg === undefined) throw new Error(`etcdserverpb missing from ${protoDirPath}rpc.proto`);
  const services = {} as EtcdServices;
  for (const name of etcdServiceNames) {
    const ctor = pkg[name];
    if (typeof ctor !== 'function' || !('service' in ctor)) {
      throw new Error(`service etcdserverpb.${name} missing from ${protoDirPath}rpc.proto`);
    }
    services[name] = ctor as grpc.ServiceClientConstructor;
  }
  return services;
}

let serverServices: EtcdServices | undefined;
let clientServices: EtcdServices | undefined;

/** The etcd services decoded the server's way (longs as numbers). Loaded once per process. */
export function loadServerServices(): EtcdServices {
  serverServices ??= load(serverLoaderOptions);
  return serverServices;
}

/** The etcd services decoded the client's way (longs as decimal strings). Loaded once per process. */
export function loadClientServices(): EtcdServices {
  clientServices ??= load(clientLoaderOptions);
  return clientServices;
}
