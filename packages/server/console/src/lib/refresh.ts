import { createStore } from './store.ts';

/** Bumped when the server comes back after an outage: views reload what they show. */
export const refreshEpoch = createStore(0);

export function recovered(): void {
  refreshEpoch.set(refreshEpoch.get() + 1);
}
