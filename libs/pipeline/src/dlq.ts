import type { InMessage, OutMessage } from './transport.ts';
import { dlqTopic } from './topics.ts';

/** Headers a DLQ message carries beside the original bytes. */
export const DlqHeaders = {
  reason: 'tollgate-dlq-reason',
  stage: 'tollgate-dlq-stage',
  topic: 'tollgate-source-topic',
  partition: 'tollgate-source-partition',
  offset: 'tollgate-source-offset',
} as const;

/** The DLQ copy of a poison message: original key and value untouched, the reason in headers. */
export function dlqMessage(msg: InMessage, stage: string, reason: string): { topic: string; message: OutMessage } {
  return {
    topic: dlqTopic(msg.topic),
    message: {
      key: msg.key,
      value: msg.value,
      headers: {
        ...msg.headers,
        [DlqHeaders.reason]: reason.slice(0, 2000),
        [DlqHeaders.stage]: stage,
        [DlqHeaders.topic]: msg.topic,
        [DlqHeaders.partition]: String(msg.partition),
        [DlqHeaders.offset]: String(msg.offset),
      },
    },
  };
}
