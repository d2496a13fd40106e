import scenarios from './scenarios/nats.js';
const s = scenarios.find((x) => x.name === 'nats-pubsub')!;
let total = 0;
for (let i = 0; i < 3; i++) { const m = await s.run(); total += m.msgs / m.seconds; }
console.log(Math.round(total / 3));
process.exit(0);
