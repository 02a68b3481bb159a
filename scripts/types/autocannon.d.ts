/** The part of autocannon's API the benchmarks use (the package ships no types). */
declare module "autocannon" {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      overallRate?: number;
      requests?: Array<{
        method?: string;
        setupRequest?: (req: Record<string, unknown>, context: Record<string, unknown>) => Record<string, unknown>;
        onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
      }>;
    }
    interface Histogram {
      average: number;
      p50: number;
      p99: number;
      /** of `requests`: how many completed */
      total: number;
    }
    interface Result {
      requests: Histogram;
      latency: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      /** seconds */
      duration: number;
    }
    /** In a worker thread autocannon resolves to an encoded result: this makes it a `Result`. */
    function aggregateResult(results: unknown[], options: Options): Result;
  }
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export default autocannon;
}
