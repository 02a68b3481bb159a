/** Runs the benchmark and returns one result line per batch size. */
export declare function benchBufferIngest(rounds?: number): {
    name: string;
    value: number;
    baseline: number;
    ratio: number;
}[];
