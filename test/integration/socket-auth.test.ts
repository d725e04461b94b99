import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queryDb, startTestService, type TestService } from '../support/service.js';

let t: TestService;
const sockets: Socket[] = [];

beforeAll(async () => {
  t = await startTestService();
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(() => t?.close());

function open(headers: Record<string, string>, transports: Array<'websocket' | 'polling'> = ['websocket']): Socket {
  const s = connect(t.url, { extraHeaders: headers, transports, reconnection: false, forceNew: true, timeout: 5000 });
  sockets.push(s);
  return s;
}

function outcome(s: Socket): Promise<{ connected: true } | { connected: false; message: string }> {
  return new Promise((resolve) => {
    s.once('connect', () => resolve({ connected: true }));
    s.once('connect_error', (err) => resolve({ connected: false, message: err.message }));
  });
}

describe('Socket.IO handshake', () => {
  it('refuses a connection without a session with connect_error "unauthorized"', async () => {
    expect(await outcome(open({}))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it('refuses a forged session cookie', async () => {
    expect(await outcome(open({ cookie: 'arogya.sid=s%3Aforged.signature' }))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it.each([['websocket'], ['polling']] as const)('accepts the session cookie of a logged-in user over %s', async (transport) => {
    const { http } = await t.loggedIn('clinician');
    expect(await outcome(open({ cookie: http.cookieHeader }, [transport]))).toEqual({ connected: true });
  });

  it('refuses a foreign Origin even with a valid session', async () => {
    const { http } = await t.loggedIn('clinician');
    const result = await outcome(open({ cookie: http.cookieHeader, origin: 'https://evil.example' }, ['polling']));
    expect(result.connected).toBe(false);
  });

  it('refuses the socket of a disabled user', async () => {
    const { http, user } = await t.loggedIn('clinician');
    await queryDb(t.databaseUrl, 'UPDATE users SET disabled_at = now() WHERE id = $1', [user.id]);
    expect(await outcome(open({ cookie: http.cookieHeader }))).toEqual({ connected: false, message: 'unauthorized' });
  });

  it('disconnects every socket of a session at logout, and refuses it afterwards', async () => {
    const { http } = await t.loggedIn('clinician');
    const cookie = http.cookieHeader;
    const a = open({ cookie });
    const b = open({ cookie }, ['polling']);
    expect(await outcome(a)).toEqual({ connected: true });
    expect(await outcome(b)).toEqual({ connected: true });
    const other = await t.loggedIn('clinician');
    const c = open({ cookie: other.http.cookieHeader });
    expect(await outcome(c)).toEqual({ connected: true });

    const gone = Promise.all([a, b].map((s) => new Promise<string>((r) => s.once('disconnect', r))));
    expect((await http.post('/api/auth/logout')).status).toBe(204);
    expect(await gone).toEqual(['io server disconnect', 'io server disconnect']);
    expect(c.connected).toBe(true); // another user's session is untouched
    expect(await outcome(open({ cookie }))).toEqual({ connected: false, message: 'unauthorized' });
  });
});
