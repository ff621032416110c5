/**
 * Value models of the switchgear-lineup simulator (scripts/simulator/main.ts), kept free of I/O so that
 * they can be unit tested: lineup state → next state, catalog point → value, value → payload.
 *
 * The physics is deliberately simple but self-consistent, so that a gateway under test shows
 * numbers an engineer recognises: one bus (voltage, frequency, voltage THD, flicker) feeds N
 * breakers; each breaker's load is a mean-reverting random walk within its rating; powers are
 * V·I·PF; energy counters integrate power; conductor temperatures follow I² through a first-order
 * lag above ambient; predictive-maintenance alarms switch with hysteresis on those signals.
 *
 * Nothing here lists catalog points: compilePoint() picks a behaviour from a point's folder, unit,
 * dataType, alarm flag and browse name, and falls back to a generic value of the right type for a
 * point it does not recognise, so a user's catalog edits never break the simulator.
 */
import { INTEGER_RANGES, type PointDef } from "../../src/model/catalog-types.js";

export type Value = number | boolean | string;
export type Phase = 0 | 1 | 2;
export type Triple = readonly [number, number, number];
/** Uniform in [0, 1). Injected so that a seed makes a run (and a test) reproducible. */
export type Rng = () => number;

const PHASES: readonly Phase[] = [0, 1, 2];
const DAY_MS = 86_400_000;
const MONTH_MS = 30.436875 * DAY_MS;

// --- random numbers ---------------------------------------------------------------------------

