// @ts-check
// The clinician's recording page: log in, record, watch the words arrive, stop and save. This file
// wires the pieces: the microphone (recorder-capture.js), the audio ledger and sender
// (recorder-sender.js, DOM-free, with IndexedDB behind it in recorder-ledger.js), what the page shows
// (recorder-view.js) and the socket.
import { io } from '/vendor/socket.io.esm.min.js';
import { api, ApiError } from './lib/api.js';
import { $, fillOptions, isBusy, setBusy } from './lib/dom.js';
import { fmtClock, fmtSeconds, fmtSpan } from './lib/format.js';
import { mountLoginForm } from './lib/login-form.js';
import { loadSettings, settings } from './lib/settings.js';
import { SPECIALTIES } from './lib/specialties.js';
import { canContinue, captureOggOpus, captureOpus, capturePcm, capturePlan, openMicrophone } from './recorder-capture.js';
import { ledgerStore, loadLedger } from './recorder-ledger.js';
import { CHUNK_FRAMES, ChunkSender, FRAME_MS, RefusedError, resumeRetryDelay } from './recorder-sender.js';
import * as view from './recorder-view.js';

/** @typedef {import('../src/realtime/events.js').ServerToClientEvents} ServerToClientEvents */
/** @typedef {import('../src/realtime/events.js').ClientToServerEvents} ClientToServerEvents */
/** @typedef {import('../src/realtime/events.js').AudioEncoding} AudioEncoding */
/** @typedef {import('socket.io-client').Socket<ServerToClientEvents, ClientToServerEvents>} AppSocket */
/** @typedef {import('./lib/login-form.js').User} User */
/** @typedef {import('./recorder-sender.js').SenderSocket} SenderSocket */
/** @typedef {Parameters<ServerToClientEvents['session:notice']>[0]} NoticePayload */

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
  too_many_sessions: 'You already have as many live recordings as allowed. Stop one of them (listed below), then press Record again.',
  restored: 'The page was reloaded during a recording; it continues, and the audio not yet saved is being sent.',
  restored_no_mic: 'The page was reloaded during a recording; press Stop to save it, or allow the microphone to continue.',
  unsupported: 'This browser cannot record audio here. Use a current Chrome, Firefox, Edge or Safari.',
  encoder_failed: 'The browser\'s audio encoder stopped. The audio recorded so far is being saved; press Stop, then Record again (tick "Lossless audio" if it happens again).',
};

/**
 * `session:notice` in the clinician's words (the server's text names engines), or null for the
 * server's own words: `storage_unavailable` is both "unreachable, kept on the server" and "could not
 * be saved", and only the server's message says which. A Record over the server's NoticeCode, so a
 * new notice fails `npm run typecheck` until the page decides what it says.
 * @type {Record<import('../src/realtime/events.js').NoticeCode, string | null>}
 */
const NOTICES = {
  transcriber_failover: 'The live text now comes from the backup speech engine and may be less accurate for a while. Recording is not affected.',
  transcriber_recovered: 'The main speech engine is back; the live text continues from it.',
  transcriber_unavailable: MESSAGES.transcriber_unavailable,
  storage_unavailable: null,
  server_shutdown: MESSAGES.server_shutdown,
};
/** The page's words for a server code, if it has its own. @param {string} code */
const messageFor = (code) => (Object.hasOwn(MESSAGES, code) ? MESSAGES[/** @type {keyof typeof MESSAGES} */ (code)] : undefined);

const state = {
  /** @type {User | null} */
  user: null,
  /** @type {AppSocket | null} */
  socket: null,
  recording: false,
  /** @type {AudioEncoding} */
  encoding: 'pcm_s16le',
  /** @type {import('./recorder-capture.js').CapturePlan['kind']} how this page records the session */
  captureKind: 'pcm',
  startedAt: 0,
  /** @type {ReturnType<typeof setInterval> | undefined} */
  timer: undefined,
  /** @type {import('./recorder-capture.js').Capture | null} */
  capture: null,
  moving: false, // the server is shutting down: reconnect (to another task) and resume
  signedOut: false, // logged out elsewhere or the login expired: the inline login is the way on
  stopping: false, // Stop was pressed; the stop completes once everything is sent
  offline: false, // audio waited for a connection; say so when it is all sent again
  capturedMs: 0, // audio captured in this session: the timer shows it, the server saves the same
  /**
   * Notices that came while `session:start` waited for its ack: the server sends one (e.g. a start on
   * the backup engine) as soon as this socket is in the session's room, before the ack names the session.
   * @type {NoticePayload[] | null} null when no start is waiting
   */
  early: null,
};

