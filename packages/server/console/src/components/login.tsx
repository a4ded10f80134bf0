import { useState } from 'preact/hooks';
import { NetworkError, UnauthorizedError, errorText } from '../api/errors.ts';
import { checkToken } from '../api/endpoints.ts';
import { loginNotice, signIn } from '../api/session.ts';
import { useStore } from '../lib/use-store.ts';

/** Log in with an operator token (made by `aspire token create`); checked against the server first. */
export function Login() {
  const notice = useStore(loginNotice);
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter an operator token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await checkToken(t);
      signIn(t);
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        setError('Wrong token: the server refused it (401). Create one with `aspire token create`.');
      } else if (err instanceof NetworkError) {
        setError('Cannot reach the Aspire server. Check that it is running and try again.');
      } else {
        setError(`Login failed: ${errorText(err)}`);
      }
    } finally {
      setBusy(false);
    }
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
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
