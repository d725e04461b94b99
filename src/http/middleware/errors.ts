import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, toAppError } from '../../lib/app-error.js';
import type { Logger } from '../../lib/logger.js';

/** Unknown routes under /api get a JSON 404 in the standard error shape. */
export const notFound: RequestHandler = (_req, _res, next) => next(new AppError('not_found'));

/**
 * The one place errors become HTTP responses: `{ error: { code, message } }` with the status from the
 * error table. Never a stack trace; internal errors are logged with their stack, not their payload.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const appError = fromBodyParser(err) ?? toAppError(err);
    if (appError.code === 'internal_error') {
      logger.error({ err: appError.cause ?? err, method: req.method, route: req.route?.path ?? req.path }, 'request_failed');
    } else if (appError.code === 'database_unavailable') {
      logger.warn({ method: req.method, route: req.route?.path ?? req.path }, 'request_database_unavailable');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (appError.status === 429 && appError.options.details?.retryAfterSeconds) {
      res.setHeader('Retry-After', String(appError.options.details.retryAfterSeconds));
    }
    res.status(appError.status).json(appError.toJSON());
  };
}

function fromBodyParser(err: unknown): AppError | undefined {
  // An AppError has a `status` too (400 for invalid_payload): it must keep its own message, which
  // names the fields, not become "The request URL is not valid." (issue 19).
  if (err instanceof AppError) return undefined;
  const type = (err as { type?: string } | null)?.type;
  if (type === 'entity.parse.failed') return new AppError('invalid_json');
  if (type === 'entity.too.large') return new AppError('payload_too_large');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new AppError('invalid_payload', 'Unsupported body encoding.');
  if (type === 'request.aborted') return new AppError('invalid_payload', 'The request was aborted.');
  // The router's own client errors (a path parameter with broken percent-encoding is a URIError
  // with status 400): the client's fault, not a 500 with a stack trace in the log.
  const status = (err as { status?: unknown } | null)?.status;
  if (err instanceof URIError || status === 400) return new AppError('invalid_payload', 'The request URL is not valid.');
  return undefined;
}