/** The socket as the sender needs it: acks with the page's timeouts. @type {SenderSocket} */
const senderSocket = {
  connected: () => Boolean(state.socket?.connected),
  chunk: (p) => socket().timeout(30_000).emitWithAck('audio:chunk', p),
  resume: (p) => socket().timeout(10_000).emitWithAck('session:resume', p),
  gap: (p) => socket().timeout(10_000).emitWithAck('audio:gap', p),
};
function socket() {
  if (!state.socket) throw new Error('no socket');
  return state.socket;
}

const sender = new ChunkSender({
  socket: () => (state.socket ? senderSocket : null),
  store: ledgerStore,
  onAcknowledged: () => maybeBackOnline(),
  onRefused: (error) => view.showMessage('warn', messageFor(error.code) ?? error.message),
});

// ---- auth -----------------------------------------------------------------------------------------
async function boot() {
  fillOptions($('specialty', HTMLSelectElement), SPECIALTIES);
  try {
    const { user } = /** @type {{ user: User }} */ (await api('GET', '/api/auth/me'));
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
  $('login-username').focus();
}

mountLoginForm($('login-form', HTMLFormElement), (user) => loggedIn(user));

// Signed out in the middle of a recording: log in here, and the same session goes on.
mountLoginForm($('relogin-form', HTMLFormElement), (user) => {
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

/** @param {User} user */
function showUser(user) {
  $('me-name').textContent = user.username;
  $('me-role').textContent = user.role;
  $('nav').hidden = false;
  $('whoami').hidden = false;
}

/** @param {User} user */
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
const { setConnection, showMessage, hideMessage } = view;

/**
 * Signed out (logout in another tab, or the login expired) while a session is live: the microphone
 * goes on recording into the ledger and the inline login resumes the same session. Without a live
 * session there is nothing to keep, so the full login page is shown.
 */
function signedOut() {
  if (!sender.sessionId) {
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
  const held = sender.heldMs();
  const holding = held > 0 ? `This browser holds ${fmtSeconds(held)} of audio not yet sent` : 'Nothing is waiting to be sent';
  return state.stopping
    ? `You were signed out before the recording was saved. ${holding}. Log in to save it.`
    : `Recording continues in this browser. ${holding}. Log in to send it and continue the same recording (the server keeps the session for a few minutes).`;
}

/** After a reload: an unfinished session of this user in IndexedDB is resumed, its chunks resent. */
async function restoreFromDisk() {
  let saved;
  try {
    saved = await loadLedger();
  } catch {
    return;
  }
  if (!saved || saved.meta.userId !== state.user?.id || sender.sessionId) return;
  const { nextSeq, ...meta } = saved.meta;
  const encoding = meta.encoding ?? 'pcm_s16le'; // a ledger written before the Opus fallback has none
  // A ledger written before WebCodecs Opus has no capture kind: its Opus came from MediaRecorder.
  const captureKind = meta.capture ?? (encoding === 'pcm_s16le' ? 'pcm' : 'mediarecorder');
  sender.restore({ ...meta, encoding }, nextSeq, saved.chunks);
  Object.assign(state, { encoding, captureKind, capturedMs: nextSeq * CHUNK_FRAMES * FRAME_MS, offline: true });
  showMessage('warn', MESSAGES.restored);
  void view.showEarlierLines(meta.transcriptionId);
  await beginCapture().catch(() => showMessage('warn', MESSAGES.restored_no_mic));
  if (state.socket?.connected) await resume();
}

function connect() {
  if (state.socket) return;
  /** @type {AppSocket} */
  const socket = io({ transports: ['websocket', 'polling'], reconnectionDelay: 500, reconnectionDelayMax: 5000 });
  state.socket = socket;
  socket.on('connect', async () => {
    setConnection('connected', 'Connected');
    if (sender.sessionId) await resume();
    void refreshLiveSessions();
  });
  socket.on('disconnect', async (reason) => {
    if (sender.sessionId) state.offline = true;
    if (reason === 'io server disconnect' && state.moving) {
      // The server closed us at shutdown: reconnect (the load balancer picks another task).
      setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
      setTimeout(() => socket.connect(), 300 + Math.random() * 700);
      return;
    }
    if (reason === 'io server disconnect') {
      // Logged out elsewhere, the login expired, or a server restart: ask which.
      const me = await api('GET', '/api/auth/me').catch((/** @type {unknown} */ err) => err);
      if (me instanceof ApiError && me.status === 401) return signedOut();
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
  socket.on('transcript:partial', (p) => p.sessionId === sender.sessionId && view.showPartial(p));
  socket.on('transcript:final', (p) => p.sessionId === sender.sessionId && view.showFinal(p));
  socket.on('session:notice', (p) => {
    if (p.sessionId === sender.sessionId) showNotice(p);
    else state.early?.push(p);
  });
  // Notices also arrive here with `fatal: false` (for API.md's older clients): session:notice has them.
  socket.on('session:error', (p) => {
    if (p.sessionId !== sender.sessionId || !p.fatal) return;
    showMessage('error', messageFor(p.code) ?? p.message);
  });
  socket.on('session:ended', (p) => {
    if (p.sessionId !== sender.sessionId || p.reason === 'stopped') return;
    if (p.reason === 'server_shutdown') {
      // Not the end: keep recording into the ledger and resume on the next connection.
      state.moving = true;
      sender.dropInFlight();
      showMessage('warn', MESSAGES.server_shutdown);
      return;
    }
    const why = {
      idle_timeout: `The server ended the session after ${settings.idleTimeoutMs ? fmtSpan(settings.idleTimeoutMs) : 'a long time'} without audio.`,
      max_duration: 'The session reached its maximum length and the server ended it.',
      error: 'The server ended the session because of an error.',
    }[p.reason] ?? 'The server ended the session.';
    endLocally(`${why} What it received (${fmtClock(state.capturedMs - sender.heldMs())}) is saved; press Record to start a new recording.`, p.transcriptionId);
  });
}

/** @param {NoticePayload} p */
function showNotice(p) {
  if (p.code === 'server_shutdown') state.moving = true;
  showMessage(p.code === 'transcriber_recovered' ? 'ok' : 'warn', NOTICES[p.code] ?? p.message);
}

function bufferedSeconds() {
  const ms = sender.heldMs();
  return ms ? `(${(ms / 1000).toFixed(1)} s buffered)` : '';
}

/** `session:resume` after a reconnect or a reload, retried while the server is moving the session. */
async function resume(attempt = 0) {
  try {
    await sender.resume();
    state.moving = false;
    if (view.messageKind() !== 'ok') hideMessage();
    if (state.offline) setConnection('connected', `Connected — sending ${fmtSeconds(sender.heldMs())} of held audio`);
    maybeBackOnline();
  } catch (err) {
    const code = err instanceof RefusedError ? err.code : undefined;
    if (code === 'too_many_sessions') showMessage('error', /** @type {Error} */ (err).message);
    const delay = resumeRetryDelay(code, attempt, state.moving);
    if (delay !== null) {
      setTimeout(() => state.socket?.connected && resume(attempt + 1), delay);
      return;
    }
    if (code === 'session_not_found' || code === 'session_ended') {
      const held = sender.heldMs();
      endLocally(
        `The server had already ended this session (it waits a few minutes for a lost connection); the audio it received is saved.${held ? ` ${fmtSeconds(held)} held in this browser could not be added to it.` : ''} Press Record to start a new recording.`,
      );
    }
  }
}

/** After a drop, once the server has everything the browser held: say so, once. */
function maybeBackOnline() {
  if (!state.offline || !state.socket?.connected || state.signedOut || state.moving || !sender.drained) return;
  state.offline = false;
  setConnection('connected', 'Connected');
  showMessage('ok', MESSAGES.back_online);
}

/** The user's other live sessions (another tab, a closed page): shown with a Stop each. */
async function refreshLiveSessions() {
  /** @type {import('./recorder-sender.js').AckOf<'session:list'> | null | undefined} */
  const res = await state.socket?.timeout(10_000).emitWithAck('session:list', {}).catch(() => null);
  if (!res?.ok) return;
  view.showLiveSessions(res.sessions.filter((s) => s.sessionId !== sender.sessionId), stopOther);
}

/**
 * @param {import('../src/realtime/events.js').LiveSessionInfo} session
 * @param {HTMLButtonElement} button
 */
async function stopOther(session, button) {
  if (isBusy(button)) return;
  setBusy(button, true);
  button.textContent = 'Saving…';
  const res = await state.socket?.timeout(120_000).emitWithAck('session:stop', { sessionId: session.sessionId }).catch(() => null);
  if (res?.ok) showMessage('ok', `The other recording was saved (${fmtClock(res.durationMs)}).`);
  else showMessage('error', `The other recording could not be stopped${res?.ok === false ? `: ${res.error.message}` : ''}.`);
  await refreshLiveSessions();
  $('record').focus();
}

// ---- recording ------------------------------------------------------------------------------------
// "Lossless audio" sends 16 kHz PCM (about ten times the bytes of Opus) instead of Opus; the choice is
// this browser's, kept across visits.
const LOSSLESS_KEY = 'arogya.lossless';
$('lossless', HTMLInputElement).checked = readPreference(LOSSLESS_KEY) === '1';
$('lossless', HTMLInputElement).addEventListener('change', (e) => {
  writePreference(LOSSLESS_KEY, /** @type {HTMLInputElement} */ (e.currentTarget).checked ? '1' : '0');
});
/** localStorage may be off (private mode, policy): the choice then lasts as long as the page. @param {string} key */
function readPreference(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
/** @param {string} key @param {string} value */
function writePreference(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* kept for this page only */
  }
}

$('record').addEventListener('click', () => {
  if (isBusy($('record'))) return; // starting or saving: the press is ignored, the focus stays here
  if (state.recording) void stopRecording();
  else void startRecording();
});

async function startRecording() {
  hideMessage();
  view.hideSaved();
  const user = state.user;
  const plan = await capturePlan({ lossless: $('lossless', HTMLInputElement).checked });
  if (!plan || !user) return showMessage('error', MESSAGES.unsupported);
  const { encoding, kind: captureKind } = plan;
  /** @type {MediaStream} */
  let stream;
  try {
    stream = await openMicrophone();
  } catch (err) {
    return showMessage('error', err instanceof Error && err.name === 'NotFoundError' ? MESSAGES.mic_missing : MESSAGES.mic_denied);
  }
  view.setButton('starting');
  try {
    if (!state.socket?.connected) throw new RefusedError({ code: 'connection_lost', message: 'offline' });
    state.early = [];
    const res = await state.socket.timeout(15_000).emitWithAck('session:start', {
      title: $('title', HTMLInputElement).value.trim() || undefined,
      specialty: /** @type {import('../src/transcription/port.js').Specialty} */ ($('specialty', HTMLSelectElement).value),
      type: /** @type {import('../src/transcription/port.js').SessionType} */ ($('type', HTMLSelectElement).value),
      audio: encoding === 'pcm_s16le' ? { encoding, sampleRate: 16000, channels: 1 } : { encoding },
    });
    if (!res.ok) throw new RefusedError(res.error);
    Object.assign(state, { encoding, captureKind, capturedMs: 0, offline: false, stopping: false });
    await sender.begin({ sessionId: res.sessionId, transcriptionId: res.transcriptionId, userId: user.id, encoding, capture: captureKind });
    for (const p of state.early ?? []) if (p.sessionId === res.sessionId) showNotice(p);
  } catch (err) {
    stream.getTracks().forEach((t) => t.stop());
    view.setButton('idle');
    const code = err instanceof RefusedError ? err.code : undefined;
    if (code === 'too_many_sessions') void refreshLiveSessions();
    const message = err instanceof Error ? err.message : String(err);
    return showMessage('error', (code && messageFor(code)) ?? (message === 'operation has timed out' ? MESSAGES.connection_lost : message));
  } finally {
    state.early = null;
  }
  view.clearTranscript();
  await beginCapture(stream);
}

/**
 * Microphone → 100 ms frames → chunks; the session (new or restored) is already in the sender.
 * @param {MediaStream} [micStream] the microphone opened by Record; a restored session opens it here
 */
async function beginCapture(micStream) {
  try {
    // MediaRecorder's stream cannot be continued after a reload: its container header went with the
    // page. PCM and the page's own Ogg pages can.
    if (!micStream && !(await canContinue(state.captureKind, state.encoding))) throw new Error('opus stream cannot restart');
    const stream = micStream ?? (await openMicrophone());
    const sessionId = sender.sessionId;
    if (state.captureKind === 'opus' && sessionId) {
      state.capture = await captureOggOpus(stream, { sessionId, nextSeq: sender.seq }, onOpusChunk, view.setLevel, () => showMessage('error', MESSAGES.encoder_failed));
    } else if (state.encoding === 'pcm_s16le') {
      state.capture = await capturePcm(stream, onFrame);
    } else {
      state.capture = captureOpus(stream, /** @type {'webm_opus' | 'ogg_opus'} */ (state.encoding), (chunk) => sender.queue(chunk), view.setLevel);
    }
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
 * @param {ArrayBuffer} pcm one 100 ms frame of 16 kHz PCM
 * @param {number} dbfs its level
 */
function onFrame(pcm, dbfs) {
  view.setLevel(dbfs);
  state.capturedMs += FRAME_MS;
  sender.pushFrame(pcm);
}

/**
 * One Ogg Opus page of the encoder's packets (200 ms).
 * @param {Uint8Array} chunk
 * @param {number} ms the audio it holds
 */
function onOpusChunk(chunk, ms) {
  state.capturedMs += ms;
  sender.queue(chunk);
}

/**
 * The timer shows the audio captured (PCM: 100 ms per frame; WebCodecs Opus: 20 ms per packet), the
 * same count the server saves as the duration, so the two agree; MediaRecorder's Opus has no frame
 * count here, so it uses the wall clock.
 */
function tick() {
  const ms = state.captureKind !== 'mediarecorder' || !state.capture ? state.capturedMs : performance.now() - state.startedAt;
  view.setElapsed(ms, state.recording);
  if (state.signedOut) view.updateRelogin(signedOutText());
  else if (state.socket && !state.socket.connected) setConnection('reconnecting', `Reconnecting… ${bufferedSeconds()}`);
}

async function stopRecording() {
  state.stopping = true;
  view.setButton('saving');
  await stopCapture();
  sender.flush();
  if (state.captureKind === 'mediarecorder') state.capturedMs = performance.now() - state.startedAt;
  tick();
  clearInterval(state.timer);
  // Everything recorded must be acknowledged before the stop. While signed out the inline login is
  // the way on (the held audio waits for it); otherwise a connection that never comes back ends the
  // wait after two minutes and the server keeps what it has.
  let deadline = Date.now() + 120_000;
  while (sender.sessionId && (!sender.drained || !state.socket?.connected) && (state.signedOut || Date.now() < deadline)) {
    if (state.signedOut) {
      view.updateRelogin(signedOutText());
      deadline = Date.now() + 120_000;
    }
    sender.pump();
    await new Promise((r) => setTimeout(r, 200));
  }
  const sessionId = sender.sessionId;
  if (!sessionId) return; // ended meanwhile (by the server, or another user logged in)
  try {
    if (!state.socket?.connected) throw new Error('no connection to the server');
    const res = await state.socket.timeout(120_000).emitWithAck('session:stop', { sessionId });
    if (!res.ok) throw new Error(res.error.message);
    endLocally(undefined);
    view.setElapsed(res.durationMs, false);
    view.showSaved(res.durationMs, res.transcriptionId);
  } catch (err) {
    endLocally(`The session could not be stopped cleanly (${err instanceof Error ? err.message : String(err)}). The audio the server received is saved; the server ends the session itself within a few minutes.`);
  }
  $('record').focus();
}

/** Stops the microphone; resolves once the last recorded audio has been queued. */
async function stopCapture() {
  const c = state.capture;
  if (!c) return;
  state.capture = null;
  await c.stop();
}

/**
 * @param {string | undefined} message
 * @param {string} [transcriptionId] the saved transcript to link to
 */
function endLocally(message, transcriptionId) {
  void stopCapture();
  clearInterval(state.timer);
  state.recording = false;
  state.moving = false;
  state.stopping = false;
  state.offline = false;
  sender.end();
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
