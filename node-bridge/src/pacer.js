'use strict';

const { SessionState } = require('./session-state');

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** Why sends are held back, as reported in /v1/session and in 429 bodies. */
const PauseReason = Object.freeze({
  HOURLY_CAP: 'hourly_cap',
  DAILY_CAP: 'daily_cap',
  WARMUP_CAP: 'warmup_cap',
  RATE_LIMITED: 'whatsapp_rate_limited',
  LOGGED_OUT: 'session_logged_out',
});

/**
 * Text of a session's lastError that means WhatsApp itself ended the link:
 * the phone unlinked the device (LOGOUT, UNPAIRED) or the account was blocked
 * (TOS_BLOCK, SMB_TOS_BLOCK). whatsapp-web.js passes these WAState names as
 * the 'disconnected' reason, which the gateway records as
 * `disconnected: <REASON>`. Upper case only: the operator's own
 * POST /v1/session/logout records "logging out", which is not a risk signal.
 */
const LOGGED_OUT_PATTERN = /\b(?:LOGOUT|UNPAIRED|UNPAIRED_IDLE|TOS_BLOCK|SMB_TOS_BLOCK)\b/;

/**
 * Day number (1 for the start date) of `nowMs` in a warm-up that began on
 * `startDate` (YYYY-MM-DD, a UTC calendar day); 0 before the start.
 */
function warmupDay(startDate, nowMs) {
  const startMs = Date.parse(`${startDate}T00:00:00Z`);
  if (nowMs < startMs) return 0;
  return Math.floor((nowMs - startMs) / DAY_MS) + 1;
}

/**
 * The account-protecting part of pacing: hourly and daily caps, an optional
 * warm-up schedule of daily caps for a young number, and pauses after risk
 * signals (WhatsApp's own rate errors, the session being logged out by
 * WhatsApp). The random spacing between two sends is the send queue's job;
 * this decides whether a send may happen at all, and if not, until when.
 *
 * Windows are rolling (the last 60 minutes, the last 24 hours) rather than
 * calendar hours and days: "never more than N in any hour" holds at every
 * moment, and no burst is allowed at the turn of an hour. The warm-up day is
 * the UTC calendar day counted from its start date (day 1), and its cap
 * replaces the daily cap when lower; after the schedule's last day the daily
 * cap alone applies.
 *
 * Counted are sends that reached the gateway (whatever their outcome: a
 * failed send may still have reached WhatsApp). `store` (pacing-store.js, or
 * anything with load()/save(state)) keeps the send times and the pause, so a
 * restarted bridge does not grant a fresh hour or day. `now` is injectable
 * for tests.
 */
class Pacer {
  constructor({
    enabled = true,
    hourlyCap = 0,
    dailyCap = 0,
    warmup = null,
    riskPauseMs = 0,
    store = null,
    now = Date.now,
  } = {}) {
    this.enabled = enabled;
    this._hourlyCap = hourlyCap;
    this._dailyCap = dailyCap;
    this._warmup = warmup;
    this._riskPauseMs = riskPauseMs;
    this._store = store;
    this._now = now;
    const saved = store ? store.load() : null;
    this._sends = saved ? saved.sends.slice().sort((a, b) => a - b) : [];
    this._pause = saved ? saved.pause : null;
    this._forget(now());
  }

  /** The daily cap in force at `nowMs`: the warm-up day's cap when lower, 0 = none. */
  dailyCapAt(nowMs) {
    const warm = this._warmupCapAt(nowMs);
    if (warm === null) return this._dailyCap;
    return this._dailyCap > 0 ? Math.min(this._dailyCap, warm) : warm;
  }

  _warmupCapAt(nowMs) {
    if (!this._warmup) return null;
    const day = warmupDay(this._warmup.start, nowMs);
    if (day < 1 || day > this._warmup.caps.length) return null;
    return this._warmup.caps[day - 1];
  }

  /**
   * Null when a send may go now; otherwise {reason, until (ms), limit} for
   * the wait that ends last among the reasons that hold it back, so a
   * client told to come back at `until` is not refused again for another
   * cap.
   */
  check() {
    if (!this.enabled) return null;
    const now = this._now();
    this._forget(now);
    const holds = [];
    if (this._pause && this._pause.until > now) {
      holds.push({ reason: this._pause.reason, until: this._pause.until, limit: null });
    }
    const lastHour = this._countSince(now - HOUR_MS);
    if (this._hourlyCap > 0 && lastHour >= this._hourlyCap) {
      holds.push({ reason: PauseReason.HOURLY_CAP, until: this._reopensAt(this._hourlyCap, HOUR_MS, now - HOUR_MS), limit: this._hourlyCap });
    }
    const dailyCap = this.dailyCapAt(now);
    if (dailyCap > 0 && this._sends.length >= dailyCap) {
      const warm = this._warmupCapAt(now);
      const reason = warm !== null && warm === dailyCap ? PauseReason.WARMUP_CAP : PauseReason.DAILY_CAP;
      holds.push({ reason, until: this._dailyReopening(dailyCap, now), limit: dailyCap });
    }
    if (holds.length === 0) return null;
    return holds.reduce((latest, hold) => (hold.until > latest.until ? hold : latest));
  }

