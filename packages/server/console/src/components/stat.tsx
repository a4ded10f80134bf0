/** One figure on the dashboard, named for screen readers and tests ("Hosts online"). */
export function Stat({ label, value, hint }: { label: string; value: number | string | null; hint?: string }) {
  return (
    <div class="stat card" role="group" aria-label={label}>
      <div class="stat-value">{value === null ? '…' : typeof value === 'number' ? value.toLocaleString() : value}</div>
      <div class="stat-label">{label}</div>
      {hint && <div class="muted small">{hint}</div>}
    </div>
  );
}
