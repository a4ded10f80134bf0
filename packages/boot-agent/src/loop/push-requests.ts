/**
 * What the job runner (and a config job through its wiring) may ask of the status push loop.
 * The runner holds this interface, not the loop or a closure over it: the loop is made first
 * and handed in, so "go to definition" from the runner lands here and then on PushLoop.
 */
export interface PushRequests {
  /** Results (or an urgent event) are ready: push now rather than at the end of the step. */
  pushSoon(): void;
  /** A config job changed the step: the next push is due one new step after the last one. */
  stepChanged(): void;
}
