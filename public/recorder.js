// The clinician's recording page: log in, record, watch the words arrive, stop and save.
import { io } from '/vendor/socket.io.esm.min.js';

const $ = (id) => document.getElementById(id);
const CHUNK_FRAMES = 2; // 200 ms of 16 kHz PCM per audio:chunk
const MAX_IN_FLIGHT = 10; // unacknowledged chunks before we wait (throttled by acks, never dropped)

// Speech engines do best on unprocessed audio: browser noise suppression and AGC smear the
// consonants they rely on.
const MIC_CONSTRAINTS = { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false };

const MESSAGES = {
  mic_denied: 'Microphone access was denied. Allow the microphone for this site in the browser settings, then try again.',
  mic_missing: 'No microphone was found. Connect one and try again.',
  capacity_exceeded: 'All recording slots on the server are in use. Please try again in a minute.',
  transcriber_unavailable: 'The speech engine is unavailable right now. Your audio is still being recorded.',
  storage_unavailable: 'The recording store is unreachable; your audio is kept on the server and saved when it returns.',
  connection_lost: 'Connection lost. Recording continues and the audio is sent when the connection returns.',
  invalid_audio: 'The audio could not be decoded. The session was ended; what was received is saved.',
  server_shutdown: 'The server is restarting; reconnecting to continue.',
  restored: 'The page was reloaded during a recording; it continues, and the audio not yet saved is being sent.',
  restored_no_mic: 'The page was reloaded during a recording; press Stop to save it, or allow the microphone to continue.',
  unsupported: 'This browser cannot record audio here. Use a current Chrome, Firefox, Edge or Safari.',
  save_failed: 'Failed to save audio file.',
};

// ---- the ledger on disk ---------------------------------------------------------------------------
// Every chunk sent and not yet acknowledged is also kept in IndexedDB with the session id, so a tab
// reload (or a crash of the tab) resumes the session and resends it (docs/resilience.md).
const ledgerDb = (() => {
  let opening;
  const open = () =>
    (opening ??= new Promise((resolve, reject) => {
      const req = indexedDB.open('arogya-ledger', 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('meta');
        req.result.createObjectStore('chunks', { keyPath: ['sessionId', 'seq'] });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  const run = async (stores, mode, fn) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(stores, mode);
      let out;
      tx.oncomplete = () => resolve(out);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
      out = fn(tx);
    });
  };
  const request = (req) => new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return {
    /** The chunk and the next seq in one transaction: a chunk lost in a crash is never counted. */
    save: (meta, seq, data) =>
      run(['meta', 'chunks'], 'readwrite', (tx) => {
        tx.objectStore('chunks').put({ sessionId: meta.sessionId, seq, data });
        tx.objectStore('meta').put({ ...meta, nextSeq: seq + 1 }, 'current');
      }),
    start: (meta) => run(['meta', 'chunks'], 'readwrite', (tx) => {
      tx.objectStore('chunks').clear();
      tx.objectStore('meta').put({ ...meta, nextSeq: 0 }, 'current');
    }),
    ack: (sessionId, ackSeq) => run(['chunks'], 'readwrite', (tx) => tx.objectStore('chunks').delete(IDBKeyRange.bound([sessionId, 0], [sessionId, ackSeq]))),
    async load() {
      const db = await open();
      const tx = db.transaction(['meta', 'chunks'], 'readonly');
      const meta = await request(tx.objectStore('meta').get('current'));
      if (!meta) return null;
      const chunks = await request(tx.objectStore('chunks').getAll(IDBKeyRange.bound([meta.sessionId, 0], [meta.sessionId, Number.MAX_SAFE_INTEGER])));
      return { meta, chunks };
    },
    clear: () => run(['meta', 'chunks'], 'readwrite', (tx) => {
      tx.objectStore('meta').clear();
      tx.objectStore('chunks').clear();
    }),
  };
})();
const persist = (promise) => promise.catch(() => {}); // the in-memory ledger still holds everything

const state = {
  user: null,
  socket: null,
  recording: false,
  sessionId: null,
  transcriptionId: null,
  seq: 0,
  ackSeq: -1,
  ledger: new Map(), // seq → ArrayBuffer, sent and not yet acknowledged
  pending: [], // 100 ms frames not yet packed into a chunk
  inFlight: 0,
  startedAt: 0,
  timer: null,
  capture: null,
  partials: new Map(), // segmentId → element
  moving: false, // the server is shutting down: reconnect (to another task) and resume
};

// ---- auth -----------------------------------------------------------------------------------------
async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { 'content-type': 'application/json' }, ...options });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(body?.error?.message ?? res.statusText), { status: res.status, code: body?.error?.code });
  return body;
}

