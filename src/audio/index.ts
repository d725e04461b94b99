export { type AudioDecoder, type AudioEncoding, type DecodedChunk, type DecoderOptions, type OpusHeadInfo, type OpusPacket, assertSupportedFormat, createDecoder } from './decoder.js';
export { createLiveDecoder, type LiveAudioDecoder, warmOpusWorker } from './off-thread-decoder.js';
export { InvalidAudioError, UnsupportedAudioFormatError } from './errors.js';
export { FRAME_BYTES, FRAME_SAMPLES, Framer } from './framer.js';
export { type Level, LevelMeter, rmsDbfs, SILENCE_DBFS } from './level.js';
export { PCM_BYTES_PER_MS, pcmMs } from './pcm.js';
export { SUPPORTED_PCM_RATES, TARGET_RATE } from './resampler.js';
