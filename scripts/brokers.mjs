// Brokers the test suites talk to. Each is checked on its port; one that is installed but not
// running is started with the same command the machine image uses. Nothing is killed here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

export const BROKERS = [
  { name: 'nats', port: 4222, binary: '/usr/sbin/nats-server',
    start: ['start-stop-daemon', '--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--', '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log'] },
  { name: 'rabbitmq', port: 5672, binary: '/usr/sbin/rabbitmq-server', start: ['rabbitmq-server', '-detached'], wait: 60_000 },
  { name: 'mosquitto', port: 1883, binary: '/usr/sbin/mosquitto', start: ['mosquitto', '-d', '-c', '/etc/mosquitto/mosquitto.conf'] },
  { name: 'redis', port: 6379, binary: '/usr/bin/redis-server',
    start: ['redis-server', '--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'] },
  // The sink's tests (database `test`, trust auth); the cluster's version is whatever is installed.
  { name: 'postgresql', port: 5432, binary: '/usr/bin/pg_ctlcluster',
    start: ['sh', '-c', 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'], wait: 30_000 },
];

export function portOpen(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function ensureBrokers() {
  for (const b of BROKERS) {
    if (await portOpen(b.port)) continue;
    if (!existsSync(b.binary)) { console.warn(`[brokers] ${b.name} is not running and not installed (${b.binary})`); continue; }
    console.warn(`[brokers] ${b.name} is not running; starting it`);
    spawnSync(b.start[0], b.start.slice(1), { stdio: 'inherit' });
    const deadline = Date.now() + (b.wait ?? 15_000);
    while (!(await portOpen(b.port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    console.warn(`[brokers] ${b.name} ${(await portOpen(b.port)) ? 'is up' : 'did not come up'}`);
  }
}