async function boot() {
  try {
    const { user } = await api('/api/auth/me');
    loggedIn(user);
  } catch {
    showLogin();
  }
}

function showLogin() {
  $('login-view').hidden = false;
  $('record-view').hidden = true;
  $('nav').hidden = true;
  $('username').focus();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').hidden = true;
  try {
    const { user } = await api('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username: $('username').value, password: $('password').value }),
    });
    $('password').value = '';
    loggedIn(user);
  } catch (err) {
    $('login-error').textContent = err.status === 429 ? 'Too many attempts. Wait a few minutes and try again.' : err.message;
    $('login-error').hidden = false;
  }
});

$('logout').addEventListener('click', async () => {
  if (state.recording && !confirm('A recording is in progress. Stop it and log out?')) return;
  if (state.recording) await stopRecording();
  await api('/api/auth/logout', { method: 'POST' }).catch(() => {});
  state.socket?.disconnect();
  state.socket = null;
  showLogin();
});

function loggedIn(user) {
  state.user = user;
  $('who').textContent = `${user.username} (${user.role})`;
  $('nav').hidden = false;
  $('login-view').hidden = true;
  $('record-view').hidden = false;
  connect();
  void restoreFromDisk();
}

// ---- socket ---------------------------------------------------------------------------------------
function setConnection(s, text) {
  const el = $('connection');
  el.dataset.state = s;
  el.textContent = text;
}

/** After a reload: an unfinished session of this user in IndexedDB is resumed, its chunks resent. */
async function restoreFromDisk() {
  let saved;
  try {
    saved = await ledgerDb.load();
  } catch {
    return;
  }
  if (!saved || saved.meta.userId !== state.user?.id || state.sessionId) return;
  Object.assign(state, { sessionId: saved.meta.sessionId, transcriptionId: saved.meta.transcriptionId, encoding: saved.meta.encoding ?? 'pcm_s16le', seq: saved.meta.nextSeq, ackSeq: -1, inFlight: 0, pending: [] });
  state.ledger.clear();
  for (const c of saved.chunks) state.ledger.set(c.seq, c.data);
  showMessage('warn', MESSAGES.restored);
  await beginCapture().catch(() => showMessage('warn', MESSAGES.restored_no_mic));
  if (state.socket?.connected) await resume();
}

