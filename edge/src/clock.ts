import { existsSync } from "node:fs";

/** systemd-timesyncd creates this file once the clock is synchronised (a Pi has no RTC). */
const TIMESYNC_FLAG = "/run/systemd/timesync/synchronized";

/**
 * Whether the system clock is NTP-synchronised, checked at most every 30 s.
 * Readings carry this bit so the hub can tell trustworthy timestamps from guesses.
 */
export function systemClockSync(flagFile = TIMESYNC_FLAG, now = Date.now): () => boolean {
  let checkedAt = Number.NEGATIVE_INFINITY;
  let synced = false;
  return () => {
    if (now() - checkedAt > 30_000) {
      synced = existsSync(flagFile);
      checkedAt = now();
    }
    return synced;
  };
}
