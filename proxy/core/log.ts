/**
 * Structured logging (pino). Log lines are built from named fields we choose
 * — ids, routes, statuses, reasons — never from request headers or bodies.
 * As a second line of defence anything shaped like a key is masked.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const SECRET_SHAPES = /sk-[A-Za-z0-9_-]{8,}/g;

export function scrub(s: string): string {
  return s.replace(SECRET_SHAPES, (m) => `${m.slice(0, 3)}…${m.slice(-4)}`);
}

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream | number } = {}): Logger {
  const level = opts.level ?? process.env.SKILLBOSS_SIDECAR_LOG_LEVEL ?? 'info';
  const hooks = {
    logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void) {
      method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)));
    },
  };
  const serializers = {
    err: (e: unknown) => {
      if (!(e instanceof Error)) return scrub(String(e));
      return { type: e.name, message: scrub(e.message), code: (e as { code?: unknown }).code };
    },
  };
  if (opts.pretty) {
    return pino({
      level,
      hooks,
      serializers,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', destination: 2 } },
    });
  }
  return pino({ level, hooks, serializers }, pino.destination(typeof opts.destination === 'number' ? opts.destination : 2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
