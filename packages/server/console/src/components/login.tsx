import { useState } from 'preact/hooks';
import { NetworkError, UnauthorizedError, errorText } from '../api/errors.ts';
import { checkToken } from '../api/endpoints.ts';
import { loginNotice, signIn } from '../api/session.ts';
import { useAction } from '../lib/use-action.ts';
import { useStore } from '../lib/use-store.ts';

/** Log in with an operator token (made by `aspire token create`); checked against the server first. */
export function Login() {
  const notice = useStore(loginNotice);
  const [token, setToken] = useState('');
  const check = useAction();
  const error = check.error;

  const submit = (ev: Event) => {
    ev.preventDefault();
    const t = token.trim();
    if (!t) return check.fail('Enter an operator token.');
    void check.run(
      async () => {
        await checkToken(t);
        signIn(t);
      },
      (err) =>
        err instanceof UnauthorizedError
          ? 'Wrong token: the server refused it (401). Create one with `aspire token create`.'
          : err instanceof NetworkError
            ? 'Cannot reach the Aspire server. Check that it is running and try again.'
            : `Login failed: ${errorText(err)}`,
    );
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Aspire console</h1>
        <p class="muted">Log in with an operator token.</p>
        {notice && !error && (
          <p class="note" role="status">
            {notice}
          </p>
        )}
        <label for="token">Operator token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : 'false'}
          aria-describedby={error ? 'login-error' : undefined}
        />
        {error && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={check.busy}>
          {check.busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
