/**
 * The IoT example's filter ("drop physically impossible readings"), written as a decorated class
 * instead of a pipeline config. It compiles to the same kind of definition `defineNanoservice`
 * and `createFilterService` make, and runs on any transport.
 */
import 'reflect-metadata';
import { Nanoservice, Subscribe, type Envelope, type HandlerContext } from '../../core/index.js';
import { compilePredicate, forwardOptions } from '../../nanoservices/filter/index.js';

@Nanoservice({ name: 'filter', version: '1.0.0' })
export class PlausibleReadingsFilter {
  // Compiled once, like the data-configured filter does.
  private readonly plausible = compilePredicate({ path: 'data.temperature', gte: -50, lte: 150 });

  constructor(private readonly output = 'sensor.valid') {}

  @Subscribe('sensor.reading.>', { group: 'filter' })
  async onReading(message: Envelope<{ deviceId: string; temperature: number }>, ctx: HandlerContext): Promise<void> {
    const query = { deviceId: message.data?.deviceId ?? 'unknown' };
    if (!this.plausible(message)) {
      ctx.metric('rejected', 'dropped', { context: message.type, query });
      return;
    }
    await ctx.publish(`${this.output}.${query.deviceId}`, message.data, forwardOptions(message));
    ctx.metric('passed', 'forwarded', { context: message.type, query });
  }
}
