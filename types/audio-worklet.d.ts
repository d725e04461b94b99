// The AudioWorkletGlobalScope that public/pcm-worklet.js runs in: TypeScript's DOM lib does not have it.
// Only tsconfig.public.json includes this file.

declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
/** The sample rate of the AudioContext the worklet runs in. */
declare const sampleRate: number;
declare function registerProcessor(name: string, processor: new () => AudioWorkletProcessor & { process(inputs: Float32Array[][]): boolean }): void;
