// The clinician's recording page: log in, record, watch the words arrive, stop and save.
import { io } from '/vendor/socket.io.esm.min.js';
import { api } from './lib/api.js';
import { $, isBusy, setBusy } from './lib/dom.js';
import { fmtClock, fmtSeconds, fmtSpan } from './lib/format.js';
import { mountLoginForm } from './lib/login-form.js';
import { loadSettings, settings } from './lib/settings.js';
import { fillSpecialties } from './lib/specialties.js';
import * as view from './recorder-view.js';

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
  back_online: 'Back online — all audio sent.',
  // The engines' status, in the clinician's words (the server's text names engines).
  transcriber_failover: 'The live text now comes from the backup speech engine and may be less accurate for a while. Recording is not affected.',
  transcriber_recovered: 'The main speech engine is back; the live text continues from it.',
  too_many_sessions: 'You already have as many live recordings as allowed. Stop one of them (listed below), then press Record again.',
  restored: 'The page was reloaded during a recording; it continues, and the audio not yet saved is being sent.',
  restored_no_mic: 'The page was reloaded during a recording; press Stop to save it, or allow the microphone to continue.',
  unsupported: 'This browser cannot record audio here. Use a current Chrome, Firefox, Edge or Safari.',
  save_failed: 'Failed to save audio file.',
};

// ---- the ledger on disk ---------------------------------------------------------------------------
// Every chunk not yet covered by the server's durableSeq is also kept in IndexedDB with the session
// id, so a tab reload (or a crash of the tab, or the loss of the server task) resumes the session and
// resends it (docs/resilience.md).
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
  // Acknowledged but not yet durable (above durableSeq): the task holding them may still be lost, so
  // they stay here and in IndexedDB, and are resent when a resume answers a lower ackSeq.
  durableSeq: -1,
  durableKnown: false, // the server reports durableSeq (API.md); without it, acknowledged is durable
  kept: new Map(),
  pending: [], // 100 ms frames not yet packed into a chunk
  inFlight: 0,
  startedAt: 0,
  timer: null,
  capture: null,
  moving: false, // the server is shutting down: reconnect (to another task) and resume
  signedOut: false, // logged out elsewhere or the login expired: the inline login is the way on
  stopping: false, // Stop was pressed; the stop completes once everything is sent
  offline: false, // audio waited for a connection; say so when it is all sent again
  capturedMs: 0, // audio captured in this session: the timer shows it, the server saves the same
};

// ---- auth -----------------------------------------------------------------------------------------
async function boot() {
  fillSpecialties($('specialty'));
  try {
    const { user } = await api('GET', '/api/auth/me');
    loggedIn(user);
  } catch {
    showLogin();
  }
}

function showLogin() {
  $('login-view').hidden = false;
  $('record-view').hidden = true;
  $('nav').hidden = true;
  $('whoami').hidden = true;
  $('login-form').elements.username.focus();
}

mountLoginForm($('login-form'), (user) => loggedIn(user));

// Signed out in the middle of a recording: log in here, and the same session goes on.
mountLoginForm($('relogin-form'), (user) => {
  if (state.user && user.id !== state.user.id) {
    // Another person's login must not continue this clinician's session: end it here; the server
    // keeps what it received.
    endLocally('You logged in as someone else; the earlier recording was ended here. The audio the server received is saved.');
  }
  state.signedOut = false;
  view.hideRelogin();
  state.user = user;
  showUser(user);
  if (state.socket) state.socket.connect();
  else connect();
  $('record').focus();
});

$('logout').addEventListener('click', async () => {
  if (state.recording && !confirm('A recording is in progress. Stop it and log out?')) return;
  if (state.recording) await stopRecording();
  await api('POST', '/api/auth/logout').catch(() => {});
  state.socket?.disconnect();
  state.socket = null;
  showLogin();
});

function showUser(user) {
  $('me-name').textContent = user.username;
  $('me-role').textContent = user.role;
  $('nav').hidden = false;
  $('whoami').hidden = false;
}

function loggedIn(user) {
  state.user = user;
  showUser(user);
  $('login-view').hidden = true;
  $('record-view').hidden = false;
  connect();
  void loadSettings();
  void restoreFromDisk();
}

// ---- socket ---------------------------------------------------------------------------------------
const setConnection = view.setConnection;
const showMessage = view.showMessage;
const hideMessage = view.hideMessage;

/** Audio this browser holds that the server has not confirmed, in milliseconds. */
function heldMs() {
  return (state.ledger.size * CHUNK_FRAMES + state.pending.length) * 100;
}

/**
 * Signed out (logout in another tab, or the login expired) while a session is live: the microphone
 * goes on recording into the ledger and the inline login resumes the same session. Without a live
 * session there is nothing to keep, so the full login page is shown.
 */
