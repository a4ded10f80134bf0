/**
 * The BasicAgent's check of the server's signature on every command frame, before anything of
 * it runs (docs/security.md "Signed jobs and command frames"): signed by a pinned key, addressed
 * to this host, not expired, and not seen before (a bounded cache of frame ids, each kept until
 * its own expiry). A refused frame is answered `failed` with the code and logged.
 */
import { readFileSync, statSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { Clock, Logger } from '@aspire/agent-core';
import { failedReply, ErrorCode, ErrorMessage, parsePinFile, verifySigned, type ReplyFrame } from '@aspire/protocol';

export interface FrameVerifierOptions {
  /** The pin file the BootAgent writes (`identity/server-signing.pub`): one base64 key a line. */
  keysFile: string;
  /** This host as the hub addresses it: the agentsn sent in init, else the hostname. */
  identity: () => string;
  clock: Clock;
  logger: Logger;
  /** Frame ids remembered for replay detection. */
  maxSeen?: number;
}

export const DEFAULT_MAX_SEEN_FRAMES = 10_000;

export class FrameVerifier {
  private keys: KeyObject[] = [];
  private keysStamp = '';
  /** Frame id -> its signed expiry (epoch ms); insertion order = arrival order. */
  private readonly seen = new Map<string, number>();
  /**
   * Expiry of the latest id forgotten while still valid (cache full): a frame expiring no later
   * is refused, so a forgotten id cannot be replayed.
   */
  private floor = 0;

  constructor(private readonly o: FrameVerifierOptions) {}

  /** undefined: run the frame. A reply: refused, send this instead. */
  check(frame: Record<string, unknown> & { id: string }): ReplyFrame | undefined {
    const now = this.o.clock.now();
    const v = verifySigned('frame', frame, { keys: this.pinnedKeys(), agentsn: this.o.identity(), nowMs: now });
    if (!v.ok) return this.refuse(frame, v.errcode, v.reason);
    this.prune(now);
    if (this.seen.has(frame.id) || v.expires <= this.floor) {
      return this.refuse(
        frame,
        ErrorCode.SIGNATURE_REPLAYED,
        `${ErrorMessage.SIGNATURE_REPLAYED}: frame ${frame.id} was already received`,
      );
    }
    this.seen.set(frame.id, v.expires);
    const max = this.o.maxSeen ?? DEFAULT_MAX_SEEN_FRAMES;
    while (this.seen.size > max) {
      const [oldId, exp] = this.seen.entries().next().value as [string, number];
      this.seen.delete(oldId);
      this.floor = Math.max(this.floor, exp);
    }
    return undefined;
  }

  private refuse(frame: Record<string, unknown> & { id: string }, code: number, message: string): ReplyFrame {
    this.o.logger.warn(
      { id: frame.id, method: frame.method, retcode: code, kid: frame.kid, target: frame.agentsn },
      `command frame refused: ${message}`,
    );
    return failedReply(frame.id, code, message);
  }

  private prune(now: number): void {
    for (const [id, exp] of this.seen) if (exp <= now) this.seen.delete(id);
  }

  /** The pinned keys, re-read when the file changes (the BootAgent records a rotation there). */
  private pinnedKeys(): KeyObject[] {
    let stamp: string;
    try {
      const st = statSync(this.o.keysFile);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      if (this.keysStamp !== 'missing')
        this.o.logger.error(
          { file: this.o.keysFile },
          'no pinned server key: every command frame is refused until the BootAgent has registered',
        );
      this.keysStamp = 'missing';
      this.keys = [];
      return this.keys;
    }
    if (stamp !== this.keysStamp) {
      this.keysStamp = stamp;
      try {
        this.keys = parsePinFile(readFileSync(this.o.keysFile, 'utf8'));
      } catch (err) {
        this.keys = [];
        this.o.logger.error(
          { file: this.o.keysFile, err: (err as Error).message },
          'cannot read the pinned server key',
        );
      }
    }
    return this.keys;
  }
}
