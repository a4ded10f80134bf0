/**
 * Host tags as design.md §3 writes them: `svc=ecs,cmpt=DB` (empty entries, like a trailing comma,
 * are allowed). Returns what is wrong, or undefined when the text is fine.
 */
export function checkTags(text: string): string | undefined {
  if (text.length > 4096) return 'longer than 4096 characters';
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const i = entry.indexOf('=');
    if (i <= 0) return `${JSON.stringify(entry)} is not key=value`;
    if (entry.indexOf('=', i + 1) >= 0) return `${JSON.stringify(entry)} has more than one "="`;
  }
  return undefined;
}
