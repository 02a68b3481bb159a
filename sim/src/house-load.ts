const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Local (CET) hour of day, 0..24, at wall-clock time `t` (ms), as `irradiance` reckons it. */
function localHour(t: number): number {
  return (((t + HOUR_MS) % DAY_MS) / HOUR_MS + 24) % 24;
}

/** 0 at midsummer, 1 at midwinter. */
function winter(t: number): number {
  const dayOfYear = Math.floor(t / DAY_MS) % 365;
  return (1 - Math.cos((2 * Math.PI * (dayOfYear - 172)) / 365)) / 2;
}

/** A smooth bump of height 1 between `from` and `to` (hours), rising and falling over `edge` hours. */
function bump(hour: number, from: number, to: number, edge = 0.5): number {
  if (hour <= from - edge || hour >= to + edge) return 0;
  if (hour >= from && hour <= to) return 1;
  const x = hour < from ? (hour - (from - edge)) / edge : (to + edge - hour) / edge;
  return (1 - Math.cos(Math.PI * x)) / 2;
}

/**
 * Electrical power in W of a single-family house without its heat pump at wall-clock time `t`
 * (ms): about 220 W of standby and a fridge that cycles, a morning peak, cooking around noon, the
 * evening, and a kettle or similar burst of 2 kW for three minutes every two hours in the day.
 * Deterministic in `t`, so tests can predict it.
 */
export function householdLoad(t: number): number {
  const hour = localHour(t);
  const fridge = (t % (40 * MINUTE_MS)) / (40 * MINUTE_MS) < 1 / 3 ? 90 : 0;
  const morning = 700 * bump(hour, 6.5, 8);
  const noon = 1400 * bump(hour, 11.5, 12.5, 0.25);
  const evening = 550 * bump(hour, 18, 22, 1);
  const day = hour >= 7 && hour < 22;
  const burst = day && t % (2 * HOUR_MS) < 3 * MINUTE_MS ? 2000 : 0;
  const wobble = 25 * Math.sin(t / 97_000);
  return Math.round(220 + fridge + morning + noon + evening + burst + wobble);
}

/**
 * Electrical power in W of an air-source heat pump (three-phase circuit) at wall-clock time `t`
 * (ms): its compressor runs in cycles of an hour, for 15 % of it in summer (hot water only) up to
 * 60 % in winter, a little longer in the early morning, drawing 1.8–2.4 kW while it runs and 12 W
 * in standby. Deterministic in `t`.
 */
export function heatPumpLoad(t: number): number {
  const hour = localHour(t);
  const share = Math.min(0.9, 0.15 + 0.45 * winter(t) + 0.15 * bump(hour, 4, 7, 1));
  const inCycle = (t % HOUR_MS) / HOUR_MS;
  if (inCycle >= share) return 12;
  return Math.round(2100 + 300 * Math.sin(t / 420_000));
}

/** The house's whole load in W: household and heat pump. */
export function houseLoad(t: number): number {
  return householdLoad(t) + heatPumpLoad(t);
}
