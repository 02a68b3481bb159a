import type pg from "pg";
import type { Logger } from "pino";
import { inAuditedTransaction } from "../../platform/audit-context.js";

/** A device's state as an edge reported it changing. */
export interface DeviceStateEvent {
  edgeId: string;
  deviceId: string;
  /** The state it changed to (`fault` opens a ticket, `ok` notes the recovery). */
  to: string;
  errorCode?: string | null;
  errorMessage?: string | null;
  at: Date;
}

/** What a monitoring pass did. */
export interface MonitorResult {
  opened: number;
  /** Open tickets whose cause came back (a repeated fault, silence again). */
  repeated: number;
  recovered: number;
}

const ACTOR = { actorId: "system:monitoring", actorName: "hub monitoring", tags: ["tickets", "monitoring"] };

/** Only open tickets have a cause that blocks another (migration 0014's tickets_one_open_per_cause). */
const OPEN_CAUSE = "ON CONFLICT (cause) WHERE status NOT IN ('closed', 'cancelled')";

/** One more occurrence of an open ticket's cause: counted, and no longer recovered. */
const REPEAT = `DO UPDATE SET occurrences = erp.tickets.occurrences + 1, last_occurred_at = EXCLUDED.last_occurred_at,
  recovered_at = NULL, version = erp.tickets.version + 1, updated_at = now()`;

/**
 * Opens a ticket for each device that reported a fault — for its site and ERP device when linked
 * (by edge and device id, or the edge's gateway) — at most one open ticket per device and fault
 * code: the same fault again counts an occurrence on the open ticket. A device back to ok is
 * noted on its open fault tickets (`recoveredAt`); closing stays the office's decision.
 */
export async function recordDeviceStates(pool: pg.Pool, events: DeviceStateEvent[]): Promise<MonitorResult> {
  const result: MonitorResult = { opened: 0, repeated: 0, recovered: 0 };
  if (events.length === 0) return result;
  await inAuditedTransaction(pool, ACTOR, async (client) => {
    for (const e of events) {
      const device = `${e.edgeId}/${e.deviceId}`;
      if (e.to === "fault") {
        const code = e.errorCode || "unknown";
        const { rows } = await client.query<{ opened: boolean }>(
          `INSERT INTO erp.tickets (site_id, device_id, title, description, priority, source, cause, last_occurred_at)
           SELECT coalesce(d.site_id, g.site_id), d.id, $3, $4, 'high', 'device_fault', $5, $6
           FROM (SELECT) x
           LEFT JOIN erp.devices d ON d.edge_id = $1 AND d.device_id = $2
           LEFT JOIN erp.gateways g ON g.edge_id = $1
           ${OPEN_CAUSE} ${REPEAT}
           RETURNING (xmax = 0) AS opened`,
          [e.edgeId, e.deviceId, `Störung ${device}: ${code}`, e.errorMessage ?? null, `fault:${device}:${code}`, e.at],
        );
        if (rows[0]?.opened) result.opened++;
        else result.repeated++;
      } else if (e.to === "ok") {
        const { rowCount } = await client.query(
          `UPDATE erp.tickets SET recovered_at = $2, version = version + 1, updated_at = now()
           WHERE source = 'device_fault' AND starts_with(cause, $1) AND recovered_at IS NULL
             AND status NOT IN ('closed', 'cancelled')`,
          [`fault:${device}:`, e.at],
        );
        result.recovered += rowCount ?? 0;
      }
    }
  });
  return result;
}

/**
 * Opens a ticket for every edge that delivered nothing for `silenceMs`, and for every linked
 * device of a reporting edge without a good reading for as long; notes the recovery of those that
 * report again. One pass at a time across hub processes (an advisory lock; a pass another process
 * holds is skipped), and at most one open ticket per silent edge or device in any case.
 */
export async function checkSilence(pool: pg.Pool, silenceMs: number): Promise<MonitorResult> {
  const result: MonitorResult = { opened: 0, repeated: 0, recovered: 0 };
  await inAuditedTransaction(pool, ACTOR, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(7340011, 0) AS locked");
    if (!rows[0]?.locked) return;
    const window = `${Math.max(1, Math.round(silenceMs))} milliseconds`;
    const edges = await client.query<{ opened: boolean }>(
      `INSERT INTO erp.tickets (site_id, title, priority, source, cause, last_occurred_at)
       SELECT g.site_id, 'Gateway ' || e.edge_id || ' sendet keine Daten seit ' || to_char(e.last_seen_at, 'YYYY-MM-DD HH24:MI'),
         'high', 'silence', 'silence:edge:' || e.edge_id, e.last_seen_at
       FROM raw.edges e LEFT JOIN erp.gateways g USING (edge_id)
       WHERE e.last_seen_at < now() - $1::interval
       ${OPEN_CAUSE} DO NOTHING
       RETURNING true AS opened`,
      [window],
    );
    result.opened += edges.rowCount ?? 0;
    const devices = await client.query(
      `INSERT INTO erp.tickets (site_id, device_id, title, priority, source, cause, last_occurred_at)
       SELECT d.site_id, d.id, 'Gerät ' || coalesce(d.serial_number, d.device_id) || ' liefert keine Messwerte',
         'normal', 'silence', 'silence:device:' || d.edge_id || '/' || d.device_id, now()
       FROM erp.devices d JOIN raw.edges e ON e.edge_id = d.edge_id
       WHERE e.last_seen_at >= now() - $1::interval
         AND NOT EXISTS (SELECT FROM raw.series s JOIN raw.readings r USING (series_id)
           WHERE s.edge_id = d.edge_id AND s.device_id = d.device_id AND r.quality = 1 AND r.ts >= now() - $1::interval)
       ${OPEN_CAUSE} DO NOTHING`,
      [window],
    );
    result.opened += devices.rowCount ?? 0;
    const recovered = await client.query(
      `UPDATE erp.tickets t SET recovered_at = now(), version = version + 1, updated_at = now()
       WHERE t.source = 'silence' AND t.recovered_at IS NULL AND t.status NOT IN ('closed', 'cancelled') AND (
         EXISTS (SELECT FROM raw.edges e WHERE t.cause = 'silence:edge:' || e.edge_id AND e.last_seen_at >= now() - $1::interval)
         OR EXISTS (SELECT FROM erp.devices d JOIN raw.series s ON s.edge_id = d.edge_id AND s.device_id = d.device_id
           JOIN raw.readings r USING (series_id)
           WHERE t.cause = 'silence:device:' || d.edge_id || '/' || d.device_id AND r.quality = 1
             AND r.ts >= now() - $1::interval))`,
      [window],
    );
    result.recovered += recovered.rowCount ?? 0;
  });
  return result;
}

/** Runs `checkSilence` every `intervalMs` (unref'd); stop it with the returned function. */
export function startSilenceMonitor(pool: pg.Pool, log: Logger, options: { silenceMs: number; intervalMs: number }) {
  let running = false;
  const pass = async () => {
    if (running) return;
    running = true;
    try {
      const r = await checkSilence(pool, options.silenceMs);
      if (r.opened || r.recovered) log.info(r, "silence monitoring");
    } catch (err) {
      log.warn({ err }, "silence monitoring failed; next pass in a minute");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(pass, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