/** A small, fast, seedable PRNG (mulberry32): Math.random cannot be seeded. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box–Muller). */
export function gauss(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/**
 * One exact step of an Ornstein–Uhlenbeck process: a random walk pulled back to `mean` with time
 * constant `tauS` and stationary standard deviation `std`. Exact, so any dt (0.25 s or 1 h) is stable.
 */
export function ou(x: number, mean: number, tauS: number, std: number, dtS: number, rng: Rng): number {
  if (dtS <= 0) return x;
  const a = Math.exp(-dtS / tauS);
  return mean + (x - mean) * a + std * Math.sqrt(1 - a * a) * gauss(rng);
}

/** First-order lag of `x` towards `target` with time constant `tauS`. */
export function lag(x: number, target: number, tauS: number, dtS: number): number {
  return target + (x - target) * Math.exp(-Math.max(0, dtS) / tauS);
}

/** Number of events of a Poisson process with mean interval `meanIntervalS` during dtS. */
function poisson(dtS: number, meanIntervalS: number, rng: Rng): number {
  if (dtS <= 0) return 0;
  const limit = Math.exp(-dtS / meanIntervalS);
  let n = 0;
  for (let p = rng(); p > limit && n < 1000; p *= rng()) n++;
  return n;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const map3 = (f: (k: Phase) => number): Triple => [f(0), f(1), f(2)];
const sum3 = (t: Triple) => t[0] + t[1] + t[2];
const avg3 = (t: Triple) => sum3(t) / 3;
const max3 = (a: Triple, b: Triple): Triple => map3((k) => Math.max(a[k], b[k]));
const min3 = (a: Triple, b: Triple): Triple => map3((k) => Math.min(a[k], b[k]));
/** Largest deviation from the mean, in % of the mean (the usual meter definition of unbalance). */
const unbalancePct = (t: Triple) => {
  const m = avg3(t);
  return m > 1e-9 ? (Math.max(...t.map((x) => Math.abs(x - m))) / m) * 100 : 0;
};
/** Wraps an angle into [-180, 180). */
export const wrapDeg = (d: number) => ((((d + 180) % 360) + 360) % 360) - 180;

// --- alarms -----------------------------------------------------------------------------------

/**
 * A two-threshold switch: rises when `value` reaches `raise`, falls only when it is back down to
 * `clear` (below `raise`), so a signal hovering at the threshold does not chatter.
 */
export function hysteresis(active: boolean, value: number, raise: number, clear: number): boolean {
  if (!active) return value >= raise;
  return value > clear;
}

export interface AlarmRule {
  topicId: string;
  /** Phase conductor temperature (°C) or phase current in % of the breaker's rating. */
  signal: "temperature" | "loadPct";
  phase: Phase;
  raise: number;
  clear: number;
}

/** Tunables of the physics. The defaults make about one feeder in five run hot enough to alarm. */
export interface ModelParams {
  nominalVoltageLN: number;
  nominalFrequencyHz: number;
  ambientC: number;
  /** Thermal time constant of a breaker's connections. */
  thermalTauS: number;
  /** Temperature rise above ambient at rated current (scales with I²). */
  riseAtRatedK: number;
  loadTauS: number;
  loadStd: number;
  maxTemperatureC: number;
  temperatureHysteresisK: number;
  loadAlarmPct: number;
  loadWarningPct: number;
  loadHysteresisPct: number;
}

export const DEFAULT_PARAMS: ModelParams = {
  nominalVoltageLN: 400 / Math.sqrt(3),
  nominalFrequencyHz: 50,
  ambientC: 25,
  thermalTauS: 600,
  riseAtRatedK: 60,
  loadTauS: 900,
  loadStd: 0.08,
  maxTemperatureC: 90,
  temperatureHysteresisK: 5,
  loadAlarmPct: 95,
  loadWarningPct: 80,
  loadHysteresisPct: 5,
};

/**
 * The rule behind each alarm point of the catalog, chosen from its label: a temperature alarm
 * when it names a temperature, a load-rating warning or alarm otherwise; the phase from "Phase 1".
 */
export function alarmRules(points: readonly PointDef[], params: ModelParams = DEFAULT_PARAMS): AlarmRule[] {
  return points
    .filter((p) => p.alarm)
    .map((p) => {
      const text = `${p.label} ${p.browseName}`;
      const phase = (Number(/Phase[ _]?([123])/i.exec(text)?.[1] ?? 1) - 1) as Phase;
      if (/temp/i.test(text))
        return {
          topicId: p.topicId,
          signal: "temperature",
          phase,
          raise: params.maxTemperatureC,
          clear: params.maxTemperatureC - params.temperatureHysteresisK,
        };
      const raise = /warn/i.test(text) ? params.loadWarningPct : params.loadAlarmPct;
      return { topicId: p.topicId, signal: "loadPct", phase, raise, clear: raise - params.loadHysteresisPct };
    });
}

// --- state ------------------------------------------------------------------------------------

/** Nameplate and protection settings of one breaker: constant for a run. */
export interface BreakerInfo {
  ratingA: number;
  frameA: number;
  interruptingKA: number;
  voltageRatingV: number;
  tripUnitType: string;
  serialNumber: string;
  tripUnitSerialNumber: string;
  compartment: string;
  longTimePickUpA: number;
  shortTimePickUpA: number;
  instantaneousPickUpA: number;
  groundFaultPickUpA: number;
  longTimeDelayS: number;
  shortTimeDelayS: number;
  groundFaultDelayS: number;
}

/** One set of condition-monitoring values (the catalog's Set1/Set2, errata 4). */
export interface CycleSet {
  sinceMs: number;
  maintenanceCycles: number;
  maxMaintenanceCycles: number;
  maxLifetimeCycles: number;
  contactWearPct: number;
  lifeMonths: number;
}

export interface Energy {
  activeImportedWh: Triple;
  activeExportedWh: Triple;
  reactiveImportedVarh: Triple;
  reactiveExportedVarh: Triple;
  apparentImportedVAh: Triple;
  apparentExportedVAh: Triple;
}

export interface BusState {
  voltageLN: Triple;
  frequencyHz: number;
  thdV: Triple;
  flickerPst: Triple;
  flickerPlt: Triple;
  ambientC: number;
}

export interface FeederState {
  readonly index: number;
  readonly name: string;
  readonly group: string;
  readonly breaker: BreakerInfo;
  readonly nominalLoad: number;
  /** Per-phase multiplier of the temperature rise: > 1 is a poor connection on that phase. */
  readonly hotSpot: Triple;
  readonly imbalanceMean: Triple;
  readonly pfMean: number;
  readonly thdIMean: number;
  /** Per-order phase offsets of the harmonics (index = order), fixed for a run. */
  readonly harmonicOffsetDeg: { readonly voltage: readonly number[]; readonly current: readonly number[] };
  /** Load as a fraction of the rating, before measurement noise. */
  load: number;
  imbalance: Triple;
  pf: Triple;
  thdI: Triple;
  voltageLN: Triple;
  voltageLL: Triple;
  frequencyHz: Triple;
  thdV: Triple;
  currentA: Triple;
  activeW: Triple;
  reactiveVar: Triple;
  apparentVA: Triple;
  neutralA: number;
  groundA: number;
  longTimeAvgA: number;
  ambientC: number;
  temperatureC: Triple;
  /** Rate of rise of (temperature − ambient), °C/min. */
  temperatureRate: Triple;
  /** Rate of rise of the phase currents, A/min, smoothed over a minute. */
  currentRate: Triple;
  energy: Energy;
  max: {
    currentAvgA: number;
    neutralA: number;
    groundA: number;
    totalA: number;
    longTimeAvgA: number;
    phaseA: Triple;
    unbalanceCurrentPct: number;
  };
  thdRange: { currentMin: Triple; currentMax: Triple; voltageMin: Triple; voltageMax: Triple };
  disturbances: { voltage: number; current: number; transient: number };
  cycles: readonly CycleSet[];
  lifetimeCycles: number;
  /** Highest phase current seen by the 30-day, 365-day and the running load study. */
  loadStudyPeakA: { day30: number; day365: number; current: number };
  alarms: Readonly<Record<string, boolean>>;
}

export interface LineupInfo {
  lineupName: string;
  deviceType: string;
  source: string;
  groupType: string;
  groupSource: string;
  /** Number of the first feeder and group (1 when absent): two lineups on one broker need distinct names. */
  firstDevice?: number;
  /** Wall-clock start of the run; simulated time is startMs + tS·1000. */
  startMs: number;
}

export interface LineupState {
  readonly info: LineupInfo;
  readonly params: ModelParams;
  readonly rules: readonly AlarmRule[];
  tS: number;
  bus: BusState;
  feeders: readonly FeederState[];
}

/** `Feeder 01`…`Feeder N` and `Group 01`… (from `first`), zero-padded to at least two digits. */
export function deviceNames(n: number, first = 1): { feeder: string; group: string }[] {
  const width = Math.max(2, String(first + n - 1).length);
  return Array.from({ length: n }, (_, i) => {
    const num = String(first + i).padStart(width, "0");
    return { feeder: `Feeder ${num}`, group: `Group ${num}` };
  });
}

const RATINGS_A = [630, 800, 1000, 1250, 1600, 2000, 2500, 3200, 4000];
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const digits = (rng: Rng, n: number) => Array.from({ length: n }, () => Math.floor(rng() * 10)).join("");

function makeBreaker(index: number, rng: Rng): BreakerInfo {
  const ratingA = pick(rng, RATINGS_A);
  // 3WA frame sizes 1, 2 and 3 carry up to 2000, 4000 and 6300 A.
  const frameA = ratingA <= 2000 ? 2000 : ratingA <= 4000 ? 4000 : 6300;
  const longTimePickUpA = ratingA * pick(rng, [0.8, 0.9, 1]);
  return {
    ratingA,
    frameA,
    interruptingKA: frameA === 2000 ? pick(rng, [55, 66, 85]) : pick(rng, [85, 100]),
    voltageRatingV: 690,
    tripUnitType: pick(rng, ["ETU600", "ETU800"]),
    serialNumber: `RW${20 + Math.floor(rng() * 5)}${digits(rng, 8)}`,
    tripUnitSerialNumber: `ETU${digits(rng, 10)}`,
    compartment: `Section ${Math.floor(index / 4) + 1} / Compartment ${String.fromCharCode(65 + (index % 4))}`,
    longTimePickUpA,
    shortTimePickUpA: longTimePickUpA * pick(rng, [3, 4, 6]),
    instantaneousPickUpA: ratingA * pick(rng, [8, 10, 12]),
    groundFaultPickUpA: Math.min(1200, ratingA * pick(rng, [0.2, 0.3, 0.4])),
    longTimeDelayS: pick(rng, [4, 10, 12, 17]),
    shortTimeDelayS: pick(rng, [0.1, 0.2, 0.3, 0.4]),
    groundFaultDelayS: pick(rng, [0.1, 0.2, 0.3, 0.4, 0.5]),
  };
}

/**
 * A lineup of `devices` breakers at time 0, thermally settled at their initial load. Every fifth
 * feeder (Feeder 01, 06, …) is heavily loaded with a poor phase-1 connection, so that the
 * predictive-maintenance alarms have something to report.
 */
export function initLineup(
  info: LineupInfo,
  devices: number,
  rules: readonly AlarmRule[],
  rng: Rng,
  params: ModelParams = DEFAULT_PARAMS,
): LineupState {
  const bus: BusState = {
    voltageLN: map3(() => params.nominalVoltageLN + gauss(rng)),
    frequencyHz: params.nominalFrequencyHz + 0.01 * gauss(rng),
    thdV: map3(() => 1.8 + 0.3 * gauss(rng)),
    flickerPst: map3(() => 0.35 + 0.05 * gauss(rng)),
    flickerPlt: map3(() => 0.35),
    ambientC: params.ambientC,
  };
  const feeders = deviceNames(devices, info.firstDevice).map(({ feeder, group }, index) => {
    const hot = index % 5 === 0;
    const breaker = makeBreaker(index, rng);
    const nominalLoad = hot ? 0.85 : 0.3 + 0.45 * rng();
    const commissionedMs = info.startMs - (12 + Math.floor(rng() * 96)) * MONTH_MS;
    const months = (info.startMs - commissionedMs) / MONTH_MS;
    // Energy so far: the nominal load over the months in service, so counters look lived-in.
    // One spread per phase for all counters keeps apparent ≥ active on every phase.
    const phaseVAh = breaker.ratingA * nominalLoad * params.nominalVoltageLN * months * 730;
    const spread = map3(() => 1 + 0.03 * gauss(rng));
    const seeded = (scale: number): Triple => map3((k) => phaseVAh * scale * spread[k]);
    const opsSinceCommissioning = Math.floor(months * (20 + 40 * rng()));
    const cycleSet = (sinceMs: number, share: number): CycleSet => ({
      sinceMs,
      maintenanceCycles: Math.floor(opsSinceCommissioning * share),
      maxMaintenanceCycles: pick(rng, [5000, 10000]),
      maxLifetimeCycles: pick(rng, [10000, 20000]),
      contactWearPct: clamp(months * (0.2 + 0.3 * rng()), 0, 95),
      lifeMonths: 240,
    });
    const imbalanceMean = map3(() => 0.03 * gauss(rng));
    const state: FeederState = {
      index,
      name: feeder,
      group,
      breaker,
      nominalLoad,
      hotSpot: hot ? [1.3, 1.05, 1] : map3(() => 1 + 0.03 * gauss(rng)),
      imbalanceMean,
      pfMean: 0.92 + 0.04 * rng(),
      thdIMean: 2.5 + 5.5 * rng(),
      harmonicOffsetDeg: {
        voltage: Array.from({ length: 64 }, () => 360 * rng() - 180),
        current: Array.from({ length: 64 }, () => 360 * rng() - 180),
      },
      load: nominalLoad,
      imbalance: imbalanceMean,
      pf: map3(() => 0.92 + 0.04 * rng()),
      thdI: map3(() => 2.5 + 5.5 * rng()),
      voltageLN: bus.voltageLN,
      voltageLL: [0, 0, 0],
      frequencyHz: [bus.frequencyHz, bus.frequencyHz, bus.frequencyHz],
      thdV: bus.thdV,
      currentA: [0, 0, 0],
      activeW: [0, 0, 0],
      reactiveVar: [0, 0, 0],
      apparentVA: [0, 0, 0],
      neutralA: 0,
      groundA: 0,
      longTimeAvgA: breaker.ratingA * nominalLoad,
      ambientC: bus.ambientC,
      temperatureC: [params.ambientC, params.ambientC, params.ambientC],
      temperatureRate: [0, 0, 0],
      currentRate: [0, 0, 0],
      energy: {
        activeImportedWh: seeded(0.94),
        activeExportedWh: seeded(0.001),
        reactiveImportedVarh: seeded(0.34),
        reactiveExportedVarh: seeded(0.004),
        apparentImportedVAh: seeded(1),
        apparentExportedVAh: seeded(0.001),
      },
      max: {
        currentAvgA: 0,
        neutralA: 0,
        groundA: 0,
        totalA: 0,
        longTimeAvgA: 0,
        phaseA: [0, 0, 0],
        unbalanceCurrentPct: 0,
      },
      thdRange: {
        currentMin: [100, 100, 100],
        currentMax: [0, 0, 0],
        voltageMin: [100, 100, 100],
        voltageMax: [0, 0, 0],
      },
      disturbances: {
        voltage: Math.floor(months * 3 * rng()),
        current: Math.floor(months * 2 * rng()),
        transient: Math.floor(months * 5 * rng()),
      },
      cycles: [
        cycleSet(commissionedMs + Math.floor(months / 2) * MONTH_MS, 0.5),
        cycleSet(commissionedMs, 1),
      ],
      lifetimeCycles: opsSinceCommissioning,
      loadStudyPeakA: {
        day30: breaker.ratingA * Math.min(1.2, nominalLoad * 1.15),
        day365: breaker.ratingA * Math.min(1.2, nominalLoad * 1.25),
        current: 0,
      },
      alarms: {},
    };
    // Start thermally settled: the temperature a long run at this load would have reached.
    const settled = measure(state, noiselessCurrent(state), bus, 0, rng, params, rules);
    const temperatureC = map3((k) => steadyTemperature(settled, k, params));
    return { ...settled, temperatureC, alarms: evaluateAlarms({ ...settled, temperatureC }, rules, {}) };
  });
  return { info, params, rules, tS: 0, bus, feeders };
}

// --- step -------------------------------------------------------------------------------------

/** Phase currents of the load model, before measurement noise. */
function noiselessCurrent(f: FeederState): Triple {
  return map3((k) => Math.max(0, f.breaker.ratingA * f.load * (1 + f.imbalance[k])));
}

function steadyTemperature(f: FeederState, k: Phase, params: ModelParams): number {
  const perUnit = f.currentA[k] / f.breaker.ratingA;
  return f.ambientC + params.riseAtRatedK * f.hotSpot[k] * perUnit * perUnit;
}

function evaluateAlarms(
  f: FeederState,
  rules: readonly AlarmRule[],
  previous: Readonly<Record<string, boolean>>,
): Record<string, boolean> {
  const next: Record<string, boolean> = {};
  for (const r of rules) {
    const value =
      r.signal === "temperature" ? f.temperatureC[r.phase] : (f.currentA[r.phase] / f.breaker.ratingA) * 100;
    next[r.topicId] = hysteresis(previous[r.topicId] ?? false, value, r.raise, r.clear);
  }
  return next;
}

/** The bus moves slowly: voltage ±1 %, frequency ±0.02 Hz, THD-V ~2 %, flicker Pst ~0.35. */
function stepBus(bus: BusState, dtS: number, rng: Rng, params: ModelParams): BusState {
  const flickerPst = map3((k) => clamp(ou(bus.flickerPst[k], 0.35, 600, 0.08, dtS, rng), 0.05, 5));
  return {
    voltageLN: map3((k) => ou(bus.voltageLN[k], params.nominalVoltageLN, 120, 1.5, dtS, rng)),
    frequencyHz: ou(bus.frequencyHz, params.nominalFrequencyHz, 30, 0.02, dtS, rng),
    thdV: map3((k) => clamp(ou(bus.thdV[k], 1.8, 600, 0.3, dtS, rng), 0.3, 8)),
    flickerPst,
    // Plt is a two-hour aggregate of Pst: a slow lag of it is close enough.
    flickerPlt: map3((k) => lag(bus.flickerPlt[k], flickerPst[k], 7200, dtS)),
    ambientC: ou(bus.ambientC, params.ambientC, 3600, 1.5, dtS, rng),
  };
}

/**
 * Measured quantities of a feeder from its driving state and the bus; integrates energy and
 * temperatures over dtS (0 measures without advancing).
 */
function measure(
  f: FeederState,
  previousCurrent: Triple,
  bus: BusState,
  dtS: number,
  rng: Rng,
  params: ModelParams,
  rules: readonly AlarmRule[],
): FeederState {
  const rating = f.breaker.ratingA;
  const trueCurrent = noiselessCurrent(f);
  const currentA = map3((k) => trueCurrent[k] * (1 + 0.002 * gauss(rng)));
  // Each feeder sees the bus voltage less a small drop along its own cables.
  const voltageLN = map3((k) => bus.voltageLN[k] - 1.5 * (trueCurrent[k] / rating) + 0.05 * gauss(rng));
  // |Va∠0° − Vb∠−120°| = √(Va² + Vb² + Va·Vb) for a balanced phase sequence.
  const ll = (a: number, b: number) => Math.sqrt(a * a + b * b + a * b);
  const voltageLL: Triple = [
    ll(voltageLN[0], voltageLN[1]),
    ll(voltageLN[1], voltageLN[2]),
    ll(voltageLN[2], voltageLN[0]),
  ];
  const apparentVA = map3((k) => voltageLN[k] * currentA[k]);
  const activeW = map3((k) => apparentVA[k] * f.pf[k]);
  const reactiveVar = map3((k) => apparentVA[k] * Math.sqrt(1 - f.pf[k] * f.pf[k]));
  const thdV = map3((k) => clamp(bus.thdV[k] + 0.1 * f.thdI[k] * (trueCurrent[k] / rating), 0, 100));

  // Neutral: the phasor sum of the fundamentals plus the triplen (3rd) harmonics, which add.
  let re = 0;
  let im = 0;
  for (const k of PHASES) {
    const angle = ((-120 * k - (Math.acos(f.pf[k]) * 180) / Math.PI) * Math.PI) / 180;
    re += currentA[k] * Math.cos(angle);
    im += currentA[k] * Math.sin(angle);
  }
  const third = sum3(map3((k) => (currentA[k] * harmonicMagnitude(f.thdI[k], 3)) / 100));
  const neutralA = Math.sqrt(re * re + im * im + third * third);
  const groundA = Math.abs(0.0004 * avg3(currentA) * (1 + 0.3 * gauss(rng)));
  const currentAvg = avg3(currentA);
  const longTimeAvgA = lag(f.longTimeAvgA, currentAvg, 900, dtS);

  const ambientC = bus.ambientC;
  const temperatureC = map3((k) =>
    lag(
      f.temperatureC[k],
      steadyTemperature({ ...f, currentA: trueCurrent, ambientC }, k, params),
      params.thermalTauS,
      dtS,
    ),
  );
  // Derivatives of random walks are noise: smooth them over a minute, as a PM app would.
  const temperatureRate =
    dtS > 0
      ? map3((k) => {
          const perMinute = ((temperatureC[k] - ambientC - (f.temperatureC[k] - f.ambientC)) / dtS) * 60;
          return lag(f.temperatureRate[k], perMinute, 60, dtS);
        })
      : f.temperatureRate;
  const currentRate =
    dtS > 0
      ? map3((k) => lag(f.currentRate[k], ((trueCurrent[k] - previousCurrent[k]) / dtS) * 60, 60, dtS))
      : f.currentRate;

  const hours = dtS / 3600;
  const add = (t: Triple, d: Triple): Triple => map3((k) => t[k] + Math.max(0, d[k]) * hours);
  const negative = (t: Triple): Triple => map3((k) => -t[k]);
  const e = f.energy;
  const energy: Energy = {
    activeImportedWh: add(e.activeImportedWh, activeW),
    activeExportedWh: add(e.activeExportedWh, negative(activeW)),
    reactiveImportedVarh: add(e.reactiveImportedVarh, reactiveVar),
    reactiveExportedVarh: add(e.reactiveExportedVarh, negative(reactiveVar)),
    apparentImportedVAh: add(e.apparentImportedVAh, activeW[0] >= 0 ? apparentVA : [0, 0, 0]),
    apparentExportedVAh: e.apparentExportedVAh,
  };

  const maxPhase = Math.max(...currentA);
  const next: FeederState = {
    ...f,
    voltageLN,
    voltageLL,
    frequencyHz: map3(() => bus.frequencyHz + 0.001 * gauss(rng)),
    thdV,
    currentA,
    activeW,
    reactiveVar,
    apparentVA,
    neutralA,
    groundA,
    longTimeAvgA,
    ambientC,
    temperatureC,
    temperatureRate,
    currentRate,
    energy,
    max: {
      currentAvgA: Math.max(f.max.currentAvgA, currentAvg),
      neutralA: Math.max(f.max.neutralA, neutralA),
      groundA: Math.max(f.max.groundA, groundA),
      totalA: Math.max(f.max.totalA, sum3(currentA)),
      longTimeAvgA: Math.max(f.max.longTimeAvgA, longTimeAvgA),
      phaseA: max3(f.max.phaseA, currentA),
      unbalanceCurrentPct: Math.max(f.max.unbalanceCurrentPct, unbalancePct(currentA)),
    },
    thdRange: {
      currentMin: min3(f.thdRange.currentMin, f.thdI),
      currentMax: max3(f.thdRange.currentMax, f.thdI),
      voltageMin: min3(f.thdRange.voltageMin, thdV),
      voltageMax: max3(f.thdRange.voltageMax, thdV),
    },
    loadStudyPeakA: {
      day30: Math.max(f.loadStudyPeakA.day30, maxPhase),
      day365: Math.max(f.loadStudyPeakA.day365, maxPhase),
      current: Math.max(f.loadStudyPeakA.current, maxPhase),
    },
  };
  return { ...next, alarms: evaluateAlarms(next, rules, f.alarms) };
}

function stepFeeder(
  f: FeederState,
  bus: BusState,
  events: { voltage: number; transient: number },
  dtS: number,
  rng: Rng,
  params: ModelParams,
  rules: readonly AlarmRule[],
): FeederState {
  const operations = poisson(dtS, (2 * DAY_MS) / 1000, rng);
  const driven: FeederState = {
    ...f,
    load: clamp(ou(f.load, f.nominalLoad, params.loadTauS, params.loadStd, dtS, rng), 0.02, 1.15),
    imbalance: map3((k) => clamp(ou(f.imbalance[k], f.imbalanceMean[k], 300, 0.01, dtS, rng), -0.2, 0.2)),
    pf: map3((k) => clamp(ou(f.pf[k], f.pfMean, 300, 0.01, dtS, rng), 0.9, 0.98)),
    thdI: map3((k) => clamp(ou(f.thdI[k], f.thdIMean, 600, 0.6, dtS, rng), 0.5, 40)),
    disturbances: {
      voltage: f.disturbances.voltage + events.voltage,
      current: f.disturbances.current + poisson(dtS, 12 * 3600, rng),
      transient: f.disturbances.transient + events.transient,
    },
    cycles: f.cycles.map((c) => ({
      ...c,
      maintenanceCycles: c.maintenanceCycles + operations,
      contactWearPct: Math.min(100, c.contactWearPct + operations * 0.002),
    })),
    lifetimeCycles: f.lifetimeCycles + operations,
  };
  return measure(driven, noiselessCurrent(f), bus, dtS, rng, params, rules);
}

/** Advances the whole lineup by dtS seconds of simulated time. Pure but for the injected rng. */
export function stepLineup(state: LineupState, dtS: number, rng: Rng): LineupState {
  const bus = stepBus(state.bus, dtS, rng, state.params);
  // Sags and transients come from the supply: every feeder of the bus counts them.
  const events = { voltage: poisson(dtS, 6 * 3600, rng), transient: poisson(dtS, 3 * 3600, rng) };
  return {
    ...state,
    tS: state.tS + dtS,
    bus,
    feeders: state.feeders.map((f) => stepFeeder(f, bus, events, dtS, rng, state.params, state.rules)),
  };
}

// --- harmonics --------------------------------------------------------------------------------

/**
 * Relative spectrum shape: odd harmonics fall as h^-1.2; even ones are an order of magnitude
 * smaller, as the half-wave symmetry of real loads makes them.
 */
function harmonicWeight(order: number): number {
  if (order < 2) return 0;
  return order % 2 === 0 ? 0.08 * order ** -1.2 : order ** -1.2;
}

const HARMONIC_NORM = Math.sqrt(
  Array.from({ length: 49 }, (_, i) => harmonicWeight(i + 2) ** 2).reduce((a, b) => a + b),
);

/**
 * Magnitude of harmonic `order` in % of the fundamental, scaled so that the spectrum up to
 * order 50 adds up (root sum of squares) to the given THD. Order 1 is the fundamental: 100 %.
 */
export function harmonicMagnitude(thdPct: number, order: number): number {
  if (order === 1) return 100;
  return (thdPct * harmonicWeight(order)) / HARMONIC_NORM;
}

/** Phase angle of harmonic `order`, degrees in [-180, 180). */
function harmonicAngle(f: FeederState, quantity: "voltage" | "current", k: Phase, order: number): number {
  const fundamental = -120 * k - (quantity === "current" ? (Math.acos(f.pf[k]) * 180) / Math.PI : 0);
  if (order === 1) return wrapDeg(fundamental);
  return wrapDeg(order * fundamental + (f.harmonicOffsetDeg[quantity][order] ?? 0));
}

// --- catalog point → value ----------------------------------------------------------------------

export type ValueFn = (f: FeederState, lineup: LineupState) => Value;

export interface CompiledPoint {
  point: PointDef;
  /** What the simulator publishes for the point, e.g. "current.phase" or "fallback". */
  kind: string;
  value: ValueFn;
}

/** Decimal places per unit: enough for a meter's resolution, short payloads at high rates. */
const DECIMALS: Record<string, number> = {
  V: 2,
  A: 2,
  kA: 1,
  W: 1,
  var: 1,
  VA: 1,
  Wh: 1,
  varh: 1,
  VAh: 1,
  Hz: 3,
  "%": 2,
  degC: 2,
  "degC/min": 3,
  "A/min": 2,
  deg: 1,
  one: 3,
  s: 2,
  month: 1,
};

/** Coerces a model value to the point's dataType: integers rounded and bounded, text as text. */
function coerce(point: PointDef, raw: number | boolean | string | Date): Value {
  switch (point.dataType) {
    case "Boolean":
      return Boolean(raw);
    case "String":
      return String(raw);
    case "DateTime":
      return (
        raw instanceof Date ? raw : new Date(typeof raw === "number" ? raw : String(raw))
      ).toISOString();
    default: {
      const n = raw instanceof Date ? raw.getTime() : Number(raw);
      const bounds = INTEGER_RANGES[point.dataType];
      if (bounds) return clamp(Math.round(n), bounds[0], bounds[1]);
      const d = DECIMALS[point.unit?.key ?? ""] ?? 3;
      const scale = 10 ** d;
      return Math.round(n * scale) / scale;
    }
  }
}

type Raw = (f: FeederState, lineup: LineupState) => number | boolean | string | Date;

/** Phases named in a browse name: "VoltageL1L2" → [0, 1], "CurrentL3" → [2], "ThdVoltage" → []. */
function phasesIn(name: string): Phase[] {
  return [...name.matchAll(/L([123])(?!\d)/g)].map((m) => (Number(m[1]) - 1) as Phase);
}
/** Phases in a predictive-maintenance name: "Phase12DeltaCurrent" → [0, 1]. */
function pmPhases(name: string): Phase[] {
  const m = /^Phase(\d+)/.exec(name);
  return m?.[1] ? [...m[1]].map((d) => (Number(d) - 1) as Phase).filter((k) => k >= 0 && k <= 2) : [];
}

const simNow = (l: LineupState) => l.info.startMs + l.tS * 1000;

/** Per-phase value, the pair's mean for "L1L2" names, or `total` of the three for the rest. */
function byPhase(name: string, of: (f: FeederState) => Triple, total: (t: Triple) => number): Raw {
  const ph = phasesIn(name);
  const [a, b] = ph;
  if (a !== undefined && b !== undefined) return (f) => (of(f)[a] + of(f)[b]) / 2;
  if (a !== undefined) return (f) => of(f)[a];
  return (f) => total(of(f));
}

/** Energy unit → quantity and the counters that hold it. */
const ENERGY_KEYS: Readonly<Record<string, readonly [string, keyof Energy, keyof Energy]>> = {
  Wh: ["active", "activeImportedWh", "activeExportedWh"],
  varh: ["reactive", "reactiveImportedVarh", "reactiveExportedVarh"],
  VAh: ["apparent", "apparentImportedVAh", "apparentExportedVAh"],
};

function powerQuality(p: PointDef): [string, Raw] | undefined {
  const [, area, sub] = p.folder;
  const name = p.browseName;
  const unit = p.unit?.key;
  switch (area) {
    case "Voltage": {
      if (unit === "%") return ["voltage.unbalance", (f) => unbalancePct(f.voltageLN)];
      const [a, b] = phasesIn(name);
      if (a !== undefined && b !== undefined) return ["voltage.lineToLine", (f) => f.voltageLL[a]];
      if (a !== undefined) return ["voltage.lineToNeutral", (f) => f.voltageLN[a]];
      if (/LL/.test(name)) return ["voltage.lineToLineAverage", (f) => avg3(f.voltageLL)];
      if (/LN/.test(name)) return ["voltage.lineToNeutralAverage", (f) => avg3(f.voltageLN)];
      return undefined;
    }
    case "Current": {
      if (p.dataType === "String")
        return ["current.mostLoadedPhase", (f) => `L${f.currentA.indexOf(Math.max(...f.currentA)) + 1}`];
      const isMax = name.startsWith("Max");
      if (unit === "%")
        return isMax
          ? ["current.maxUnbalance", (f) => f.max.unbalanceCurrentPct]
          : ["current.unbalance", (f) => unbalancePct(f.currentA)];
      const base = isMax ? name.slice(3) : name;
      const [a] = phasesIn(base);
      if (a !== undefined)
        return isMax ? ["current.maxPhase", (f) => f.max.phaseA[a]] : ["current.phase", (f) => f.currentA[a]];
      if (/Neutral/.test(base))
        return isMax ? ["current.maxNeutral", (f) => f.max.neutralA] : ["current.neutral", (f) => f.neutralA];
      if (/Ground/.test(base))
        return isMax ? ["current.maxGround", (f) => f.max.groundA] : ["current.ground", (f) => f.groundA];
      if (/Total/.test(base))
        return isMax ? ["current.maxTotal", (f) => f.max.totalA] : ["current.total", (f) => sum3(f.currentA)];
      if (/LongTime/.test(base))
        return isMax
          ? ["current.maxLongTimeAverage", (f) => f.max.longTimeAvgA]
          : ["current.longTimeAverage", (f) => f.longTimeAvgA];
      if (/^PhaseCurrent$/.test(base)) return ["current.maxOfPhases", (f) => Math.max(...f.max.phaseA)];
      if (/Average/.test(base))
        return isMax
          ? ["current.maxAverage", (f) => f.max.currentAvgA]
          : ["current.average", (f) => avg3(f.currentA)];
      return undefined;
    }
    case "Disturbances":
      if (/Voltage/.test(name)) return ["disturbances.voltage", (f) => f.disturbances.voltage];
      if (/Transient/.test(name)) return ["disturbances.transient", (f) => f.disturbances.transient];
      if (/Current/.test(name)) return ["disturbances.current", (f) => f.disturbances.current];
      return undefined;
    case "Power": {
      const of =
        unit === "W"
          ? (f: FeederState) => f.activeW
          : unit === "var"
            ? (f: FeederState) => f.reactiveVar
            : unit === "VA"
              ? (f: FeederState) => f.apparentVA
              : undefined;
      return of ? [`power.${unit}`, byPhase(name, of, sum3)] : undefined;
    }
    case "PowerFactor":
      if (/^PowerFactor/.test(name)) {
        const [a] = phasesIn(name);
        if (a !== undefined) return ["powerFactor.phase", (f) => f.pf[a]];
        // The average power factor of a three-phase load is ΣP / ΣS.
        return ["powerFactor.total", (f) => sum3(f.activeW) / Math.max(1e-9, sum3(f.apparentVA))];
      }
      // Distortion nudges both factors off their sine-wave values (π/2√2 and √2).
      if (/Form/.test(name)) return ["formFactor", (f) => 1.1107 * (1 + (avg3(f.thdI) / 100) ** 2 / 2)];
      if (/Peak|Crest/.test(name))
        return ["peakFactor", (f) => Math.SQRT2 * (1 + 0.8 * (avg3(f.thdI) / 100))];
      return undefined;
    case "Frequency":
      return ["frequency", byPhase(name, (f) => f.frequencyHz, avg3)];
    case "Energy": {
      const keys = ENERGY_KEYS[unit ?? ""];
      if (!keys) return undefined;
      const [kind, imported, exported] = keys;
      const imp = (f: FeederState) => f.energy[imported];
      const exp = (f: FeederState) => f.energy[exported];
      const direction = /Imported|Delivered/.test(name)
        ? "imported"
        : /Exported|Received/.test(name)
          ? "exported"
          : /Net/.test(name)
            ? "net"
            : /Accumulated/.test(name)
              ? "accumulated"
              : undefined;
      if (!direction) return undefined;
      const of =
        direction === "imported"
          ? imp
          : direction === "exported"
            ? exp
            : direction === "net"
              ? (f: FeederState) => map3((k) => imp(f)[k] - exp(f)[k])
              : (f: FeederState) => map3((k) => imp(f)[k] + exp(f)[k]);
      return [`energy.${kind}.${direction}`, byPhase(name, of, sum3)];
    }
    case "THD": {
      const quantity = /Voltage/.test(name) ? "voltage" : /Current/.test(name) ? "current" : undefined;
      if (!quantity) return undefined;
      const range = name.startsWith("Min") ? "Min" : name.startsWith("Max") ? "Max" : "";
      const of = (f: FeederState): Triple =>
        range === ""
          ? quantity === "voltage"
            ? f.thdV
            : f.thdI
          : f.thdRange[`${quantity}${range}` as keyof FeederState["thdRange"]];
      return [`thd.${quantity}${range}`, byPhase(name, of, avg3)];
    }
    case "Flicker": {
      const [a] = phasesIn(name);
      const k = a ?? 0;
      if (/Plt/.test(name)) return ["flicker.plt", (_f, l) => l.bus.flickerPlt[k]];
      if (/Pst/.test(name)) return ["flicker.pst", (_f, l) => l.bus.flickerPst[k]];
      return undefined;
    }
    case "Harmonics": {
      const q = /^(Voltage|Current)L([123])$/.exec(sub ?? "");
      const order = Number(/^H(\d+)/.exec(name)?.[1]);
      if (!q?.[1] || !q[2] || !(order >= 1)) return undefined;
      const quantity = q[1] === "Voltage" ? "voltage" : "current";
      const k = (Number(q[2]) - 1) as Phase;
      if (unit === "deg") return ["harmonics.angle", (f) => harmonicAngle(f, quantity, k, order)];
      return [
        "harmonics.magnitude",
        (f) => harmonicMagnitude(quantity === "voltage" ? f.thdV[k] : f.thdI[k], order),
      ];
    }
    default:
      return undefined;
  }
}

function compliance(p: PointDef): [string, Raw] | undefined {
  const name = p.browseName;
  const folder = p.folder.join("/");
  if (name === "LineupName") return ["lineupName", (_f, l) => l.info.lineupName];
  if (/BreakerInspection/.test(folder)) {
    const b =
      (pick: (b: BreakerInfo) => number | string): Raw =>
      (f) =>
        pick(f.breaker);
    const table: [RegExp, (b: BreakerInfo) => number | string][] = [
      [/^LongTimePickUp/, (x) => x.longTimePickUpA],
      [/^ShortTimePickUp/, (x) => x.shortTimePickUpA],
      [/^GroundFaultPickUp/, (x) => x.groundFaultPickUpA],
      [/^InstantaneousPickUp/, (x) => x.instantaneousPickUpA],
      [/^LongTimeTimeDelay/, (x) => x.longTimeDelayS],
      [/^ShortTimeTimeDelay/, (x) => x.shortTimeDelayS],
      [/^GroundFaultTimeDelay/, (x) => x.groundFaultDelayS],
      [/^TripUnitSerialNumber/, (x) => x.tripUnitSerialNumber],
      [/^SerialNumber/, (x) => x.serialNumber],
      [/^FrameSize/, (x) => x.frameA],
      [/^InterruptingRating/, (x) => x.interruptingKA],
      [/^VoltageRating/, (x) => x.voltageRatingV],
      [/^TripUnitType/, (x) => x.tripUnitType],
      [/^RatingSize/, (x) => x.ratingA],
      [/Compartment|Section/, (x) => x.compartment],
    ];
    const hit = table.find(([re]) => re.test(name));
    return hit ? [`inspection.${name}`, b(hit[1])] : undefined;
  }
  if (/LoadStudy/.test(folder)) {
    // The 30- and 365-day studies are finished; the running study started 12 days ago.
    const days = Number(/LoadStudy(\d+)Day/.exec(folder)?.[1] ?? 0);
    const peak = (f: FeederState) =>
      days === 0 ? f.loadStudyPeakA.current : days <= 30 ? f.loadStudyPeakA.day30 : f.loadStudyPeakA.day365;
    if (p.dataType === "Boolean") return ["loadStudy.running", () => true];
    if (/AvailableCurrent/.test(name))
      return ["loadStudy.availableCurrent", (f) => Math.max(0, f.breaker.ratingA - peak(f))];
    if (/LastStart/.test(name))
      return [
        "loadStudy.lastStart",
        (_f, l) => new Date(l.info.startMs - (days === 0 ? 12 : days + 5) * DAY_MS),
      ];
    if (/LastComplete/.test(name))
      return ["loadStudy.lastComplete", (_f, l) => new Date(l.info.startMs - (days === 0 ? 42 : 5) * DAY_MS)];
    return undefined;
  }
  if (/ConditionMonitoring/.test(folder)) {
    const set = Number(/Set(\d+)/.exec(folder)?.[1] ?? 1) - 1;
    const cs = (f: FeederState) => f.cycles[set] ?? f.cycles[0]!;
    const months = (f: FeederState, l: LineupState) => (simNow(l) - cs(f).sinceMs) / MONTH_MS;
    if (/^LifetimeSwitchingCycles/.test(name)) return ["condition.lifetimeCycles", (f) => f.lifetimeCycles];
    if (/^MaintenanceSwitchingCycles/.test(name))
      return ["condition.maintenanceCycles", (f) => cs(f).maintenanceCycles];
    if (/^MaxMaintenance/.test(name))
      return ["condition.maxMaintenanceCycles", (f) => cs(f).maxMaintenanceCycles];
    if (/^MaxLifetime/.test(name)) return ["condition.maxLifetimeCycles", (f) => cs(f).maxLifetimeCycles];
    if (/MonthsRunning/.test(name)) return ["condition.monthsRunning", (f, l) => Math.floor(months(f, l))];
    if (/Lifespan/.test(name))
      return ["condition.remainingLifespan", (f, l) => clamp(cs(f).lifeMonths - months(f, l), 0, 600)];
    if (/ContactWear/.test(name)) return ["condition.contactWear", (f) => cs(f).contactWearPct];
    if (/Status/.test(name))
      return [
        "condition.complianceStatus",
        (f) => {
          const used = cs(f).maintenanceCycles / cs(f).maxMaintenanceCycles;
          return used >= 1 ? "Maintenance overdue" : used >= 0.8 ? "Maintenance due" : "OK";
        },
      ];
    return undefined;
  }
  return undefined;
}

/** The group's configuration as JSON text: the thresholds the alarms below actually use. */
export function groupConfig(f: FeederState, lineup: LineupState): string {
  const { info, rules } = lineup;
  return JSON.stringify({
    group: f.group,
    breaker: { deviceType: info.deviceType, deviceName: f.name, deviceSource: info.source },
    ratedCurrentA: f.breaker.ratingA,
    ambientSensor: true,
    alarms: rules.map((r) => ({
      id: r.topicId,
      signal: r.signal === "temperature" ? "phaseTemperatureC" : "phaseCurrentPctOfRating",
      phase: r.phase + 1,
      raiseAt: r.raise,
      clearAt: r.clear,
    })),
  });
}

function predictiveMaintenance(p: PointDef): [string, Raw] | undefined {
  const name = p.browseName;
  const area = p.folder[1];
  if (p.alarm) return ["alarm", (f) => f.alarms[p.topicId] ?? false];
  if (p.dataType === "String" && /Config/.test(name)) return ["groupConfig", groupConfig];
  const [a, b] = pmPhases(name);
  const rise = (f: FeederState, k: Phase) => f.temperatureC[k] - f.ambientC;
  const pct = (x: number, y: number, floor: number) =>
    clamp(((x - y) / Math.max(floor, (x + y) / 2)) * 100, -100, 100);
  if (area === "Temperature") {
    if (/Ambient/.test(name)) return ["temperature.ambient", (f) => f.ambientC];
    if (a === undefined) return undefined;
    if (b !== undefined) {
      // A percentage of the rise above ambient exposes a poor connection; 1 K floor at no load.
      if (/Percent/.test(name)) return ["temperature.deltaPercent", (f) => pct(rise(f, a), rise(f, b), 1)];
      return ["temperature.phaseDelta", (f) => f.temperatureC[a] - f.temperatureC[b]];
    }
    if (/Delta/.test(name)) return ["temperature.riseAboveAmbient", (f) => rise(f, a)];
    return ["temperature.phase", (f) => f.temperatureC[a]];
  }
  if (area === "Current") {
    if (a === undefined) return undefined;
    if (b !== undefined) {
      if (/Percent/.test(name)) return ["current.deltaPercent", (f) => pct(f.currentA[a], f.currentA[b], 1)];
      return ["current.phaseDelta", (f) => f.currentA[a] - f.currentA[b]];
    }
    return ["current.phase", (f) => f.currentA[a]];
  }
  if (area === "RateOfRise" && a !== undefined) {
    if (/Temperature/.test(name)) return ["rateOfRise.temperature", (f) => f.temperatureRate[a]];
    if (/Current/.test(name)) return ["rateOfRise.current", (f) => f.currentRate[a]];
  }
  return undefined;
}

/** A value of the right type for a point no model recognises, so a catalog edit never breaks a run. */
function fallback(p: PointDef): Raw {
  switch (p.dataType) {
    case "Boolean":
      return () => false;
    case "String":
      return (f) => `${p.label} (${f.name})`;
    case "DateTime":
      return (_f, l) => new Date(l.info.startMs);
    default: {
      const mid = p.range ? (p.range.low + p.range.high) / 2 : 0;
      return () => mid;
    }
  }
}

/** Picks the value model of one catalog point. */
export function compilePoint(p: PointDef): CompiledPoint {
  const top = p.folder[0];
  const hit =
    top === "PowerQuality"
      ? powerQuality(p)
      : top === "Compliance"
        ? compliance(p)
        : top === "PredictiveMaintenance"
          ? predictiveMaintenance(p)
          : undefined;
  const [kind, raw] = hit ?? ["fallback", fallback(p)];
  return { point: p, kind, value: (f, l) => coerce(p, raw(f, l)) };
}

// --- publishing policy ------------------------------------------------------------------------

/**
 * How a point is published. `static`: nameplate and protection settings, once at start,
 * retained. `status`: alarms and state-like values, retained and QoS 1 (the vendor page retains
 * critical alarms and status updates). `measurement`: the rest, not retained, at the chosen QoS.
 */
export type PublishClass = "static" | "status" | "measurement";

export function publishClass(p: PointDef): PublishClass {
  if (p.alarm) return "status";
  if (p.folder[0] === "Compliance" && (p.folder.includes("BreakerInspection") || p.folder.length === 1))
    return "static";
  if (p.folder[0] !== "PowerQuality" && ["String", "Boolean", "DateTime"].includes(p.dataType))
    return "status";
  return "measurement";
}

/** Predictive-maintenance points belong to the group device; all others to the breaker. */
export function isGroupPoint(p: PointDef): boolean {
  return p.folder[0] === "PredictiveMaintenance";
}

/** `<family>/<id>/<deviceType>/<deviceName>/<deviceSource>`. */
export function topicFor(p: PointDef, f: FeederState, info: LineupInfo): string {
  return isGroupPoint(p)
    ? `${p.topicId}/${info.groupType}/${f.group}/${info.groupSource}`
    : `${p.topicId}/${info.deviceType}/${f.name}/${info.source}`;
}

// --- value → payload --------------------------------------------------------------------------

/** The payload shapes the data-model notes (errata 7) require the gateway to accept. */
export const SHAPES = ["plain", "json", "object", "vals"] as const;
export type Shape = (typeof SHAPES)[number];

export interface Sample {
  topicId: string;
  value: Value;
  /** ISO 8601 source timestamp. */
  ts: string;
  /** Message sequence number: always in the `vals` shape, in `object` only when given. */
  seq?: number;
}

/**
 * Encodes one sample. `plain`: the value as text (`230.41`, `true`, `OK`); `json`: a JSON
 * scalar; `object`: `{"value","ts","quality"}`; `vals`: the Industrial Edge Databus shape.
 */
export function encodePayload(shape: Shape, s: Sample): string {
  switch (shape) {
    case "plain":
      return typeof s.value === "string" ? s.value : String(s.value);
    case "json":
      return JSON.stringify(s.value);
    case "object":
      return JSON.stringify(
        s.seq === undefined
          ? { value: s.value, ts: s.ts, quality: "good" }
          : { value: s.value, ts: s.ts, quality: "good", seq: s.seq },
      );
    case "vals":
      // qc 3 is "good" in the Databus quality code.
      return JSON.stringify({ seq: s.seq ?? 0, vals: [{ id: s.topicId, qc: 3, ts: s.ts, val: s.value }] });
  }
}
