// The embedded bus against the shared Bus conformance suite (KafkaBus runs the same suite in
// test/adapters/kafka-bus.test.ts).

import { busConformance, embeddedBusConformance } from '../conformance/index.js';
import { MemoryBus } from './memory-bus.js';

busConformance('memory', async () => new MemoryBus({ retryBackoffMs: 20 }), { timeoutMs: 5_000 }, { shared: false });

embeddedBusConformance('memory', async (options) => new MemoryBus(options));