function connect() {
  if (state.socket) return;
  const socket = io({ transports: ['websocket', 'polling'], reconnectionDelay: 500, reconnectionDelayMax: 5000 });
  state.socket = socket;
  socket.on('connect', async () => {
    setConnection('connected', 'Connected');
    if (state.sessionId) await resume();
  });
  socket.on('disconnect', (reason) => {
    if (reason === 'io server disconnect' && state.moving) {
      // The server closed us at shutdown: reconnect (the load balancer picks another task).
      setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
      setTimeout(() => socket.connect(), 300 + Math.random() * 700);
      return;
    }
    if (reason === 'io server disconnect') {
      // Logged out elsewhere or the session expired.
      setConnection('offline', 'Signed out');
      return;
    }
    setConnection('reconnecting', 'Reconnecting…');
    if (state.recording) showMessage('warn', MESSAGES.connection_lost);
  });
  socket.on('connect_error', (err) => {
    if (err.message === 'unauthorized') {
      socket.disconnect();
      state.socket = null;
      showLogin();
      return;
    }
    setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
  });
  socket.on('transcript:partial', (p) => p.sessionId === state.sessionId && showPartial(p));
  socket.on('transcript:final', (p) => p.sessionId === state.sessionId && showFinal(p));
  socket.on('session:error', (p) => {
    if (p.sessionId !== state.sessionId) return;
    if (p.code === 'server_shutdown') state.moving = true;
    const text = p.code === 'storage_unavailable' && /Failed to save/.test(p.message) ? MESSAGES.save_failed : MESSAGES[p.code] ?? p.message;
    showMessage(p.fatal ? 'error' : 'warn', text);
  });
  socket.on('session:ended', (p) => {
    if (p.sessionId !== state.sessionId || p.reason === 'stopped') return;
    if (p.reason === 'server_shutdown') {
      // Not the end: keep recording into the ledger and resume on the next connection.
      state.moving = true;
      state.inFlight = 0;
      showMessage('warn', MESSAGES.server_shutdown);
      return;
    }
    const why = { idle_timeout: 'The session ended after 5 minutes without audio.', max_duration: 'The session reached its maximum length and was saved.', server_shutdown: MESSAGES.server_shutdown, error: 'The session ended because of an error; what was received is saved.' }[p.reason];
    endLocally(why);
  });
}

function bufferedSeconds() {
  const frames = state.ledger.size * CHUNK_FRAMES + state.pending.length;
  return frames ? `(${(frames / 10).toFixed(1)} s buffered)` : '';
}

async function resume(attempt = 0) {
  try {
    const res = await state.socket.timeout(10_000).emitWithAck('session:resume', { sessionId: state.sessionId, lastSeq: state.seq - 1 });
    if (!res.ok) throw Object.assign(new Error(res.error.message), { code: res.error.code });
    state.moving = false;
    acknowledge(res.ackSeq);
    state.inFlight = 0;
    await declareLost();
    for (const [seq, data] of [...state.ledger].sort((a, b) => a[0] - b[0])) send(seq, data);
    hideMessage();
  } catch (err) {
    // Another task may still be saving the session it was handed at a deploy: try again shortly.
    // A continuation refused by the per-user limit goes on once the user stops another session.
    if (err.code === 'too_many_sessions') showMessage('error', err.message);
    const retry = ['storage_unavailable', 'server_shutdown', 'transcriber_unavailable', 'capacity_exceeded', 'too_many_sessions'].includes(err.code) || (state.moving && ['session_not_found', 'session_ended'].includes(err.code));
    if (retry && attempt < 20) {
      setTimeout(() => state.socket?.connected && resume(attempt + 1), Math.min(500 * 2 ** attempt, 5000));
      return;
    }
    if (err.code === 'session_not_found' || err.code === 'session_ended') {
      endLocally('The session could not be resumed; the audio the server received is saved.');
    }
  }
}

/**
 * Chunks after the server's ackSeq that this page no longer has (lost with a crashed tab before
 * they reached the disk) are declared as a gap, so the transcript marks them instead of a hole.
 */
async function declareLost() {
  const first = Math.min(state.seq, ...state.ledger.keys());
  if (first <= state.ackSeq + 1) return;
  const fromSeq = state.ackSeq + 1;
  const toSeq = first - 1;
  const res = await state.socket
    .timeout(10_000)
    .emitWithAck('audio:gap', { sessionId: state.sessionId, fromSeq, toSeq, durationMs: (toSeq - fromSeq + 1) * CHUNK_FRAMES * 100 })
    .catch(() => null);
  if (res?.ok) acknowledge(res.ackSeq);
}

