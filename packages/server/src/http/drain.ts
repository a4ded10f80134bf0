import type { Readable } from 'node:stream';

/** Most a refused client may still send before we cut the connection instead of reading on. */
export const DRAIN_CAP_BYTES = 64 * 1024 * 1024;

/**
 * Read and drop what a refused client still sends (up to a cap), so it reads our 413 instead of
 * a connection reset: closing a socket with unread data makes the kernel send RST, which can
 * throw away the answer before the client sees it.
 */
export function drain(src: Readable, cap = DRAIN_CAP_BYTES): Promise<void> {
  return new Promise((resolve) => {
    if (src.readableEnded || src.destroyed) return resolve();
    let n = 0;
    const done = () => {
      src.removeListener('data', onData);
      resolve();
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > cap) {
        src.destroy();
        done();
      }
    };
    src.on('data', onData);
    src.once('end', done);
    src.once('error', done);
    src.once('close', done);
    src.resume();
  });
}
