import { expect } from 'chai';
import fc from 'fast-check';
import { registerTransport, splitServerList, transportFromUrl, type Transport } from '../../core/index.js';
import { natsOptionsFromUrl, NatsTransport } from '../../transports/nats/index.js';

const codeOf = (f: () => unknown): string | undefined => { try { f(); } catch (e) { return (e as { code?: string }).code; } return undefined; };

describe('server list', () => {
  it('server list - splits the authority into the first host and a servers parameter', () => {
    const { url, servers } = splitServerList('nats://bob:s%40cret@127.0.0.1:14222,127.0.0.1:14223,[::1]:14224/p?jetstream=1&stream=X#f');
    expect(url.protocol).to.equal('nats:');
    expect([url.username, url.password, url.hostname, url.port, url.pathname, url.hash]).to.deep.equal(['bob', 's%40cret', '127.0.0.1', '14222', '/p', '#f']);
    expect(url.searchParams.get('jetstream')).to.equal('1');
    expect(url.searchParams.get('stream')).to.equal('X');
    expect(url.searchParams.get('servers')).to.equal('127.0.0.1:14223,[::1]:14224');
    expect(servers).to.deep.equal(['nats://bob:s%40cret@127.0.0.1:14222', 'nats://bob:s%40cret@127.0.0.1:14223', 'nats://bob:s%40cret@[::1]:14224']);
  });

  it('server list - keeps a single-host URL as it is and adds the servers it names', () => {
    expect(splitServerList('nats://127.0.0.1:4222').url.href).to.equal('nats://127.0.0.1:4222');
    expect(splitServerList('nats://127.0.0.1:4222').servers).to.deep.equal(['nats://127.0.0.1:4222']);
    expect(splitServerList('memory://').servers).to.deep.equal([]);
    const both = splitServerList('nats://h1:1,h2:2?servers=h3:3,tls://h4:4');
    expect(both.url.searchParams.get('servers')).to.equal('h2:2,h3:3,tls://h4:4');
    expect(both.servers).to.deep.equal(['nats://h1:1', 'nats://h2:2', 'nats://h3:3', 'tls://h4:4']);
  });

  it('server list - rejects an empty host or a bad port, naming the URL without its password', () => {
    for (const bad of ['nats://h1:4222,,h3:4222', 'nats://h1:4222,', 'nats://,h2:1', 'nats://h1:4222,h2:99999', 'nats://h1:4222,h2:0', 'nats://h1,h2:x']) {
      expect(codeOf(() => splitServerList(bad)), bad).to.equal('SB_ERR_OPTIONS_INVALID');
    }
    try { splitServerList('nats://u:topsecret@h1:1,h2:0'); expect.fail('accepted'); } catch (e) {
      expect((e as { details: { url: string } }).details.url).to.equal('nats://u:***@h1:1,h2:0');
      expect((e as Error).message).to.not.contain('topsecret');
    }
    expect(codeOf(() => splitServerList('not a url'))).to.equal('SB_ERR_TRANSPORT_UNKNOWN');
  });

  it('server list - round-trips generated host lists, credentials and query parameters', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    const host = fc.oneof(
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
      fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.')),
      fc.constantFrom('[::1]', '[fe80::1]', '[2001:db8::7]'),
    );
    const server = fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
      .map(([h, p]) => (p === undefined ? h : `${h}:${p}`));
    const word = fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/);
    const credentials = fc.option(fc.tuple(word, fc.option(fc.string({ maxLength: 12 }), { nil: undefined })), { nil: undefined });
    const query = fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/).filter((k) => k !== 'servers'), fc.string({ maxLength: 12 }), { maxKeys: 4 });
    fc.assert(fc.property(fc.array(server, { minLength: 2, maxLength: 5 }), credentials, query, (hosts, creds, params) => {
      const userinfo = creds === undefined ? '' : `${encodeURIComponent(creds[0])}${creds[1] === undefined ? '' : `:${encodeURIComponent(creds[1])}`}@`;
      const search = new URLSearchParams(params).toString();
      const { url, servers } = splitServerList(`nats://${userinfo}${hosts.join(',')}${search ? `?${search}` : ''}`);
      const first = new URL(`nats://${hosts[0]}`);
      expect(url.hostname).to.equal(first.hostname);
      expect(url.port).to.equal(first.port);
      expect(decodeURIComponent(url.username)).to.equal(creds?.[0] ?? '');
      expect(decodeURIComponent(url.password)).to.equal(creds?.[1] ?? '');
      for (const [k, v] of Object.entries(params)) expect(url.searchParams.get(k), k).to.equal(v);
      expect(url.searchParams.get('servers')!.split(',')).to.deep.equal(hosts.slice(1));
      expect(servers).to.deep.equal(hosts.map((h) => `nats://${userinfo}${h}`));
      // Each listed server is a URL on its own, with the credentials.
      for (const [i, s] of servers.entries()) {
        const each = new URL(s);
        expect(each.host, s).to.equal(new URL(`nats://${hosts[i]}`).host);
        expect(decodeURIComponent(each.username)).to.equal(creds?.[0] ?? '');
      }
    }), { numRuns: 300 });
  });

  it('server list - transportFromUrl hands the factory the first host and the rest in servers=', async () => {
    let seen: URL | undefined;
    registerTransport('sltest', (url) => { seen = url; return {} as Transport; });
    await transportFromUrl('sltest://a:1,b:2?x=1');
    expect([seen!.host, seen!.searchParams.get('servers'), seen!.searchParams.get('x')]).to.deep.equal(['a:1', 'b:2', '1']);
    const err = await transportFromUrl('sltest://a:1,:2').then(() => undefined, (e: { code: string }) => e.code);
    expect(err).to.equal('SB_ERR_OPTIONS_INVALID');
  });

  it('server list - a nats URL with a list gives NatsTransport every server and the credentials once', async () => {
    await import('../../transports/nats/index.js');
    const t = await transportFromUrl('nats://bob:pw@127.0.0.1:14222,127.0.0.1:14223,127.0.0.1:14224?jetstream=1&stream=X') as NatsTransport;
    expect(t).to.be.instanceOf(NatsTransport);
    expect(t.options.servers).to.deep.equal(['nats://127.0.0.1:14222', 'nats://127.0.0.1:14223', 'nats://127.0.0.1:14224']);
    expect([t.options.user, t.options.pass, t.options.jetstream?.stream]).to.deep.equal(['bob', 'pw', 'X']);
    const tls = natsOptionsFromUrl(splitServerList('tls://h1:1,h2:2').url);
    expect(tls.servers).to.deep.equal(['tls://h1:1', 'tls://h2:2']);
  });
});
