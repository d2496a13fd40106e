/**
 * NestJS 12 microservices on the same NATS server, as the peers-nestjs-* scenarios run it: a
 * Nest microservice (NestFactory.createMicroservice, Transport.NATS) whose controller has an
 * @EventPattern and a @MessagePattern handler, and a ClientNats (the ClientProxy for NATS)
 * calling it with emit() and send(). Default serializer and deserializer (the JSON packet
 * `{pattern, data[, id]}` as the body, no NATS headers), no queue group, logger off,
 * gracefulShutdown off. Subjects are new per run, so an earlier run's subscriptions never answer.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { loadPackage, tryLoadPackage } from '@nestjs/common/internal';
import { NestFactory } from '@nestjs/core';
import { ClientNats, EventPattern, MessagePattern, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import * as nats from 'nats';
import { randomUUID } from 'node:crypto';
import { lastValueFrom, timeout } from 'rxjs';
import { assertEchoes, checked, type PeerSession } from './session.js';

const NATS_V3 = '@nats-io/transport-node';
let nestNatsClient: Promise<'nats.js v3' | 'nats 2.x'> | undefined;

/**
 * NestJS 12's NATS transport loads nats.js v3 (`@nats-io/transport-node`, a dev dependency of
 * this project for the bench). When it is missing, Nest's package cache is seeded with the nats 2.x client
 * that signalbus and Moleculer use: Nest calls only connect, createInbox and headers on the module
 * and subscribe/publish/respond/json/status on the connection, which nats 2.29 has with the same
 * shapes. Returns which one Nest runs on.
 */
export function natsClientForNest(): Promise<'nats.js v3' | 'nats 2.x'> {
  // Once per process: after the seeding, Nest's cache answers for v3 too.
  nestNatsClient ??= tryLoadPackage(NATS_V3).then(async (v3) => {
    if (v3) return 'nats.js v3' as const;
    await loadPackage(NATS_V3, 'the bench', async () => nats);
    return 'nats 2.x' as const;
  });
  return nestNatsClient;
}

/** A module per run: the decorators need the run's own subjects. */
function benchModule(events: string, echo: string, onEvent: () => void): new () => object {
  @Controller()
  class BenchController {
    @EventPattern(events)
    reading(_data: unknown): void { onEvent(); }

    @MessagePattern(echo)
    echo(data: unknown): unknown { return data; }
  }
  @Module({ controllers: [BenchController] })
  class BenchModule {}
  return BenchModule;
}

export async function openNest(server: string): Promise<PeerSession> {
  await natsClientForNest();
  const id = randomUUID().slice(0, 8);
  const events = `bench.peers.nest.${id}.reading`;
  const echo = `bench.peers.nest.${id}.echo`;
  let got = 0;
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(benchModule(events, echo, () => { got++; }), {
    transport: Transport.NATS, options: { servers: [server] }, logger: false, abortOnError: false,
  });
  const client = new ClientNats({ servers: [server] });
  const session: PeerSession = {
    // emit() is hot: it publishes without a subscriber; its Observable completes once the
    // packet is handed to the NATS client (no value, hence the default).
    emit: (data) => lastValueFrom(client.emit(events, data), { defaultValue: undefined }),
    received: () => got,
    // rxjs timeout(): the 5 s every other side of these scenarios arms per request too.
    call: (data) => lastValueFrom(client.send(echo, data).pipe(timeout(5000))),
    close: async () => { await client.close(); await app.close(); },
  };
  return checked(session, async () => {
    await app.listen();
    await client.connect();
    const probe = { probe: id };
    assertEchoes('nestjs', probe, await lastValueFrom(client.send(echo, probe)));
  });
}
