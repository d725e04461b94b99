import { AppError } from '../lib/app-error.js';
import type { RepeatedWarnings } from '../lib/repeated-warnings.js';

/**
 * Admission of sessions on this task (session-manager.ts): at most `maxSessions` live or being
 * launched, and `maxSessionsPerUser` of one user, so one account cannot take everyone's capacity.
 */
export class SessionAdmission {
  private reserved = 0;
  /** Launches in progress per user (included in `reserved`), so a burst of starts cannot overshoot. */
  private readonly reservedBy = new Map<string, number>();

  /** @param sessions the task's live sessions (the manager's map, read on every check) */
  constructor(
    private readonly sessions: ReadonlyMap<string, { userId: string }>,
    private readonly limits: { maxSessions: number; maxSessionsPerUser: number },
    private readonly warnings: RepeatedWarnings,
  ) {}

  /**
   * Sessions `userId` holds here: running, waiting in their grace period for a resume, ending, and
   * being launched.
   */
  private heldBy(userId: string): number {
    let held = this.reservedBy.get(userId) ?? 0;
    for (const s of this.sessions.values()) if (s.userId === userId) held += 1;
    return held;
  }

  /**
   * Whether one more session of `userId` may start here. The user's own limit comes first: waiting
   * for free capacity would not help them.
   * @throws AppError `too_many_sessions`, `capacity_exceeded` (retryable)
   */
  check(userId: string): void {
    const held = this.heldBy(userId);
    const limit = this.limits.maxSessionsPerUser;
    if (held >= limit) {
      this.warnings.warn({ userId, held, limit }, 'user_session_limit_reached');
      throw new AppError('too_many_sessions', `You already have ${held} live session${held === 1 ? '' : 's'}; stop one first.`);
    }
    if (this.sessions.size + this.reserved >= this.limits.maxSessions) throw new AppError('capacity_exceeded', undefined, { retryable: true });
  }

  /**
   * Checks and reserves a place in one synchronous step, so concurrent starts cannot both pass.
   * Returns the release, to call once the launch is over (an admitted session is in `sessions` by
   * then: its count moves there without a gap).
   * @throws AppError `too_many_sessions`, `capacity_exceeded`
   */
  reserve(userId: string): () => void {
    this.check(userId);
    this.reserved += 1;
    this.reservedBy.set(userId, (this.reservedBy.get(userId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return; // once: a second call must not free another start's place
      released = true;
      this.reserved -= 1;
      const left = (this.reservedBy.get(userId) ?? 1) - 1;
      if (left > 0) this.reservedBy.set(userId, left);
      else this.reservedBy.delete(userId);
    };
  }
}
