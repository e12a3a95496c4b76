export type { Transport, Producer, Consumer, ConsumerOptions, BatchHandler, InMessage, OutMessage, Produced, TransformHandler, TransactionalOptions, TransactionalConsumer } from './transport.ts';
export { MemoryTransport, partitionFor } from './memory.ts';
export { PermanentError, isPermanent, errorMessage, retry } from './errors.ts';
export { dlqMessage, DlqHeaders } from './dlq.ts';
export { dlqTopic, topicNames, allTopics } from './topics.ts';
export type { TopicNames } from './topics.ts';
export { Lifecycle, RunState, once } from './component.ts';
export type { Component, Stage } from './component.ts';
export { caughtUp } from './lag.ts';
