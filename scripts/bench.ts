/**
 * `npm run bench`: every benchmark, each printed as our figure next to a baseline measured in
 * the same run, with their ratio. Not part of `npm test` (timings are not assertions).
 */
import { benchBufferIngest } from "../edge/bench/buffer-ingest.js";
import { benchRequestPlan } from "../edge/bench/request-plan.js";

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
for (const r of benchBufferIngest()) print({ ...r, target: 0.7 }, "raw better-sqlite3");
for (const r of benchRequestPlan()) print(r, "one request per point");