// ---- recording ------------------------------------------------------------------------------------
$('record').addEventListener('click', () => (state.recording ? stopRecording() : startRecording()));

async function startRecording() {
  hideMessage();
  $('saved').hidden = true;
  const encoding = captureEncoding();
  if (!navigator.mediaDevices?.getUserMedia || !encoding) return showMessage('error', MESSAGES.unsupported);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
  } catch (err) {
    return showMessage('error', err.name === 'NotFoundError' ? MESSAGES.mic_missing : MESSAGES.mic_denied);
  }
  $('record').disabled = true;
  try {
    const res = await state.socket.timeout(15_000).emitWithAck('session:start', {
      title: $('title').value.trim() || undefined,
      specialty: $('specialty').value,
      type: $('type').value,
      audio: encoding === 'pcm_s16le' ? { encoding, sampleRate: 16000, channels: 1 } : { encoding },
    });
    if (!res.ok) throw Object.assign(new Error(res.error.message), { code: res.error.code });
    Object.assign(state, { sessionId: res.sessionId, transcriptionId: res.transcriptionId, seq: 0, ackSeq: -1, inFlight: 0, pending: [], encoding });
    state.ledger.clear();
    await persist(ledgerDb.start({ sessionId: res.sessionId, transcriptionId: res.transcriptionId, userId: state.user.id, encoding }));
  } catch (err) {
    stream.getTracks().forEach((t) => t.stop());
    $('record').disabled = false;
    return showMessage('error', MESSAGES[err.code] ?? (err.message === 'operation has timed out' ? MESSAGES.connection_lost : err.message));
  }
  $('transcript').replaceChildren();
  state.partials.clear();
  await beginCapture(stream);
}

/** Microphone → 100 ms frames → chunks; the session (new or restored) is already in `state`. */
async function beginCapture(micStream) {
  try {
    // An Opus stream cannot be continued after a reload: its container header went with the page.
    if (!micStream && state.encoding && state.encoding !== 'pcm_s16le') throw new Error('opus stream cannot restart');
    const stream = micStream ?? (await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS }));
    if (state.encoding && state.encoding !== 'pcm_s16le') {
      state.capture = mediaRecorderCapture(stream);
      return;
    }
    const { ctx, source } = audioGraph(stream);
    await ctx.audioWorklet.addModule('/pcm-worklet.js');
    const node = new AudioWorkletNode(ctx, 'pcm-downsampler');
    node.port.onmessage = ({ data }) => onFrame(data.pcm, data.dbfs);
    source.connect(node);
    state.capture = { ctx, stream, node, source };
  } finally {
    // Even without a microphone (a restored session), the session is live: Stop saves it.
    state.recording = true;
    state.startedAt = performance.now();
    const button = $('record');
    button.textContent = '■ Stop';
    button.setAttribute('aria-pressed', 'true');
    button.disabled = false;
    for (const id of ['title', 'specialty', 'type']) $(id).disabled = true;
    clearInterval(state.timer);
    state.timer = setInterval(tick, 250);
  }
}

/**
 * What this browser records: 16 kHz PCM through an AudioWorklet (every current browser), else the
 * Opus that MediaRecorder produces (WebM or Ogg), else nothing.
 */
function captureEncoding() {
  if (window.AudioWorkletNode) return 'pcm_s16le';
  if (!window.MediaRecorder) return null;
  if (MediaRecorder.isTypeSupported('audio/webm;codecs=opus')) return 'webm_opus';
  if (MediaRecorder.isTypeSupported('audio/ogg;codecs=opus')) return 'ogg_opus';
  return null;
}

