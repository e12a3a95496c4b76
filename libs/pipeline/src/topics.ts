import { Topics } from '@tollgate/schema';

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

export interface TopicNames {
  raw: string;
  enriched: string;
  anomalies: string;
}

/** The topic names under a prefix (TOLLGATE_TOPIC_PREFIX), e.g. `test-1.flows.raw.v1`. */
export function topicNames(prefix: string): TopicNames {
  const p = prefix ? (prefix.endsWith('.') ? prefix : `${prefix}.`) : '';
  return { raw: p + Topics.raw, enriched: p + Topics.enriched, anomalies: p + Topics.anomalies };
}

/** Every topic Tollgate uses, with the DLQs. */
export function allTopics(t: TopicNames): string[] {
  return [t.raw, t.enriched, t.anomalies].flatMap((x) => [x, dlqTopic(x)]);
}
