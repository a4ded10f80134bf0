/** A status word with a colour class; the word itself is always the text (no colour-only meaning). */
const TONE: Record<string, string> = {
  online: 'ok',
  running: 'ok',
  SUCCESS: 'ok',
  COMPLETE: 'ok',
  offline: 'bad',
  deleted: 'muted',
  fatal: 'bad',
  killed: 'bad',
  stoped: 'warn',
  FAILED: 'bad',
  BURIED: 'bad',
  REVOKED: 'muted',
  RESERVED: 'busy',
  READY: 'busy',
  RUNNING: 'busy',
  PENDING: 'warn',
  DELAYED: 'warn',
  registered: 'warn',
};

export function StatusBadge({ word }: { word: string | null | undefined }) {
  const w = word ?? 'unknown';
  return <span class={`badge badge-${TONE[w] ?? 'muted'}`}>{w}</span>;
}
