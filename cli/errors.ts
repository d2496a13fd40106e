import { OptionsInvalidError, SignalbusError } from '../core/index.js';

/** Wrong command-line usage: one clear line and exit code 2. */
export class UsageError extends SignalbusError { readonly code = 'SB_ERR_CLI_USAGE'; }

/** A file the command was told to write (--junit, --out) cannot be written: exit code 1. */
export class OutputWriteError extends SignalbusError { readonly code = 'SB_ERR_CLI_OUTPUT'; }

/** `signalbus status --pipeline <name>`: no scaled pipeline of that name is running (or has run) there: exit code 1. */
export class PipelineNotFoundError extends SignalbusError { readonly code = 'SB_ERR_CLI_PIPELINE_NOT_FOUND'; }

/** A port the command must listen on is taken by another process. */
export class PortInUseError extends SignalbusError { readonly code = 'SB_ERR_CLI_PORT_IN_USE'; }

/** The first error in a cause chain that carries `code` (Node's system errors sit under ours). */
function findCode(err: unknown, code: string): (Error & { address?: string; port?: number; hostname?: string }) | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return e;
  }
  return undefined;
}

/** What the value options of the commands take, for the line about a bad one. */
const VALUE_EXPECTED: Record<string, string> = {
  '--count': 'a positive integer',
  '--duration': 'a duration like 15s, 1500ms or 2m',
  '--devices': 'an integer 1-1000',
  '--mqtt-port': 'a port number',
  '--http-port': 'a port number',
};

/**
 * What the CLI prints instead of a bare Node or parseArgs error: an unknown option becomes a
 * UsageError naming the command's --help, a port in use a PortInUseError saying how to move it,
 * an address to listen on that is not this machine's (or a host name that does not resolve) an
 * OptionsInvalidError.
 * `portHint(port)` says which option or URL moves that port for this command.
 */
export function explainCliError(err: unknown, command: string | undefined, portHint: (port: number | undefined) => string, args: string[] = []): unknown {
  const parse = err as { code?: string; message?: string };
  if (typeof parse?.code === 'string' && parse.code.startsWith('ERR_PARSE_ARGS')) {
    const option = /'(-[^']*?)(?: <value>)?'/.exec(parse.message ?? '')?.[1];
    const help = command ? `signalbus ${command} --help` : 'signalbus --help';
    // parseArgs calls a value starting with "-" ambiguous (`--count -1`): to a person it is a bad value, not a missing one.
    const given = option !== undefined && /ambiguous/.test(parse.message ?? '') ? args[args.indexOf(option) + 1] : undefined;
    const where = command ? ` for signalbus ${command}` : '';
    const what = parse.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option ? `unknown option ${option}${where}`
      : parse.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && given !== undefined
        ? `invalid value "${given}" for ${option}${command ? ` of signalbus ${command}` : ''}${VALUE_EXPECTED[option] ? `: must be ${VALUE_EXPECTED[option]}` : ''}`
      : parse.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option ? `option ${option} needs a value${where}`
      : `${(parse.message ?? 'bad arguments').split('. ')[0]!}${where}`;
    return new UsageError(`${what}; see ${help}`, { cause: err });
  }
  const inUse = findCode(err, 'EADDRINUSE');
  if (inUse) {
    const where = inUse.port !== undefined ? `${inUse.address ?? '127.0.0.1'}:${inUse.port}` : 'the port';
    return new PortInUseError(`${where} is already in use by another process; ${portHint(inUse.port)}`, { cause: err, details: { address: inUse.address, port: inUse.port } });
  }
  // Node's own errors only: a SignalbusError around them already says what failed.
  if (err instanceof SignalbusError) return err;
  const notLocal = findCode(err, 'EADDRNOTAVAIL');
  if (notLocal) {
    const where = `${notLocal.address ?? 'the address'}${notLocal.port !== undefined ? `:${notLocal.port}` : ''}`;
    return new OptionsInvalidError(`cannot listen on ${where}: not an address of this machine (EADDRNOTAVAIL); use one of its own, e.g. 127.0.0.1 or 0.0.0.0`, { cause: err, details: { address: notLocal.address, port: notLocal.port } });
  }
  const unknownHost = findCode(err, 'ENOTFOUND');
  if (unknownHost) {
    return new OptionsInvalidError(`host "${unknownHost.hostname ?? '?'}" not found (getaddrinfo ENOTFOUND)`, { cause: err, details: { host: unknownHost.hostname } });
  }
  return err;
}

/**
 * JSON.parse's message on one line: V8 quotes the start of the input, line breaks included
 * (`Unexpected token 'x', "{\n "a": x…" is not valid JSON`), which would split a CLI error line.
 * @example jsonErrorLine(cause) // Unexpected token 'x', "{\n "a": x\n}\n" is not valid JSON
 */
export function jsonErrorLine(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}
