import type { SessionProblem } from './types.js';

/**
 * The sockets that follow each live session of this task (session-manager.ts), the grace timer of a
 * session none follows any more, and the engine notices a session heard before its first socket
 * joined its room. Knows session ids and socket ids only.
 */
export class SessionAttachments {
  private readonly attached = new Map<string, Set<string>>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  /** Engine notices from before a session's first socket joined its room. */
  private readonly heldNotices = new Map<string, SessionProblem[]>();

  /**
   * @param graceMs how long a session with no socket waits for a resume
   * @param onGraceExpired called when it waited in vain (no socket came back)
   */
  constructor(
    private readonly graceMs: number,
    private readonly onGraceExpired: (sessionId: string) => void,
  ) {}

  /** A socket has joined the session's room (now or before): notices can be sent to it. */
  hasRoom(sessionId: string): boolean {
    return this.attached.has(sessionId);
  }

  /** At least one socket follows the session now. */
  connected(sessionId: string): boolean {
    return (this.attached.get(sessionId)?.size ?? 0) > 0;
  }

  /** Keeps `notice` until the session's first socket attaches. */
  hold(sessionId: string, notice: SessionProblem): void {
    this.heldNotices.set(sessionId, [...(this.heldNotices.get(sessionId) ?? []), notice]);
  }

  /**
   * Socket `socketId` now follows session `sessionId`: a pending grace timer is cancelled. Returns
   * the notices held for the session, to be sent now.
   */
  attach(sessionId: string, socketId: string): SessionProblem[] {
    let set = this.attached.get(sessionId);
    if (!set) this.attached.set(sessionId, (set = new Set()));
    set.add(socketId);
    const held = this.heldNotices.get(sessionId) ?? [];
    this.heldNotices.delete(sessionId);
    const timer = this.graceTimers.get(sessionId);
    if (timer) {
      clearTimeout(timer);
      this.graceTimers.delete(sessionId);
    }
    return held;
  }

  /**
   * Socket `socketId` is gone. Each session it was the last socket of, and for which `waits` says
   * yes (live, not ending), gets a grace timer, unless it has one already.
   */
  detach(socketId: string, waits: (sessionId: string) => boolean): void {
    for (const [sessionId, set] of this.attached) {
      if (!set.delete(socketId) || set.size > 0) continue;
      if (!waits(sessionId) || this.graceTimers.has(sessionId)) continue;
      const timer = setTimeout(() => {
        this.graceTimers.delete(sessionId);
        if (this.attached.get(sessionId)?.size) return;
        this.onGraceExpired(sessionId);
      }, this.graceMs);
      this.graceTimers.set(sessionId, timer);
    }
  }

  /** The session is over: its sockets, notices and timer are dropped. */
  forget(sessionId: string): void {
    this.attached.delete(sessionId);
    this.heldNotices.delete(sessionId);
    const timer = this.graceTimers.get(sessionId);
    if (timer) clearTimeout(timer);
    this.graceTimers.delete(sessionId);
  }

  /** Cancels every grace timer (the sessions are being ended anyway: shutdown drain). */
  cancelGrace(): void {
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
  }
}
