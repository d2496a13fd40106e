const [file, name, side] = process.argv.slice(2);
const mod = await import(`./scenarios/${file}.ts`);
const s = mod.default.find((x: { name: string }) => x.name === name);
for (let k = 0; k < 4; k++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const m = side === 'raw' ? await s.raw() : await s.run();
  const c = process.cpuUsage(c0); const wall = (performance.now() - t0) * 1000;
  console.log(side, name, Math.round(m.msgs / m.seconds), 'msg/s', 'cpu/wall', ((c.user + c.system) / wall).toFixed(2), 'sys', (c.system / wall).toFixed(2));
}
process.exit(0);
