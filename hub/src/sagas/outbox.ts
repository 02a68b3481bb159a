import type pg from "pg";
import type { Logger } from "pino";
import type { Queryable } from "../db/queryable.js";
import type { DeadLetterSink } from "../dead-letters/service.js";
import { beginWithAuditContextSql } from "../platform/audit-context.js";

/** An event between domains, as its handler receives it. */
export interface OutboxEvent {
  id: string;
  topic: string;
  key: string | null;
  payload: unknown;
  sagaId: string | null;
}

/**
 * Handles one event in the transaction that marks it delivered: what it writes and the delivery
 * commit together, so an event's effect happens once. Throwing leaves it for a later try.
 */
export type OutboxHandler = (tx: Queryable, event: OutboxEvent) => Promise<void>;

/** Tries of a failing event before it goes to the dead letter queue. */
export const OUTBOX_MAX_ATTEMPTS = 10;

/**
 * Writes an event in the caller's transaction (the change that causes it): it exists exactly
 * when the change committed.
 */
export async function publish(
  tx: Queryable,
  event: { topic: string; key?: string; payload: unknown; sagaId?: string },
): Promise<void> {
  await tx.query("INSERT INTO saga.outbox (topic, key, payload, saga_id) VALUES ($1, $2, $3, $4)", [
    event.topic,
    event.key ?? null,
    JSON.stringify(event.payload),
    event.sagaId ?? null,
  ]);
}

/**
 * Delivers up to `limit` due events of the topics it has handlers for (a topic only a newer hub
 * knows waits for it) in order of writing, each to the handler of its topic, under
 * FOR UPDATE SKIP LOCKED (processes sharing the database never deliver one event twice). An event
 * whose handler fails is tried again after a backoff (5 s × attempts); after
 * `OUTBOX_MAX_ATTEMPTS` it is dead-lettered and no longer tried. Returns the events delivered.
 * `connect` gives a connection whose errors are handled (the coordinator's).
 */
export async function relayOutbox(
  connect: () => Promise<pg.PoolClient>,
  handlers: ReadonlyMap<string, OutboxHandler>,
  options: { log: Logger; deadLetters?: DeadLetterSink; limit?: number },
): Promise<number> {
  const client = await connect();
  const failed: { event: OutboxEvent; err: unknown }[] = [];
  let delivered = 0;
  try {
    await client.query(beginWithAuditContextSql(client, { actorId: "system:outbox", tags: ["outbox"] }));
    const { rows } = await client.query(
      `SELECT id::text, topic, key, payload, saga_id, attempts FROM saga.outbox
       WHERE published_at IS NULL AND available_at <= now() AND attempts < ${OUTBOX_MAX_ATTEMPTS} AND topic = ANY($2)
       ORDER BY available_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [options.limit ?? 100, [...handlers.keys()]],
    );
    for (const row of rows) {
      const event: OutboxEvent = {
        id: row.id,
        topic: row.topic,
        key: row.key,
        payload: row.payload,
        sagaId: row.saga_id,
      };
      const handler = handlers.get(event.topic) as OutboxHandler;
      await client.query("SAVEPOINT outbox_event");
      try {
        await handler(client, event);
        await client.query("RELEASE SAVEPOINT outbox_event");
        await client.query("UPDATE saga.outbox SET published_at = now(), attempts = attempts + 1 WHERE id = $1", [
          event.id,
        ]);
        delivered++;
      } catch (err) {
        await client.query("ROLLBACK TO SAVEPOINT outbox_event");
        const e = err as { message?: string; code?: string };
        await client.query(
          `UPDATE saga.outbox SET attempts = attempts + 1, error = $2,
             available_at = now() + (attempts + 1) * interval '5 seconds' WHERE id = $1`,
          [event.id, { message: String(e?.message ?? err).slice(0, 2000), code: e?.code ?? null }],
        );
        if (row.attempts + 1 >= OUTBOX_MAX_ATTEMPTS) failed.push({ event, err });
        else
          options.log.warn(
            { err, event: event.id, topic: event.topic },
            "an outbox event's handler failed; tried again later",
          );
      }
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  for (const { event, err } of failed) {
    options.log.error({ err, event: event.id, topic: event.topic }, "an outbox event keeps failing: dead-lettered");
    await options.deadLetters?.deadLetter("outbox", event, err);
  }
  return delivered;
}
