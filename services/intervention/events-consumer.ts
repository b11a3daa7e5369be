// Intervention stage input: the "events" topic. Each event becomes an idempotent job; the
// topic offsets are committed once the jobs are queued (the queue owns them from there).

import type { AnomalyEvent } from '../../shared/model/index.js';
import type { Bus, BusBatch, Subscription } from '../../shared/ports/index.js';
import type { InterventionLogger } from './intervention-service.js';

const textDecoder = new TextDecoder();

export interface EventsConsumerDeps {
  bus: Bus;
  topic: string;
  handle(event: AnomalyEvent): Promise<void>;
  logger: InterventionLogger;
  /** Called for a message that is not an event (counted by the caller). */
  onBadMessage?(): void;
}

/** Consumer group of the intervention stage on the events topic (the Kafka adapter prepends kafka.groupIdPrefix). */
export const EVENTS_GROUP = 'foreshock-intervention';

export class EventsConsumer {
  private subscription: Subscription | null = null;

  constructor(private readonly deps: EventsConsumerDeps) {}

  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribe({
      groupId: EVENTS_GROUP,
      topics: [this.deps.topic],
      eachBatch: (batch) => this.handleBatch(batch),
    });
  }

  private async handleBatch(batch: BusBatch): Promise<void> {
    for (const m of batch.messages) {
      let event: AnomalyEvent;
      try {
        event = JSON.parse(textDecoder.decode(m.value)) as AnomalyEvent;
        if (typeof event.id !== 'string' || typeof event.kind !== 'string') throw new Error('not an AnomalyEvent');
      } catch (err) {
        this.deps.onBadMessage?.();
        this.deps.logger.warn({ partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'event message dropped');
        continue;
      }
      // A throw here (queue unavailable) redelivers the batch; ids make re-adding harmless.
      await this.deps.handle(event);
    }
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = null;
  }
}
