import { createStore } from '../lib/store.ts';

/**
 * The operator token lives in sessionStorage: it survives a reload of the tab but not the end
 * of the browser session, and never lands in a cookie the server would have to trust.
 */
const KEY = 'aspire.operatorToken';

function load(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the operator logs in again on reload
  }
}

export const session = createStore<string | null>(load());

/** Why the last session ended, shown on the login form (e.g. the token was revoked). */
export const loginNotice = createStore<string | null>(null);

export function signIn(token: string): void {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    /* keep it in memory only */
  }
  loginNotice.set(null);
  session.set(token);
}

export function signOut(notice: string | null = null): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
  loginNotice.set(notice);
  session.set(null);
}