  /**
   * When the rolling window starting after `windowStart` holds fewer than
   * `cap` sends again: the oldest send that must age out is the one `cap`
   * places from the newest.
   */
  _reopensAt(cap, windowMs, windowStart) {
    const inWindow = this._sends.filter((at) => at > windowStart);
    return inWindow[inWindow.length - cap] + windowMs;
  }

  /**
   * The daily window reopens when enough sends age out of the last 24 hours,
   * or, during a warm-up, at the next UTC midnight if the next day's cap
   * already allows a send (whichever comes first).
   */
  _dailyReopening(cap, now) {
    const ageOut = this._reopensAt(cap, DAY_MS, now - DAY_MS);
    if (!this._warmup) return ageOut;
    const nextMidnight = (Math.floor(now / DAY_MS) + 1) * DAY_MS;
    const nextCap = this.dailyCapAt(nextMidnight);
    const countThen = this._sends.filter((at) => at > nextMidnight - DAY_MS).length;
    if (nextMidnight < ageOut && (nextCap === 0 || countThen < nextCap)) return nextMidnight;
    return ageOut;
  }

  /** Count a send that reached the gateway, and persist the counters. */
  recordSend() {
    if (!this.enabled) return;
    const now = this._now();
    this._sends.push(now);
    this._forget(now);
    this._save();
  }

  /**
   * A risk signal: hold every send for `riskPauseMs` (or `atLeastMs`, if
   * longer: WhatsApp's own Retry-After). A later, longer pause extends it;
   * a shorter one never shortens it. Persisted.
   */
  pause(reason, { atLeastMs = 0 } = {}) {
    if (!this.enabled) return null;
    const lengthMs = Math.max(this._riskPauseMs, atLeastMs);
    if (lengthMs <= 0) return null;
    const until = this._now() + lengthMs;
    if (!this._pause || this._pause.until < until) {
      this._pause = { reason, until };
      this._save();
    }
    return this._pause;
  }

  /** Called on every session state change: a logout by WhatsApp is a risk signal. */
  sessionChanged(status) {
    if (status && typeof status.lastError === 'string' && status.state !== SessionState.READY && LOGGED_OUT_PATTERN.test(status.lastError)) {
      return this.pause(PauseReason.LOGGED_OUT);
    }
    return null;
  }

  /** Snapshot for GET /v1/session. */
  status() {
    const now = this._now();
    this._forget(now);
    const paused = this._pause && this._pause.until > now ? this._pause : null;
    const hold = this.check();
    const dailyCap = this.dailyCapAt(now);
    return {
      enabled: this.enabled,
      sentLastHour: this._countSince(now - HOUR_MS),
      sentLast24h: this._sends.length,
      hourlyCap: this.enabled && this._hourlyCap > 0 ? this._hourlyCap : null,
      dailyCap: this.enabled && dailyCap > 0 ? dailyCap : null,
      warmupDay: this.enabled && this._warmup ? warmupDay(this._warmup.start, now) : null,
      pausedUntil: hold ? new Date(hold.until).toISOString() : null,
      pauseReason: hold ? hold.reason : null,
      riskPausedUntil: paused ? new Date(paused.until).toISOString() : null,
    };
  }

  _countSince(startMs) {
    let count = 0;
    for (let i = this._sends.length - 1; i >= 0 && this._sends[i] > startMs; i -= 1) count += 1;
    return count;
  }

  /** Drop send times older than the longest window, and an expired pause. */
  _forget(now) {
    let drop = 0;
    while (drop < this._sends.length && this._sends[drop] <= now - DAY_MS) drop += 1;
    if (drop > 0) this._sends.splice(0, drop);
    if (this._pause && this._pause.until <= now) this._pause = null;
  }

  _save() {
    if (this._store) this._store.save({ sends: this._sends, pause: this._pause });
  }
}

module.exports = { Pacer, PauseReason, warmupDay, LOGGED_OUT_PATTERN, HOUR_MS, DAY_MS };
