/**
 * `npm run bench`: every benchmark, each printed as our figure next to a baseline measured in
 * the same run, with their ratio. Not part of `npm test` (timings are not assertions).
 */
import { benchBufferIngest } from "../edge/bench/buffer-ingest.js";
import { benchRequestPlan } from "../edge/bench/request-plan.js";
import { benchSiteLoad } from "../edge/bench/site-load.js";
import { benchSync } from "./bench-sync.js";

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
/** `npm run bench -- NAME` runs only the benchmarks whose name contains NAME (buffer, requests, sync, site). */
const only = process.argv[2];
const selected = (name: string) => !only || name.includes(only);

if (selected("buffer")) for (const r of benchBufferIngest()) print({ ...r, target: 0.7 }, "raw better-sqlite3");
if (selected("requests")) for (const r of benchRequestPlan()) print(r, "one request per point");

if (selected("sync")) {
  const r = await benchSync();
  print(
    { name: "sync edge buffer -> gRPC -> hub -> PostgreSQL (readings/s)", ...r, ratio: r.value / r.baseline },
    "hub batch insert called directly",
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
