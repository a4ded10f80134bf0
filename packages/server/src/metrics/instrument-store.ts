/**
 * The store with every call timed: a Proxy that observes how long each method's promise takes
 * (seconds, by the injected clock's monotonic time) under the method's name. Calls that throw
 * are timed too; the result or error passes through untouched.
 */
import type { Clock } from '@aspire/agent-core';

export type ObserveStoreCall = (operation: string, seconds: number) => void;

export function instrumentStore<S extends object>(
  store: S,
  clock: Pick<Clock, 'monotonic'>,
  observe: ObserveStoreCall,
): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      const cached = wrapped.get(prop);
      if (cached) return cached;
      const fn = value as (...args: unknown[]) => unknown;
      const timed = (...args: unknown[]): unknown => {
        const started = clock.monotonic();
        const done = () => observe(prop, Math.max(0, clock.monotonic() - started) / 1000);
        let result: unknown;
        try {
          result = fn.apply(target, args);
        } catch (err) {
          done();
          throw err;
        }
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
      wrapped.set(prop, timed);
      return timed;
    },
  });
}
