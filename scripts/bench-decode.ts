import { createDecoder } from '../src/audio/index.js';
import { encodeOpus, readSharedPcm } from '../test/support/audio.js';
const files = ['real/jfk.wav', 'real/1089-134686-0000.wav', 'real/1089-134691-0001.wav'];
for (const c of ['webm', 'ogg'] as const) {
  let audioS = 0; let cpu = 0;
  for (let rep = 0; rep < 5; rep++) for (const f of files) {
    const bytes = await encodeOpus(f, c);
    const d = await createDecoder({ encoding: c === 'webm' ? 'webm_opus' : 'ogg_opus' });
    const t = process.cpuUsage();
    let n = 0;
    for (let p = 0; p < bytes.length; p += 1000) n += d.push(bytes.subarray(p, p + 1000)).pcm.length;
    d.end();
    const u = process.cpuUsage(t); cpu += (u.user + u.system) / 1e6; audioS += n / 32000;
  }
  console.log(c, 'audio s', audioS.toFixed(1), 'cpu s', cpu.toFixed(3), 'x realtime', (audioS / cpu).toFixed(0), '% core/stream', (100 * cpu / audioS).toFixed(2));
}
{
  const pcm = readSharedPcm('real/jfk.wav');
  // upsample to 48k by repetition is not needed: just time the 48k path on a synthetic 48k buffer
  const n = pcm.length / 2 * 3; const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(pcm.readInt16LE(Math.floor(i / 3) * 2), i * 2);
  const t = process.cpuUsage(); let out = 0;
  for (let rep = 0; rep < 10; rep++) {
    const d = await createDecoder({ encoding: 'pcm_s16le', sampleRate: 48000 });
    for (let p = 0; p < b.length; p += 9600) out += d.push(b.subarray(p, p + 9600)).pcm.length;
    d.end();
  } const u = process.cpuUsage(t); const cpu = (u.user + u.system) / 1e6;
  console.log('pcm48k', 'audio s', (out / 32000).toFixed(1), 'cpu s', cpu.toFixed(3), '% core/stream', (100 * cpu / (out / 32000)).toFixed(2));
}
