/**
 * The knobs of the resilient stream (resilient-stream.ts), with their defaults and the fixed
 * thresholds behind them. Config (`ENGINE_*` in config.ts) overrides the options.
 */

export interface ResilienceOptions {
  /** Reconnects allowed before failover (or, without a fallback, giving up); refilled after a minute without failure. Default 8. */
  maxRetries: number;
  /** Backoff after the second consecutive failure, doubled per failure up to `backoffMaxMs`. Defaults 250 / 5000. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive primary failures (without a final in between) that switch to the fallback. Default 2. */
  failoverAfter: number;
  /** While sessions are on the fallback, how often one of them tries the primary. Default 2000. */
  probeIntervalMs: number;
  /** Most audio kept for replay; older uncovered audio is not re-transcribed live. Default 120000. */
  replayMaxMs: number;
  /** A stream with no result for this long while speech was written to it is replaced; 0 = off. Default 10000. */
  watchdogMs: number;
  /** A stream written no speech for this long gives its engine slot back until speech resumes; 0 = off. Default 30000. */
  idleReleaseMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  maxRetries: 8,
  backoffBaseMs: 250,
  backoffMaxMs: 5000,
  failoverAfter: 2,
  // One probe at a time per task (PrimaryProber): 0.5 refused opens a second per task during an
  // outage, and a session is back on the primary at most ~2 s after the primary is.
  probeIntervalMs: 2000,
  replayMaxMs: 120_000,
  // Transcribe sends its first partial within ~1-2 s of speech; 10 s of speech without any result
  // is a dead stream, not a slow one.
  watchdogMs: 10_000,
  // A clinician's pause (examining, listening) often passes 10 s; 30 s of silence is an idle session.
  // Reopening costs one stream open (a spare decoder for the offline engine), not words.
  idleReleaseMs: 30_000,
};

/** Frames louder than this count as speech for the watchdog (room noise is ~-60..-50 dBFS, speech ~-35..-20). */
export const SPEECH_DBFS = -45;
/** Speech written to a silent stream before the watchdog may fire: less proves nothing. */
export const WATCHDOG_MIN_SPEECH_MS = 1000;
/** Silence kept before the speech that reopens a released stream: soft word onsets sit below SPEECH_DBFS. */
export const IDLE_PRE_ROLL_MS = 1000;
