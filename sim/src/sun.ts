const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Plausible PV output fraction (0..1) for a site in central Europe at wall-clock time `t` (ms):
 * zero at night, a bell-shaped day between sunrise and sunset, lower in winter, with slowly
 * passing clouds. Deterministic in `t`, so tests can predict it.
 */
export function irradiance(t: number): number {
  const localHour = (((t + HOUR_MS) % DAY_MS) / HOUR_MS + 24) % 24; // CET
  const dayOfYear = Math.floor(t / DAY_MS) % 365;
  const summer = Math.cos((2 * Math.PI * (dayOfYear - 172)) / 365); // +1 at midsummer, -1 at midwinter
  const halfDay = 6 + 2 * summer; // 4..8 h either side of noon
  const fromNoon = Math.abs(localHour - 12.5);
  if (fromNoon >= halfDay) return 0;
  const clearSky = Math.cos((Math.PI / 2) * (fromNoon / halfDay)) ** 1.5;
  const season = 0.65 + 0.35 * summer;
  const clouds = 0.8 + 0.2 * Math.sin(t / 53_000) * Math.sin(t / 191_000);
  return clearSky * season * clouds;
}
