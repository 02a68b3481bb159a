/**
 * `npm run bench`: every benchmark, each printed as our figure next to a baseline measured in
 * the same run, with their ratio. Not part of `npm test` (timings are not assertions).
 */
import { benchBufferIngest } from "../edge/bench/buffer-ingest.js";
import { benchRequestPlan } from "../edge/bench/request-plan.js";
import { benchSiteLoad } from "../edge/bench/site-load.js";
import { benchAudit } from "./bench-audit.js";
import { benchBilling } from "./bench-billing.js";
import { benchErp } from "./bench-erp.js";
import { benchPlatform } from "./bench-platform.js";
import { benchSaga } from "./bench-saga.js";
import { benchSync } from "./bench-sync.js";
import { benchUi } from "./bench-ui.js";
import { benchWarehouse } from "./bench-warehouse.js";

interface Result {
  name: string;
  value: number;
  baseline: number;
  ratio: number;
  target?: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const print = (r: Result, baselineName: string) => {
  const verdict =
    r.target === undefined
      ? ""
      : r.ratio >= r.target
        ? ` (target >= ${r.target}: met)`
        : ` (target >= ${r.target}: MISSED)`;
  process.stdout.write(
    `${r.name}: ${fmt(r.value)} vs ${baselineName} ${fmt(r.baseline)} -> ratio ${r.ratio.toFixed(2)}${verdict}\n`,
  );
};
/** `npm run bench -- NAME` runs only the benchmarks whose name contains NAME (buffer, requests, sync, site, ui, platform, audit, erp, billing, saga, warehouse). */
const only = process.argv[2];
const selected = (name: string) => !only || name.includes(only);

if (selected("buffer")) for (const r of benchBufferIngest()) print({ ...r, target: 0.7 }, "raw better-sqlite3");
if (selected("requests")) for (const r of benchRequestPlan()) print(r, "one request per point");

if (selected("sync")) {
  const r = await benchSync();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  print(
    {
      name: `sync backlog of ${fmt(r.backlog)} readings, edge buffer -> gRPC -> hub -> PostgreSQL (readings/s)`,
      value: r.drainPerSecond,
      baseline: r.rawCopyPerSecond,
      ratio: r.drainPerSecond / r.rawCopyPerSecond,
      target: 0.5,
    },
    "raw pg COPY (binary) of the same rows",
  );
  process.stdout.write(
    [
      `  absolute: ${fmt(r.drainPerSecond)} readings/s (target >= 100,000: ${met(r.drainPerSecond >= 100_000)}); exactly once: ${r.exactlyOnce}`,
      `  live readings during the drain (n=${r.liveDelay.n}): delay p50 ${r.liveDelay.p50.toFixed(2)} s, p99 ${r.liveDelay.p99.toFixed(2)} s, max ${r.liveDelay.max.toFixed(2)} s (target < 2 s: ${met(r.liveDelay.max < 2)})`,
      `  edge peak RSS during the drain: ${r.edgePeakRssMb.toFixed(0)} MB (target <= 150 MB: ${met(r.edgePeakRssMb <= 150)})`,
      `  hub with ${r.fleet.edges} edges streaming at once (${fmt(r.fleet.readings)} readings): peak RSS ${r.fleet.hubPeakRssMb.toFixed(0)} MB (target <= 500 MB: ${met(r.fleet.hubPeakRssMb <= 500)}), ack latency p50 ${r.fleet.p50.toFixed(0)} ms, p99 ${r.fleet.p99.toFixed(0)} ms, ${fmt(r.fleet.perSecond)} readings/s`,
      "",
    ].join("\n"),
  );
}
if (selected("site")) {
  const { one, fifty } = await benchSiteLoad();
  process.stdout.write(
    `edge, 50 devices on 5 connections at 1 s: CPU ${fifty.cpuPct.toFixed(1)} % of one core (target <= 10 %: ${
      fifty.cpuPct <= 10 ? "met" : "MISSED"
    }) vs 1 device ${one.cpuPct.toFixed(1)} %; peak RSS ${fifty.peakRssMb.toFixed(0)} MB (target <= 120 MB: ${
      fifty.peakRssMb <= 120 ? "met" : "MISSED"
    }) vs 1 device ${one.peakRssMb.toFixed(0)} MB\n`,
  );
}
if (selected("ui")) {
  const r = await benchUi();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  print(
    {
      name: `installer UI, page load -> first live value on the dashboard (ms, median of ${r.runs}, max ${fmt(r.firstValueMs.max)})`,
      value: r.firstValueMs.p50,
      baseline: r.baselineMs.p50,
      ratio: r.firstValueMs.p50 / r.baselineMs.p50,
    },
    "bare page opening the same live stream",
  );
  const total = r.gzipBytes.js + r.gzipBytes.css;
  process.stdout.write(
    `  shipped (gzip): JavaScript ${kb(r.gzipBytes.js)} (budget 250 KB: ${r.gzipBytes.js <= 250 * 1024 ? "met" : "MISSED"}), CSS ${kb(r.gzipBytes.css)}, together ${kb(total)}\n`,
  );
}
if (selected("platform")) {
  const r = await benchPlatform();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const { on, off, ratio } = r.median;
  print(
    {
      name: `hub write endpoint (PATCH /customers/:id, ${r.connections} connections, median of ${r.rounds.length} rounds of ${r.durationS} s) with idempotency + If-Match + audit (requests/s)`,
      value: on.requestsPerSecond,
      baseline: off.requestsPerSecond,
      ratio,
      target: 0.7,
    },
    "same endpoint with the three off",
  );
  const cpu = (x: { hubCpuMs: number; postgresCpuMs: number }) =>
    `hub ${x.hubCpuMs.toFixed(2)} ms + PostgreSQL ${x.postgresCpuMs.toFixed(2)} ms`;
  process.stdout.write(
    [
      `  rounds (on/off req/s): ${r.rounds.map((x) => `${fmt(x.on.requestsPerSecond)}/${fmt(x.off.requestsPerSecond)}`).join(", ")}`,
      `  p50/p99: on ${ms(on.p50)} / ${ms(on.p99)}, off ${ms(off.p50)} / ${ms(off.p99)}; errors on ${on.errors}, off ${off.errors}; non-2xx on ${on.non2xx}, off ${off.non2xx}`,
      `  CPU per request: on ${cpu(on)}, off ${cpu(off)}`,
      `  fixed ${r.fixedRate.rate} requests/s with all three on: ${r.fixedRate.requestsPerSecond.toFixed(0)} req/s served, p50 ${ms(r.fixedRate.p50)}, p99 ${ms(r.fixedRate.p99)} (target p99 <= 25 ms: ${met(r.fixedRate.p99 <= 25)}); non-2xx ${r.fixedRate.non2xx}; CPU per request ${cpu(r.fixedRate)}`,
      `  audit trail after the runs: ${r.auditRecords} records, hash chains intact: ${r.chainIntact}${r.chainBroken ? ` (${r.chainBroken})` : ""}`,
      "",
    ].join("\n"),
  );
}
if (selected("audit")) {
  const r = await benchAudit();
  const ms = (n: number) => `${n.toFixed(3)} ms`;
  print(
    {
      name: "audit trigger per UPDATE on PostgreSQL 18, one connection (microseconds)",
      value: r.pg18.cost * 1000,
      baseline: r.pg18Before.cost * 1000,
      ratio: r.pg18.cost / r.pg18Before.cost,
    },
    "0008's append (RETURNING old.*, PostgreSQL 18 only)",
  );
  process.stdout.write(
    [
      `  PostgreSQL 18: UPDATE ${ms(r.pg18.on)} with the trigger, ${ms(r.pg18.off)} without; 0008's append: ${ms(r.pg18Before.on)} / ${ms(r.pg18Before.off)}`,
      `  PostgreSQL 15: trigger ${ms(r.pg15.cost)} per UPDATE (UPDATE ${ms(r.pg15.on)} with, ${ms(r.pg15.off)} without)`,
      "",
    ].join("\n"),
  );
}
if (selected("erp")) {
  const r = await benchErp();
  process.stdout.write(
    `ERP lists over ${fmt(r.rows.customers)} customers, ${fmt(r.rows.movements)} stock movements, ${fmt(r.rows.tickets)} tickets (loaded in ${r.loadSeconds.toFixed(0)} s), 200 HTTP calls each, first and next page alternating:\n`,
  );
  for (const l of r.lists) {
    process.stdout.write(
      `  ${l.name}: p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms (target <= 50 ms: ${l.p99 <= 50 ? "met" : "MISSED"}); plan ${l.planMs.toFixed(1)} ms via ${l.access.join(", ")}${l.sorts ? " + Sort" : ""}\n`,
    );
  }
  const mid = [...r.rounds].sort(
    (a, b) => a.kit.requestsPerSecond / a.hand.requestsPerSecond - b.kit.requestsPerSecond / b.hand.requestsPerSecond,
  )[Math.floor(r.rounds.length / 2)];
  print(
    {
      name: "kit-derived PATCH /customers/:id with idempotency + If-Match + audit (requests/s, median round)",
      value: mid?.kit.requestsPerSecond ?? 0,
      baseline: mid?.hand.requestsPerSecond ?? 0,
      ratio: r.ratio,
      target: 0.9,
    },
    "the same write in a hand-written route",
  );
  process.stdout.write(
    `  rounds (kit/hand req/s): ${r.rounds.map((x) => `${fmt(x.kit.requestsPerSecond)}/${fmt(x.hand.requestsPerSecond)}`).join(", ")}; p99 kit ${mid?.kit.p99} ms, hand ${mid?.hand.p99} ms; non-2xx kit ${mid?.kit.non2xx}, hand ${mid?.hand.non2xx}\n`,
  );
}
if (selected("billing")) {
  const r = await benchBilling();
  const mid = [...r.rounds].sort((a, b) => a.finalisations / a.inserts - b.finalisations / b.inserts)[
    Math.floor(r.rounds.length / 2)
  ];
  print(
    {
      name: "invoice finalisations, 16 concurrent clients (per second, median round)",
      value: mid?.finalisations ?? 0,
      baseline: mid?.inserts ?? 0,
      ratio: r.ratio,
    },
    "plain inserts of the same finalised rows and documents",
  );
  const d = r.datev;
  process.stdout.write(
    [
      `  rounds (finalisations/inserts per s): ${r.rounds.map((x) => `${fmt(x.finalisations)}/${fmt(x.inserts)}`).join(", ")}; ${fmt(r.finalised)} numbers given, without a gap: ${r.numbersGapless}`,
      `  the ceiling of one gapless series here, a bare counter row incremented and committed by the same 16 clients: ${fmt(mid?.counter ?? 0)}/s (finalisations reach ${(((mid?.finalisations ?? 0) / (mid?.counter ?? 1)) * 100).toFixed(0)} % of it)`,
      `  DATEV export of ${fmt(d.documents)} documents (${d.files} monthly files, ${fmt(d.bookings)} bookings): ${d.seconds.toFixed(1)} s, peak RSS ${d.peakRssMb.toFixed(0)} MB; reading the same documents only: ${d.readSeconds.toFixed(1)} s (ratio ${(d.seconds / d.readSeconds).toFixed(2)})`,
      "",
    ].join("\n"),
  );
}
if (selected("saga")) {
  const r = await benchSaga();
  for (const [name, value] of [
    ["one coordinator", r.oneProcess],
    ["two coordinators (two pools, as two hub processes)", r.twoProcesses],
  ] as const) {
    print(
      {
        name: `${fmt(r.sagas)} five-step local sagas, ${name} (completed per second)`,
        value,
        baseline: r.plain,
        ratio: value / r.plain,
        target: 0.3,
      },
      "the same five steps as plain transactions on 16 connections",
    );
  }
  process.stdout.write(
    `  absolute target >= 500 sagas/s: ${Math.max(r.oneProcess, r.twoProcesses) >= 500 ? "met" : "MISSED"}\n\n`,
  );
}
if (selected("warehouse")) {
  const r = await benchWarehouse();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  const base = Math.min(...r.baselineMs);
  const ms = (n: number) => `${fmt(n)} ms`;
  const jobs = (list: typeof r.firstLoad) =>
    list
      .map((j) => `${j.job} ${ms(j.ms)}${j.status === "succeeded" ? `, ${fmt(j.rowsWritten)} rows` : ` (${j.status})`}`)
      .join("; ");
  const ratio = r.firstLoadMs / base;
  process.stdout.write(
    `warehouse first load of ${fmt(r.readings)} raw readings (${fmt(r.series)} series × ${fmt(r.samples)}, ${r.edges} edges) into the 15-minute facts and serving views, runWarehouse (ms): ${fmt(r.firstLoadMs)} vs one INSERT … SELECT … GROUP BY of the same power aggregation ${fmt(base)} -> ratio ${ratio.toFixed(2)} (target <= 1.5: ${met(ratio <= 1.5)}; stretch <= 1.0 with parallel connections: ${met(ratio <= 1.0)})\n`,
  );
  const alone = r.powerAlone.ms / base;
  process.stdout.write(
    [
      `  per job: ${jobs(r.firstLoad)}`,
      `  the power job alone (fresh watermark): ${ms(r.powerAlone.ms)}, ${fmt(r.powerAlone.rowsWritten)} rows vs the same baseline -> ratio ${alone.toFixed(2)}; its rows against the baseline's: ${r.powerMismatches} differ`,
      `  baseline before/after the loader: ${ms(r.baselineMs[0])} / ${ms(r.baselineMs[1])}, ${fmt(r.baselineRows)} rows; loading the readings (not measured): ${r.loadSeconds.toFixed(0)} s`,
      `  the same aggregation with the rules' de-duplication (lowest seq per series and instant), hand-written: ${ms(r.dedupBaselineMs)} -> the power job alone against it ${(r.powerAlone.ms / r.dedupBaselineMs).toFixed(2)}, the first load ${(r.firstLoadMs / r.dedupBaselineMs).toFixed(2)}`,
      `warehouse incremental: one more hour for every series (${fmt(r.incremental.readings)} readings in one transaction), the next runWarehouse: ${ms(r.incremental.ms)} (target <= 2,000 ms: ${met(r.incremental.ms <= 2000)}), ${fmt(r.incremental.rowsWritten)} rows written`,
      `  per job: ${jobs(r.incremental.jobs)}`,
      "",
    ].join("\n"),
  );
  const f = r.freshness;
  if (f.batches) {
    const s = (p: typeof f.curated) =>
      `p50 ${p.p50.toFixed(1)} s, p95 ${p.p95.toFixed(1)} s, max ${p.max.toFixed(1)} s${p.missing ? `, ${p.missing} not seen` : ""}`;
    process.stdout.write(
      [
        `warehouse freshness, loader every 60 s for ${f.minutes} min, a batch of ${f.readingsPerBatch} readings every 5 s on average, at random (${f.batches} batches), commit -> visible: serving.site_daily ${s(f.serving)} (target p95 <= 60 s: ${met(!f.serving.missing && f.serving.p95 <= 60)}); curated.fact_power_15min ${s(f.curated)}`,
        `  scheduled passes: ${f.passes}, each p50 ${(f.passMs.p50 / 1000).toFixed(1)} s, max ${(f.passMs.max / 1000).toFixed(1)} s`,
        "",
      ].join("\n"),
    );
  }
}