/** The fallback: MediaRecorder timeslices sent as they come (only the first carries the header). */
function mediaRecorderCapture(stream) {
  const mimeType = state.encoding === 'webm_opus' ? 'audio/webm;codecs=opus' : 'audio/ogg;codecs=opus';
  const recorder = new MediaRecorder(stream, { mimeType, audioBitsPerSecond: 32_000 });
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const level = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const rms = Math.sqrt(sum / samples.length);
    $('level').value = Math.max(-60, Math.min(0, rms > 0 ? 20 * Math.log10(rms) : -100));
  }, 100);
  // Blobs resolve in order of arrival; chain them so chunk order is the recording order.
  let order = Promise.resolve();
  recorder.ondataavailable = (e) => {
    if (!e.data.size) return;
    order = order.then(async () => queueChunk(new Uint8Array(await e.data.arrayBuffer())));
  };
  const stopped = new Promise((resolve) => (recorder.onstop = () => resolve(order)));
  recorder.start(250);
  return { ctx, stream, source, recorder, stopped, level };
}

/**
 * A 16 kHz context lets the browser's own high-quality resampler do the work (Chrome, Safari); where
 * a microphone cannot join a context of another rate (older Firefox), the default rate is used and
 * the worklet downsamples.
 */
function audioGraph(stream) {
  try {
    const ctx = new AudioContext({ sampleRate: 16000 });
    try {
      return { ctx, source: ctx.createMediaStreamSource(stream) };
    } catch {
      void ctx.close();
    }
  } catch {
    /* this browser refuses a 16 kHz context */
  }
  const ctx = new AudioContext();
  return { ctx, source: ctx.createMediaStreamSource(stream) };
}

function tick() {
  const s = Math.floor((performance.now() - state.startedAt) / 1000);
  $('elapsed').textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  if (state.socket && !state.socket.connected) setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
}

function onFrame(pcm, dbfs) {
  $('level').value = Math.max(-60, Math.min(0, dbfs));
  state.pending.push(new Uint8Array(pcm));
  if (state.pending.length >= CHUNK_FRAMES) flushChunk();
}

function flushChunk() {
  if (state.pending.length === 0) return;
  const size = state.pending.reduce((n, f) => n + f.byteLength, 0);
  const data = new Uint8Array(size);
  let off = 0;
  for (const f of state.pending) {
    data.set(f, off);
    off += f.byteLength;
  }
  state.pending = [];
  queueChunk(data);
}

/** Gives the next chunk its seq, keeps it in the ledger (memory and IndexedDB) and sends it. */
function queueChunk(data) {
  if (!state.sessionId) return;
  const seq = state.seq++;
  state.ledger.set(seq, data.buffer);
  persist(ledgerDb.save({ sessionId: state.sessionId, transcriptionId: state.transcriptionId, userId: state.user.id, encoding: state.encoding }, seq, data.buffer));
  send(seq, data.buffer);
}

function send(seq, data) {
  if (!state.socket?.connected || state.inFlight >= MAX_IN_FLIGHT) return; // kept in the ledger; sent on ack or resume
  state.inFlight += 1;
  state.socket.timeout(30_000).emit('audio:chunk', { sessionId: state.sessionId, seq, data }, (err, res) => {
    state.inFlight = Math.max(0, state.inFlight - 1);
    if (err) return; // timed out: the resume after reconnect resends it
    if (res.ok) acknowledge(res.ackSeq);
    else if (res.error.code === 'sequence_gap') acknowledge(res.ackSeq ?? state.ackSeq);
    else if (res.error.code === 'session_ended' || res.error.code === 'session_not_found' || res.error.code === 'invalid_audio') return;
    else showMessage('warn', MESSAGES[res.error.code] ?? res.error.message);
    pump();
  });
}

function acknowledge(ackSeq) {
  if (typeof ackSeq !== 'number') return;
  state.ackSeq = Math.max(state.ackSeq, ackSeq);
  for (const seq of state.ledger.keys()) if (seq <= state.ackSeq) state.ledger.delete(seq);
  if (state.sessionId && state.ackSeq >= 0) persist(ledgerDb.ack(state.sessionId, state.ackSeq));
}

