import { ensureTopics } from '../clients/kafka.ts';
import type { StackEndpoints } from '../base/stack.ts';
import type { Step } from '../base/step.ts';

/** Shared by both targets: creates the topics declared in src/contract/pipeline.json. */
export function createKafkaTopicsStep(endpoints: () => Promise<StackEndpoints>): Step {
  return {
    name: 'Create Kafka topics',
    async execute() {
      const created = await ensureTopics((await endpoints()).kafka);
      return created.length ? `created ${created.join(', ')}` : 'all topics exist';
    },
  };
}
