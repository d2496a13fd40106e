import { SignalbusError } from '../core/index.js';

/** Wrong command-line usage: one clear line and exit code 2. */
export class UsageError extends SignalbusError { readonly code = 'SB_ERR_CLI_USAGE'; }

/** A port the command must listen on is taken by another process. */
export class PortInUseError extends SignalbusError { readonly code = 'SB_ERR_CLI_PORT_IN_USE'; }

/** The first error in a cause chain that carries `code` (Node's system errors sit under ours). */
function findCode(err: unknown, code: string): (Error & { address?: string; port?: number }) | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return e;
  }
  return undefined;
}

/**
 * What the CLI prints instead of a bare Node or parseArgs error: an unknown option becomes a
 * UsageError naming the command's --help, a port in use a PortInUseError saying how to move it.
 * `portHint(port)` says which option or URL moves that port for this command.
 */
export function explainCliError(err: unknown, command: string | undefined, portHint: (port: number | undefined) => string): unknown {
  const parse = err as { code?: string; message?: string };
  if (typeof parse?.code === 'string' && parse.code.startsWith('ERR_PARSE_ARGS')) {
    const option = /'(-[^']*)'/.exec(parse.message ?? '')?.[1];
    const help = command ? `signalbus ${command} --help` : 'signalbus --help';
    const what = parse.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option ? `unknown option ${option}`
      : parse.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option ? `option ${option} needs a value`
      : (parse.message ?? 'bad arguments').split('. ')[0]!;
    return new UsageError(`${what}${command ? ` for signalbus ${command}` : ''}; see ${help}`, { cause: err });
  }
  const inUse = findCode(err, 'EADDRINUSE');
  if (inUse) {
    const where = inUse.port !== undefined ? `${inUse.address ?? '127.0.0.1'}:${inUse.port}` : 'the port';
    return new PortInUseError(`${where} is already in use by another process; ${portHint(inUse.port)}`, { cause: err, details: { address: inUse.address, port: inUse.port } });
  }
  return err;
}
