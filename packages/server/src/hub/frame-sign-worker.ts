/**
 * Ed25519 signatures of command frames on a worker thread, for a large fan-out: each frame is
 * still signed on its own (its target, hub id and expiry: docs/security.md), but the 30-50 µs a
 * signature costs run beside the event loop, which meanwhile writes the frames already signed
 * and reads the replies. Started on the first large fan-out (an idle server does not pay for the
 * thread); a worker that fails makes the caller sign on the event loop, as before.
 */
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { type Signer, signingPrefix } from '@aspire/protocol';

/**
 * The worker: signs the purpose's prefix (signingPrefix) + each text of a batch, answers the base64
 * signatures in order. Evaluated source (no file of its own): the server is one bundle, or a
 * single executable, and this needs nothing but node:crypto.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { sign } = require('node:crypto');
const key = workerData.key;
parentPort.on('message', (m) => {
  const sigs = m.texts.map((t) => sign(null, Buffer.from(m.prefix + t, 'utf8'), key).toString('base64'));
  parentPort.postMessage({ seq: m.seq, sigs });
});
`;

export interface FrameSignWorker {
  /** Signatures of `aspire-frame-v1\n` + each canonical text, in order; rejects when the worker failed. */
  sign(texts: string[]): Promise<string[]>;
  close(): Promise<void>;
}

export function startFrameSignWorker(key: KeyObject): FrameSignWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { key } });
  // Never what keeps the server alive; its batches are awaited only by requests in flight.
  worker.unref();
  const waiting = new Map<number, { resolve(s: string[]): void; reject(e: Error): void }>();
  let seq = 0;
  let failed: Error | undefined;
  const failAll = (err: Error) => {
    failed ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (m: { seq: number; sigs: string[] }) => {
    const w = waiting.get(m.seq);
    waiting.delete(m.seq);
    w?.resolve(m.sigs);
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`frame signing worker exited (${code})`)));
  return {
    sign(texts) {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        waiting.set(++seq, { resolve, reject });
        worker.postMessage({ seq, prefix: signingPrefix('frame'), texts });
      });
    },
    async close() {
      failAll(new Error('frame signing worker closed'));
      await worker.terminate();
    },
  };
}

/** What a fan-out signs its frames with: the hub's key, on the worker when it can. */
export interface BatchFrameSigner {
  readonly kid: string;
  /** Signatures (base64) of `aspire-frame-v1\n` + each canonical text, in order (on the worker). */
  sign(texts: string[]): Promise<string[]>;
  /** The same, on the calling thread: a fan-out signs some batches itself while the worker signs others. */
  signHere(texts: string[]): string[];
  close(): Promise<void>;
}

/**
 * The hub's batch signer; undefined when the signer does not hold its key (then every frame is
 * signed by AgentConnection.request on the event loop). A worker that cannot start or dies makes
 * the batches signed on the event loop with the same key: slower, never unsigned.
 */
export function batchFrameSigner(signer: Signer): BatchFrameSigner | undefined {
  const key = signer.privateKey;
  if (!key) return undefined;
  let worker: FrameSignWorker | undefined;
  let closed = false;
  return {
    kid: signer.kid,
    async sign(texts) {
      try {
        if (closed) throw new Error('closed');
        worker ??= startFrameSignWorker(key);
        return await worker.sign(texts);
      } catch {
        return texts.map((t) => signer.signText('frame', t));
      }
    },
    signHere(texts) {
      return texts.map((t) => signer.signText('frame', t));
    },
    async close() {
      closed = true;
      await worker?.close();
    },
  };
}
