/** Small hooks the pages share: polling, the live stream, the current time. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import type { LiveSnapshot } from "./types.js";

/** Result of `usePoll`: the latest data, the latest error (cleared on success) and a reload. */
export interface Polled<T> {
  data: T | null;
  error: unknown;
  reload: () => void;
}

/** Fetches `path` now and every `intervalMs` (0: once); keeps the last good data on errors. */
export function usePoll<T>(path: string | null, intervalMs = 0): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await api<T>(path);
        if (stopped) return;
        setData(next);
        setError(null);
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(load, intervalMs);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [path, intervalMs, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** State of the live stream. */
export interface Live {
  snapshot: LiveSnapshot | null;
  /** False after the stream dropped, until it delivers again. */
  connected: boolean;
}

/**
 * Subscribes to `GET /api/v1/live` (server-sent `snapshot` events). EventSource reconnects by
 * itself; when the edge closed the stream for good (e.g. the session expired) a status request
 * finds out (a 401 leads to the login page) and the stream is opened again after a pause.
 */
export function useLive(): Live {
  const [live, setLive] = useState<Live>({ snapshot: null, connected: true });
  useEffect(() => {
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const open = () => {
      source = new EventSource("/api/v1/live");
      source.addEventListener("snapshot", (e) => {
        try {
          const snapshot = JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot;
          setLive({ snapshot, connected: true });
        } catch {
          // a malformed event: keep the last snapshot
        }
      });
      source.addEventListener("open", () => setLive((l) => ({ ...l, connected: true })));
      source.addEventListener("error", () => {
        setLive((l) => ({ ...l, connected: false }));
        if (source?.readyState === EventSource.CLOSED) {
          source = null;
          api("/api/v1/status").catch(() => {});
          if (!stopped) retry = setTimeout(open, 3000);
        }
      });
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, []);
  return live;
}

/** The current time, renewed every `intervalMs` (for relative times). */
export function useNow(intervalMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** A value that follows `value` after it has been still for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}