/** Sends what waits in the ledger, oldest first, while the window has room. */
function pump() {
  const waiting = [...state.ledger.keys()].sort((a, b) => a - b);
  for (const seq of waiting.slice(0, Math.max(0, MAX_IN_FLIGHT - state.inFlight))) {
    if (seq > state.ackSeq) send(seq, state.ledger.get(seq));
  }
}

async function stopRecording() {
  const button = $('record');
  button.disabled = true;
  button.textContent = 'Saving…';
  await stopCapture();
  flushChunk();
  // Everything recorded must be acknowledged before the stop.
  const deadline = Date.now() + 120_000;
  while (state.ledger.size > 0 && Date.now() < deadline) {
    pump();
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    const res = await state.socket.timeout(120_000).emitWithAck('session:stop', { sessionId: state.sessionId });
    if (!res.ok) throw new Error(res.error.message);
    endLocally();
    const saved = $('saved');
    saved.replaceChildren(`Saved (${formatMs(res.durationMs)}). `);
    const a = document.createElement('a');
    a.href = `/review.html#/t/${res.transcriptionId}`;
    a.textContent = 'Open the transcript';
    saved.append(a);
    saved.hidden = false;
  } catch (err) {
    endLocally();
    showMessage('error', `The session could not be stopped cleanly: ${err.message}. The audio the server received is saved.`);
  }
}

/** Stops the microphone; resolves once the last recorded audio has been queued. */
async function stopCapture() {
  const c = state.capture;
  if (!c) return;
  state.capture = null;
  c.source.disconnect();
  if (c.node) c.node.port.onmessage = null;
  if (c.recorder) {
    clearInterval(c.level);
    if (c.recorder.state !== 'inactive') c.recorder.stop();
    await c.stopped; // MediaRecorder hands over its last timeslice after stop()
  }
  c.stream.getTracks().forEach((t) => t.stop());
  void c.ctx.close();
}

function endLocally(message) {
  stopCapture();
  clearInterval(state.timer);
  state.recording = false;
  state.sessionId = null;
  state.moving = false;
  state.ledger.clear();
  persist(ledgerDb.clear());
  const button = $('record');
  button.textContent = '● Record';
  button.setAttribute('aria-pressed', 'false');
  button.disabled = false;
  for (const id of ['title', 'specialty', 'type']) $(id).disabled = false;
  $('level').value = -60;
  if (message) showMessage('warn', message);
}

// ---- transcript -----------------------------------------------------------------------------------
function formatMs(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function segmentElement(p, partial) {
  const el = document.createElement('p');
  el.className = partial ? 'segment partial' : 'segment final';
  el.dataset.segmentId = p.segmentId;
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = formatMs(p.startMs);
  el.append(time);
  if (p.speaker) {
    const who = document.createElement('span');
    who.className = 'speaker';
    who.textContent = p.speaker.replace(/^spk_/, 'Speaker ');
    el.append(who);
  }
  el.append(document.createTextNode(p.text));
  return el;
}

function showPartial(p) {
  const el = segmentElement(p, true);
  const old = state.partials.get(p.segmentId);
  if (old) old.replaceWith(el);
  else $('transcript').append(el);
  state.partials.set(p.segmentId, el);
}

function showFinal(p) {
  const el = segmentElement(p, false);
  const old = state.partials.get(p.segmentId) ?? $('transcript').querySelector(`[data-segment-id="${CSS.escape(p.segmentId)}"]`);
  if (old) old.replaceWith(el);
  else $('transcript').append(el);
  state.partials.delete(p.segmentId);
}

function showMessage(kind, text) {
  const el = $('message');
  el.className = `message ${kind}`;
  el.textContent = text;
  el.hidden = false;
}

function hideMessage() {
  $('message').hidden = true;
}

window.addEventListener('beforeunload', (e) => {
  if (state.recording) e.preventDefault();
});

void boot();
