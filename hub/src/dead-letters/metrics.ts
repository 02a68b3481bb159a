import { Gauge } from "prom-client";
import type { HubMetrics } from "../metrics.js";
import type { DeadLetterQueue } from "./service.js";

/** Exports `hub_dead_letters{status}` (counted in PostgreSQL when scraped; at most 2 s). */
export function observeDeadLetters(metrics: Pick<HubMetrics, "registry">, queue: DeadLetterQueue): void {
  new Gauge({
    name: "hub_dead_letters",
    help: "Dead letters by status (pending, redriven, discarded)",
    labelNames: ["status"],
    registers: [metrics.registry],
    async collect() {
      const sizes = await Promise.race([
        queue.sizes().catch(() => undefined),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000).unref()),
      ]);
      if (!sizes) return;
      for (const status of ["pending", "redriven", "discarded"]) this.set({ status }, sizes[status] ?? 0);
    },
  });
}