function signedOut() {
  if (!state.sessionId) {
    state.socket?.disconnect();
    state.socket = null;
    showLogin();
    return;
  }
  state.signedOut = true;
  state.offline = true;
  setConnection('signed-out', 'Signed out');
  hideMessage();
  view.showRelogin(signedOutText());
}

function signedOutText() {
  const held = heldMs();
  const holding = held > 0 ? `This browser holds ${fmtSeconds(held)} of audio not yet sent` : 'Nothing is waiting to be sent';
  return state.stopping
    ? `You were signed out before the recording was saved. ${holding}. Log in to save it.`
    : `Recording continues in this browser. ${holding}. Log in to send it and continue the same recording (the server keeps the session for a few minutes).`;
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
  Object.assign(state, { sessionId: saved.meta.sessionId, transcriptionId: saved.meta.transcriptionId, encoding: saved.meta.encoding ?? 'pcm_s16le', seq: saved.meta.nextSeq, ackSeq: -1, inFlight: 0, pending: [], capturedMs: saved.meta.nextSeq * CHUNK_FRAMES * 100, offline: true });
  state.ledger.clear();
  Object.assign(state, { kept: new Map(), durableSeq: -1, durableKnown: false });
  for (const c of saved.chunks) state.ledger.set(c.seq, c.data);
  showMessage('warn', MESSAGES.restored);
  void view.showEarlierLines(state.transcriptionId);
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
    void refreshLiveSessions();
  });
  socket.on('disconnect', async (reason) => {
    if (state.sessionId) state.offline = true;
    if (reason === 'io server disconnect' && state.moving) {
      // The server closed us at shutdown: reconnect (the load balancer picks another task).
      setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
      setTimeout(() => socket.connect(), 300 + Math.random() * 700);
      return;
    }
    if (reason === 'io server disconnect') {
      // Logged out elsewhere, the login expired, or a server restart: ask which.
      const me = await api('GET', '/api/auth/me').catch((err) => err);
      if (me?.status === 401) return signedOut();
      setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
      setTimeout(() => socket.connect(), 300 + Math.random() * 700);
      return;
    }
    setConnection('reconnecting', 'Reconnecting…');
    if (state.recording) showMessage('warn', MESSAGES.connection_lost);
  });
  socket.on('connect_error', (err) => {
    if (err.message === 'unauthorized') {
      socket.disconnect(); // no retries with a login that is gone; the login form reconnects
      signedOut();
      return;
    }
    setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
  });
  socket.on('transcript:partial', (p) => p.sessionId === state.sessionId && view.showPartial(p));
  socket.on('transcript:final', (p) => p.sessionId === state.sessionId && view.showFinal(p));
  socket.on('session:error', (p) => {
    if (p.sessionId !== state.sessionId) return;
    if (p.code === 'server_shutdown') state.moving = true;
    const text = p.code === 'storage_unavailable' && /Failed to save/.test(p.message) ? MESSAGES.save_failed : MESSAGES[p.code] ?? p.message;
    showMessage(p.fatal ? 'error' : p.code === 'transcriber_recovered' ? 'ok' : 'warn', text);
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
    const why = {
      idle_timeout: `The server ended the session after ${settings.idleTimeoutMs ? fmtSpan(settings.idleTimeoutMs) : 'a long time'} without audio.`,
      max_duration: 'The session reached its maximum length and the server ended it.',
      error: 'The server ended the session because of an error.',
    }[p.reason] ?? 'The server ended the session.';
    endLocally(`${why} What it received (${fmtClock(state.capturedMs - heldMs())}) is saved; press Record to start a new recording.`, p.transcriptionId);
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
    rewind(res.ackSeq);
    acknowledge(res.ackSeq, res.durableSeq);
    state.inFlight = 0;
    await declareLost();
    for (const [seq, data] of [...state.ledger].sort((a, b) => a[0] - b[0])) send(seq, data);
    if (view.messageKind() !== 'ok') hideMessage();
    if (state.offline) setConnection('connected', `Connected — sending ${fmtSeconds(heldMs())} of held audio`);
    maybeBackOnline();
  } catch (err) {
    // Another task may still be saving the session it was handed at a deploy: try again shortly.
    // A continuation refused by the per-user limit goes on once the user stops another session.
    if (err.code === 'too_many_sessions') showMessage('error', err.message);
    const retry = ['session_moving', 'storage_unavailable', 'server_shutdown', 'transcriber_unavailable', 'capacity_exceeded', 'too_many_sessions'].includes(err.code) || (state.moving && ['session_not_found', 'session_ended'].includes(err.code));
    if (retry && attempt < 20) {
      setTimeout(() => state.socket?.connected && resume(attempt + 1), Math.min(500 * 2 ** attempt, 5000));
      return;
    }
    if (err.code === 'session_not_found' || err.code === 'session_ended') {
      const held = heldMs();
      endLocally(
        `The server had already ended this session (it waits a few minutes for a lost connection); the audio it received is saved.${held ? ` ${fmtSeconds(held)} held in this browser could not be added to it.` : ''} Press Record to start a new recording.`,
      );
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
  if (res?.ok) acknowledge(res.ackSeq, res.durableSeq);
}

/**
 * A resume that answers less than was acknowledged: the task that held the rest died, and another
 * continues from what was durable. What this page kept past that point is sent again.
 */
function rewind(ackSeq) {
  if (typeof ackSeq !== 'number' || ackSeq >= state.ackSeq) return;
  for (const [seq, data] of state.kept) {
    if (seq <= ackSeq) continue;
    state.kept.delete(seq);
    state.ledger.set(seq, data);
  }
  state.ackSeq = ackSeq;
}

/** The user's other live sessions (another tab, a closed page): shown with a Stop each. */
async function refreshLiveSessions() {
  const res = await state.socket?.timeout(10_000).emitWithAck('session:list', {}).catch(() => null);
  if (!res?.ok) return;
  view.showLiveSessions(res.sessions.filter((s) => s.sessionId !== state.sessionId), stopOther);
}

async function stopOther(session, button) {
  if (isBusy(button)) return;
  setBusy(button, true);
  button.textContent = 'Saving…';
  const res = await state.socket?.timeout(120_000).emitWithAck('session:stop', { sessionId: session.sessionId }).catch(() => null);
  if (res?.ok) showMessage('ok', `The other recording was saved (${fmtClock(res.durationMs)}).`);
  else showMessage('error', `The other recording could not be stopped${res?.error ? `: ${res.error.message}` : ''}.`);
  await refreshLiveSessions();
  $('record').focus();
}

// ---- recording ------------------------------------------------------------------------------------
$('record').addEventListener('click', () => {
  if (isBusy($('record'))) return; // starting or saving: the press is ignored, the focus stays here
  if (state.recording) void stopRecording();
  else void startRecording();
});

async function startRecording() {
  hideMessage();
  view.hideSaved();
  const encoding = captureEncoding();
  if (!navigator.mediaDevices?.getUserMedia || !encoding) return showMessage('error', MESSAGES.unsupported);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
  } catch (err) {
    return showMessage('error', err.name === 'NotFoundError' ? MESSAGES.mic_missing : MESSAGES.mic_denied);
  }
  view.setButton('starting');
  try {
    if (!state.socket?.connected) throw Object.assign(new Error('offline'), { code: 'connection_lost' });
    const res = await state.socket.timeout(15_000).emitWithAck('session:start', {
      title: $('title').value.trim() || undefined,
      specialty: $('specialty').value,
      type: $('type').value,
      audio: encoding === 'pcm_s16le' ? { encoding, sampleRate: 16000, channels: 1 } : { encoding },
    });
    if (!res.ok) throw Object.assign(new Error(res.error.message), { code: res.error.code });
    Object.assign(state, { sessionId: res.sessionId, transcriptionId: res.transcriptionId, seq: 0, ackSeq: -1, inFlight: 0, pending: [], encoding, capturedMs: 0, offline: false, stopping: false });
    state.ledger.clear();
    Object.assign(state, { kept: new Map(), durableSeq: -1, durableKnown: false });
    await persist(ledgerDb.start({ sessionId: res.sessionId, transcriptionId: res.transcriptionId, userId: state.user.id, encoding }));
  } catch (err) {
    stream.getTracks().forEach((t) => t.stop());
    view.setButton('idle');
    if (err.code === 'too_many_sessions') void refreshLiveSessions();
    return showMessage('error', MESSAGES[err.code] ?? (err.message === 'operation has timed out' ? MESSAGES.connection_lost : err.message));
  }
  view.clearTranscript();
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
    state.startedAt = performance.now() - state.capturedMs;
    view.setButton('recording');
    clearInterval(state.timer);
    state.timer = setInterval(tick, 250);
    tick();
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
    view.setLevel(rms > 0 ? 20 * Math.log10(rms) : -100);
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

/**
 * The timer shows the audio captured (PCM: 100 ms per frame), the same count the server saves as the
 * duration, so the two agree; MediaRecorder's Opus has no frame count here, so it uses the wall clock.
 */
function tick() {
  const ms = state.encoding === 'pcm_s16le' || !state.capture ? state.capturedMs : performance.now() - state.startedAt;
  view.setElapsed(ms, state.recording);
  if (state.signedOut) view.updateRelogin(signedOutText());
  else if (state.socket && !state.socket.connected) setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
}

function onFrame(pcm, dbfs) {
  view.setLevel(dbfs);
  state.capturedMs += 100;
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
    if (res.ok) acknowledge(res.ackSeq, res.durableSeq);
    else if (res.error.code === 'sequence_gap') acknowledge(res.ackSeq ?? state.ackSeq, state.durableSeq);
    else if (res.error.code === 'session_ended' || res.error.code === 'session_not_found' || res.error.code === 'invalid_audio') return;
    else showMessage('warn', MESSAGES[res.error.code] ?? res.error.message);
    pump();
  });
}

