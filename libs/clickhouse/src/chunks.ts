// Deduplication tokens of the sink's chunks (the protocol is in ingest.ts).

/** Deduplication token of a chunk: the Kafka coordinates of its messages. */
export function chunkToken(topic: string, partition: number, first: number, last: number): string {
  return `${topic}/${partition}/${first}-${last}`;
}

const TOKEN = /^[A-Za-z0-9._\/#-]+$/;

/** A token as an SQL string literal. Tokens are built from topic names and numbers; anything else is refused. */
export function tokenLiteral(token: string): string {
  if (!TOKEN.test(token)) throw new Error(`refusing an unexpected deduplication token: ${JSON.stringify(token)}`);
  return `'${token}'`;
}
