/** An inline error for one view or form (the server answered, but with an error; or a check failed). */
export function ErrorNote({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** What an action did (shown once it succeeded), read out politely. */
export function OkNote({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="ok" role="status">
      {text}
    </p>
  );
}