function acknowledge(ackSeq, durableSeq) {
  if (typeof ackSeq !== 'number') return;
  state.ackSeq = Math.max(state.ackSeq, ackSeq);
  if (typeof durableSeq === 'number') state.durableKnown = true;
  const durable = state.durableKnown ? (typeof durableSeq === 'number' ? durableSeq : -1) : state.ackSeq;
  state.durableSeq = Math.max(state.durableSeq, Math.min(durable, state.ackSeq));
  for (const [seq, data] of state.ledger) {
    if (seq > state.ackSeq) continue;
    state.ledger.delete(seq);
    if (seq > state.durableSeq) state.kept.set(seq, data);
  }
  for (const seq of state.kept.keys()) if (seq <= state.durableSeq) state.kept.delete(seq);
  // IndexedDB keeps everything durableSeq does not cover: a reload after the task is lost resends it.
  if (state.sessionId && state.durableSeq >= 0) persist(ledgerDb.ack(state.sessionId, state.durableSeq));
  maybeBackOnline();
}

/** After a drop, once the server has everything the browser held: say so, once. */
function maybeBackOnline() {
  if (!state.offline || !state.socket?.connected || state.signedOut || state.moving || state.ledger.size > 0) return;
  state.offline = false;
  setConnection('connected', 'Connected');
  showMessage('ok', MESSAGES.back_online);
}

