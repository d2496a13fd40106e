const [file, name, side] = process.argv.slice(2);
const mod = await import(`./scenarios/${file}.ts`);
const s = mod.default.find((x: { name: string }) => x.name === name);
const m = side === 'raw' ? await s.raw() : await s.run();
console.log(side, name, Math.round(m.msgs / m.seconds), 'msg/s', m.p50_us ?? '', m.p99_us ?? '');
process.exit(0);
