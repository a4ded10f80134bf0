// Pure (no DOM).
import type { Task } from '../api/types.ts';

/** "install FoobarAgent 1.2.3": the command with the package it names, as lists show a task. */
export function taskSummary(t: Pick<Task, 'command' | 'parameters'>): string {
  const p = t.parameters;
  return `${t.command} ${typeof p.name === 'string' ? p.name : ''} ${typeof p.version === 'string' ? p.version : ''}`;
}
