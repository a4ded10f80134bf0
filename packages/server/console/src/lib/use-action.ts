import { useState } from 'preact/hooks';
import { errorText } from '../api/errors.ts';

export interface Action {
  /** A run is in flight (forms disable their submit button). */
  busy: boolean;
  /** Why the last run failed, or why it was not started (`fail`); null otherwise. */
  error: string | null;
  /** What the last successful run said it did, or null. */
  done: string | null;
  /**
   * Run `fn`; what it returns becomes `done`. A failure becomes `error`: `failure: reason` when
   * `failure` is a string, or whatever `failure(err)` says.
   */
  run(fn: () => Promise<string | void>, failure: string | ((err: unknown) => string)): Promise<void>;
  /** Ask the operator first (a destructive action: delete, revoke); run only if they agree. */
  confirmThenRun(question: string, fn: () => Promise<string | void>, failure: string): void;
  /** Refuse before running (a missing field): shows `message` as the error. */
  fail(message: string): void;
  /** Forget the last outcome (the form's input changed). */
  clear(): void;
}

/**
 * The busy / error / done state of one operator action (a form's submit, a Delete button), so
 * every form and button reports failures the same way.
 */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const clear = () => {
    setError(null);
    setDone(null);
  };
  const run: Action['run'] = async (fn, failure) => {
    clear();
    setBusy(true);
    try {
      setDone((await fn()) ?? null);
    } catch (err) {
      setError(typeof failure === 'string' ? `${failure}: ${errorText(err)}` : failure(err));
    } finally {
      setBusy(false);
    }
  };
  return {
    busy,
    error,
    done,
    clear,
    fail(message) {
      setDone(null);
      setError(message);
    },
    run,
    confirmThenRun(question, fn, failure) {
      if (confirm(question)) void run(fn, failure);
    },
  };
}
