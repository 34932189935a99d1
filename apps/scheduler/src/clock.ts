/**
 * The scheduler's notion of now. Injected (token `CLOCK`) so tests can drive the firing path through a
 * daylight-saving change or a long outage without waiting for one. Replicas should run NTP: clock skew
 * between replicas shifts when an occurrence fires by the skew, never how many times (the row lock and
 * `next_run_at` decide that).
 */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };
