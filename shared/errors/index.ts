// Coded errors shared by every stage: a stable `code` for logs and metrics, an HTTP status
// for the edge. Created once here, thrown everywhere; never throw strings.

export class ForeshockError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** Input that can never succeed as sent (HTTP 400; remote-write senders must not retry). */
export class BadRequestError extends ForeshockError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 400, options);
  }
}

/** Body larger than the configured limit (HTTP 413). */
export class PayloadTooLargeError extends ForeshockError {
  constructor(code: string, message: string) {
    super(code, message, 413);
  }
}

/** Unsupported media type or encoding (HTTP 415). */
export class UnsupportedMediaTypeError extends ForeshockError {
  constructor(code: string, message: string) {
    super(code, message, 415);
  }
}

/** Not found (HTTP 404). */
export class NotFoundError extends ForeshockError {
  constructor(code: string, message: string) {
    super(code, message, 404);
  }
}

/** A retry could succeed later: back-pressure, a dependency down (HTTP 503 + Retry-After). */
export class UnavailableError extends ForeshockError {
  readonly retryAfterS: number;
  constructor(code: string, message: string, retryAfterS = 5) {
    super(code, message, 503);
    this.retryAfterS = retryAfterS;
  }
}

/** Invalid configuration: names the key and why. Stops start-up. */
export class ConfigError extends ForeshockError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('FS_CONFIG', `${key}: ${message}`, 500);
    this.key = key;
  }
}
