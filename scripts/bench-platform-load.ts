/**
 * The load generator of `npm run bench -- platform`, run in a worker thread so that the hub's
 * event loop serves requests only (as it would with its clients elsewhere). Every connection
 * takes a free customer, sends PATCH /api/v1/customers/:id and frees it again with the version
 * the response names (If-Match of the next change); in mode "on" with a new Idempotency-Key each.
 */
import { parentPort, workerData } from "node:worker_threads";
import autocannon from "autocannon";

/** What one load run does. */
export interface LoadRequest {
  url: string;
  token: string;
  mode: "on" | "off";
  /** Two (or more) per connection, at the versions they are stored with. */
  customers: { id: string; version: number }[];
  connections: number;
  durationS: number;
  /** Requests per second over all connections; unset: as fast as answers come. */
  rate?: number;
  /** Makes this run's Idempotency-Keys unique. */
  keyPrefix: string;
  /** The customers collection to PATCH in (default /api/v1/customers). */
  path?: string;
}

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function run(req: LoadRequest): Promise<LoadResult> {
  const free = [...req.customers];
  let n = 0;
  const options: autocannon.Options = {
    url: req.url,
    connections: req.connections,
    duration: req.durationS,
    ...(req.rate ? { overallRate: req.rate } : {}),
    requests: [
      {
        method: "PATCH",
        // autocannon resets `context` after every request when there is one request template,
        // so the free list lives here
        setupRequest: (r: Record<string, unknown>) => {
          const customer = free.shift();
          if (!customer) throw new Error("no free customer: too many failed requests");
          n++;
          const headers: Record<string, string> = {
            authorization: `Bearer ${req.token}`,
            "content-type": "application/json",
          };
          if (req.mode === "on") {
            headers["idempotency-key"] = `${req.keyPrefix}-${n}`;
            headers["if-match"] = `"${customer.version}"`;
          }
          return {
            ...r,
            path: `${req.path ?? "/api/v1/customers"}/${customer.id}`,
            headers,
            body: JSON.stringify({ city: `City ${n}`, notes: `change ${n}` }),
          };
        },
        onResponse: (status: number, body: string) => {
          if (status !== 200) return;
          const { id, version } = JSON.parse(body) as { id: string; version: number };
          free.push({ id, version });
        },
      },
    ],
  };
  // in a worker thread autocannon leaves aggregating its histograms to the caller
  const result = autocannon.aggregateResult([await autocannon(options)], options);
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

if (parentPort && workerData) {
  const port = parentPort;
  run(workerData as LoadRequest).then(
    (result) => port.postMessage({ result }),
    (err: Error) => port.postMessage({ error: err.message }),
  );
}
