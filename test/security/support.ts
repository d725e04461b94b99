import type express from 'express';
import { io as connect, type Socket } from 'socket.io-client';

/** A raw socket.io-client with the given handshake headers; never reconnects. */
export function openSocket(url: string, headers: Record<string, string>, transports: Array<'websocket' | 'polling'> = ['websocket'], timeoutMs = 5000): Socket {
  return connect(url, { extraHeaders: headers, transports, reconnection: false, forceNew: true, timeout: timeoutMs });
}

/** How the handshake ended: connected, or the `connect_error` message. */
export function handshake(s: Socket): Promise<{ connected: true } | { connected: false; message: string }> {
  return new Promise((resolve) => {
    if (s.connected) return resolve({ connected: true });
    s.once('connect', () => resolve({ connected: true }));
    s.once('connect_error', (err) => resolve({ connected: false, message: err.message }));
  });
}

/** Resolves with the disconnect reason, or 'still connected' after `ms`. */
export function disconnected(s: Socket, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    if (!s.connected) return resolve('not connected');
    const timer = setTimeout(() => resolve('still connected'), ms);
    s.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

export interface RouteInfo {
  method: string;
  /** Express path pattern, e.g. `/api/admin/users/:id`. */
  path: string;
}

type Layer = {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
};

/**
 * Every route registered on the app, read from Express's router stack (routers nested with
 * `use(path, router)` included), so a route added later is covered without editing the test.
 */
export function listRoutes(app: express.Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: `${prefix}${layer.route.path}` });
        }
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, `${prefix}${mount}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}

/** Fills `:param` placeholders. */
export function fillPath(pattern: string, params: Record<string, string>): string {
  return pattern.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(params[name] ?? '00000000-0000-4000-8000-000000000000'));
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
