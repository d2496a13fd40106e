export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** A structured logger: one JSON object per line. `child` adds fixed fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Lowest level written. Default from SIGNALBUS_LOG_LEVEL, else `warn`. */
  level?: LogLevel;
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
}

/**
 * @example const log = createLogger({ level: 'info' }).child({ service: 'filter' }); log.info('started');
 */
export function createLogger(options: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const envLevel = process.env.SIGNALBUS_LOG_LEVEL as LogLevel | undefined;
  const level = options.level ?? (envLevel && envLevel in RANK ? envLevel : 'warn');
  const min = RANK[level];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base, ...fields };
    if (record.err instanceof Error) {
      const e = record.err as Error & { code?: string };
      record.err = { name: e.name, code: e.code, message: e.message };
    }
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, write }, { ...base, ...fields }),
  };
}
