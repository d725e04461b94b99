import { AppError } from '../lib/app-error.js';

/**
 * The bytes are not valid audio of the declared encoding. The caller emits `invalid_audio` and ends
 * the session cleanly, keeping what was decoded before. `reason` is a fixed, loggable phrase about the
 * container (never audio content).
 */
export class InvalidAudioError extends AppError {
  constructor(readonly reason: string, cause?: unknown) {
    super('invalid_audio', undefined, { cause });
  }
}

/** The declared encoding, sample rate or channel count is not one this service accepts. */
export class UnsupportedAudioFormatError extends AppError {
  constructor(readonly reason: string) {
    super('unsupported_audio_format');
  }
}
