import { expect } from 'chai';
import { parseArgs } from 'node:util';
import { explainCliError, jsonErrorLine } from '../../cli/errors.js';

/** parseArgs' own error for `args`, as the commands get it. */
function parseError(args: string[]): unknown {
  try { parseArgs({ args, allowPositionals: true, options: { count: { type: 'string' }, duration: { type: 'string' } } }); } catch (err) { return err; }
  throw new Error(`parseArgs accepted ${args.join(' ')}`);
}

const noHint = () => 'no hint';

describe('cli errors (unit)', () => {
  it('cli errors - jsonErrorLine keeps JSON.parse\'s message on one line', () => {
    let cause: unknown;
    try { JSON.parse('{\n "a": x\r\n}\n'); } catch (err) { cause = err; }
    expect((cause as Error).message).to.include('\n'); // V8 quotes the input, line breaks included
    const line = jsonErrorLine(cause);
    expect(line).not.to.match(/[\r\n]/);
    expect(line).to.include('"a": x').and.include('\\n');
  });

  it('cli errors - a value starting with "-" is an invalid value saying what the option takes, not a missing one', () => {
    const args = ['memory://x', 'a.>', '--count', '-1'];
    const err = explainCliError(parseError(args), 'sub', noHint, args) as Error & { code: string };
    expect(err.code).to.equal('SB_ERR_CLI_USAGE');
    expect(err.message).to.include('invalid value "-1" for --count of signalbus sub: must be a positive integer').and.not.include('needs a value');
    const duration = ['x.json', '--duration', '-5s'];
    expect((explainCliError(parseError(duration), 'run', noHint, duration) as Error).message).to.include('must be a duration');
    const missing = ['memory://x', 'a.>', '--count'];
    expect((explainCliError(parseError(missing), 'sub', noHint, missing) as Error).message).to.include('option --count needs a value for signalbus sub');
  });

  it('cli errors - an address not of this machine and an unresolvable host become SB_ERR_OPTIONS_INVALID', () => {
    const notLocal = Object.assign(new Error('listen EADDRNOTAVAIL: address not available 10.255.255.1:24601'), { code: 'EADDRNOTAVAIL', address: '10.255.255.1', port: 24601 });
    const a = explainCliError(notLocal, 'sub', noHint) as Error & { code: string };
    expect(a.code).to.equal('SB_ERR_OPTIONS_INVALID');
    expect(a.message).to.include('10.255.255.1:24601');
    const unknown = Object.assign(new Error('getaddrinfo ENOTFOUND example.invalid'), { code: 'ENOTFOUND', hostname: 'example.invalid' });
    const b = explainCliError(unknown, 'sub', noHint) as Error & { code: string };
    expect(b.code).to.equal('SB_ERR_OPTIONS_INVALID');
    expect(b.message).to.include('example.invalid');
  });
});
