// WebSocket masking for peer links: a zero mask (see the WebSocket client options in stream.ts).

/** Fills the frame mask with zeros, which ws recognises and then skips masking the payload. */
export function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}