/** Sends what waits in the ledger, oldest first, while the window has room. */
function pump() {
  const waiting = [...state.ledger.keys()].sort((a, b) => a - b);
  for (const seq of waiting.slice(0, Math.max(0, MAX_IN_FLIGHT - state.inFlight))) {
    if (seq > state.ackSeq) send(seq, state.ledger.get(seq));
  }
}

async function stopRecording() {
  state.stopping = true;
  view.setButton('saving');
  await stopCapture();
  flushChunk();
  if (state.encoding !== 'pcm_s16le') state.capturedMs = performance.now() - state.startedAt;
  tick();
  clearInterval(state.timer);
  // Everything recorded must be acknowledged before the stop. While signed out the inline login is
  // the way on (the held audio waits for it); otherwise a connection that never comes back ends the
  // wait after two minutes and the server keeps what it has.
  let deadline = Date.now() + 120_000;
  while (state.sessionId && (state.ledger.size > 0 || !state.socket?.connected) && (state.signedOut || Date.now() < deadline)) {
    if (state.signedOut) {
      view.updateRelogin(signedOutText());
      deadline = Date.now() + 120_000;
    }
    pump();
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!state.sessionId) return; // ended meanwhile (by the server, or another user logged in)
  try {
    if (!state.socket?.connected) throw new Error('no connection to the server');
    const res = await state.socket.timeout(120_000).emitWithAck('session:stop', { sessionId: state.sessionId });
    if (!res.ok) throw new Error(res.error.message);
    endLocally(undefined);
    view.setElapsed(res.durationMs, false);
    view.showSaved(res.durationMs, res.transcriptionId);
  } catch (err) {
    endLocally(`The session could not be stopped cleanly (${err.message}). The audio the server received is saved; the server ends the session itself within a few minutes.`);
  }
  $('record').focus();
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

function endLocally(message, transcriptionId) {
  stopCapture();
  clearInterval(state.timer);
  state.recording = false;
  state.sessionId = null;
  state.moving = false;
  state.stopping = false;
  state.offline = false;
  state.ledger.clear();
  Object.assign(state, { kept: new Map(), durableSeq: -1, durableKnown: false });
  persist(ledgerDb.clear());
  view.setButton('idle');
  view.setLevel(-60);
  view.hideRelogin();
  if (state.signedOut) {
    // Nothing left to resume: the ordinary login page is the way on.
    state.signedOut = false;
    state.socket?.disconnect();
    state.socket = null;
    showLogin();
  }
  if (message) showMessage('warn', message);
  if (transcriptionId) view.showSaved(null, transcriptionId);
}

window.addEventListener('beforeunload', (e) => {
  if (state.recording) e.preventDefault();
});

void boot();
