/**
 * Connection timers the load balancer in front must agree with (infra/test/load-balancer.test.ts
 * checks the stack against these). Dependency-free: the infra package reads it too.
 */

/**
 * Node keeps an idle HTTP keep-alive connection this long. It must exceed the ALB's idle timeout,
 * so the ALB always closes an idle connection first; otherwise the ALB may send a request on a
 * connection Node is closing at that instant, and the client gets a 502.
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Must exceed the keep-alive timeout (Node's rule), so a slow header never outlives it. */
export const HTTP_HEADERS_TIMEOUT_MS = 66_000;
/** Socket.IO pings every client this often: an idle WebSocket carries a frame at least this often. */
export const SOCKET_IO_PING_INTERVAL_MS = 20_000;
/** A client that does not answer a ping within this is disconnected. */
export const SOCKET_IO_PING_TIMEOUT_MS = 20_000;
