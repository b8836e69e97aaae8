// The handshake of a peer socket. The dialer names itself, the member it wants and the cluster in
// headers; the receiver refuses (HTTP 4xx with the reason in a header and the body) a foreign
// cluster, a to-id that is not its own, a removed or unknown member, or another protocol version.
// That way a member of another cluster, or one started with a stale --initial-cluster, can never
// feed us Raft messages, and both sides log why.

import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  HEADER_CLUSTER,
  HEADER_FROM,
  HEADER_PROTOCOL,
  HEADER_REJECT,
  HEADER_TO,
  PROTOCOL_VERSION,
} from './options.js';

export type PeerStanding = 'known' | 'removed' | 'unknown';

export interface HandshakeLocal {
  readonly memberId: number;
  readonly clusterId: number;
  standing(peerId: number): PeerStanding;
}

export type HandshakeResult =
  | { readonly ok: true; readonly from: number }
  | { readonly ok: false; readonly status: number; readonly reason: string };

/** Parses a decimal id header; null unless it is a positive safe integer. */
function parseId(v: string | string[] | undefined): number | null {
  if (typeof v !== 'string' || !/^[0-9]{1,16}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function refuse(status: number, reason: string): HandshakeResult {
  return { ok: false, status, reason };
}

export function checkHandshake(req: IncomingMessage, local: HandshakeLocal): HandshakeResult {
  const h = req.headers;
  if (h[HEADER_PROTOCOL] !== PROTOCOL_VERSION) {
    return refuse(
      400,
      `peer protocol version ${String(h[HEADER_PROTOCOL])} is not ${PROTOCOL_VERSION}: run the same Keelson version on all members`,
    );
  }
  const from = parseId(h[HEADER_FROM]);
  const to = parseId(h[HEADER_TO]);
  const cluster = parseId(h[HEADER_CLUSTER]);
  if (from === null || to === null || cluster === null) {
    return refuse(400, `missing or malformed ${HEADER_FROM}, ${HEADER_TO} or ${HEADER_CLUSTER} header`);
  }
  if (cluster !== local.clusterId) {
    return refuse(
      412,
      `cluster id mismatch: peer ${from.toString(16)} is in cluster ${cluster.toString(16)}, this member is in ${local.clusterId.toString(16)}; check --initial-cluster and the data directories`,
    );
  }
  if (to !== local.memberId) {
    return refuse(
      412,
      `member id mismatch: peer ${from.toString(16)} dialed member ${to.toString(16)}, but this is member ${local.memberId.toString(16)}; its peer URLs for ${to.toString(16)} are wrong`,
    );
  }
  const standing = local.standing(from);
  if (standing === 'removed') return refuse(410, `member ${from.toString(16)} was removed from the cluster`);
  if (standing === 'unknown')
    return refuse(404, `member ${from.toString(16)} is not a known peer of this member`);
  return { ok: true, from };
}

/** Answers a refused upgrade request with a plain HTTP response and closes the socket. */
export function writeRefusal(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  // Header values must be one line of visible ASCII; the reasons are built from ids and fixed text.
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `${HEADER_REJECT}: ${reason.replace(/[^\x20-\x7e]/g, '?')}\r\n` +
    'Connection: close\r\n\r\n';
  // Destroy once written: a dialer that keeps the socket open must not hold up server.close().
  socket.end(head + body, () => socket.destroy());
}

/** The reason a peer gave for refusing our handshake, from its response. */
export function refusalReason(res: IncomingMessage): string {
  const reason = res.headers[HEADER_REJECT];
  const text = typeof reason === 'string' ? reason : 'no reason given';
  return `HTTP ${res.statusCode ?? '?'}: ${text}`;
}
