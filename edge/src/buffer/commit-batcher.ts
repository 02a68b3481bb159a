import type { Logger } from "pino";
import type { NewReading, ReadingBuffer } from "./reading-buffer.js";

/**
 * Groups the readings of devices polled at about the same time into one buffer transaction:
 * the first reading starts a window of `windowMs`, and everything submitted until it ends is
 * committed together (earlier when `maxReadings` are waiting). Fifty devices polled every second
 * then cost a handful of fsyncs per second instead of fifty, which the CPU and an SD card notice.
 * A reading is accepted once its transaction committed; a crash inside the window loses only
 * readings nobody was told about, as a crash during the poll itself would.
 */
export class CommitBatcher {
  private pending: NewReading[] = [];
  /**
   * Called after each commit with the readings in the order they got their seqs (the first has
   * `firstSeq`, the next one more). Under the `reject-new` policy with a full buffer the seqs are
   * used but the readings were not stored. A throw is logged, never reaches the commit path.
   */
  onCommitted: ((readings: readonly NewReading[], firstSeq: number) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly buffer: ReadingBuffer,
    private readonly log: Logger,
    private readonly windowMs = 200,
    private readonly maxReadings = 5000,
  ) {}

  /** Queues readings for the next commit. */
  submit(readings: readonly NewReading[]): void {
    if (readings.length === 0) return;
    this.pending.push(...readings);
    if (this.pending.length >= this.maxReadings) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** Commits what is waiting now (also called on shutdown). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const readings = this.pending;
    this.pending = [];
    if (readings.length === 0) return;
    let firstSeq: number;
    try {
      firstSeq = this.buffer.append(readings).firstSeq;
    } catch (err) {
      this.log.error({ err, readings: readings.length }, "readings could not be committed and are lost");
      return;
    }
    if (!this.onCommitted) return;
    try {
      this.onCommitted(readings, firstSeq);
    } catch (err) {
      this.log.error({ err }, "a listener of committed readings failed");
    }
  }
}
