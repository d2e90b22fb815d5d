'use strict';

const fs = require('node:fs');
const path = require('node:path');

const FILE_NAME = 'pacing-state.json';

/** The counters file exists but cannot be used; the message names it and the fix. */
class PacingStateError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PacingStateError';
  }
}
const VERSION = 1;

/**
 * Keeps the pacer's counters (the send times of the last 24 hours and a
 * risk pause) in `<BRIDGE_DATA_DIR>/pacing-state.json`, so a restarted
 * bridge does not hand out a fresh hour, day or warm-up allowance, nor
 * forget that WhatsApp told it to slow down.
 *
 * Each save writes a temporary file, fsyncs it and renames it over the old
 * one: a crash (even `kill -9`) leaves either the previous state or the new
 * one, never half a file. Saves are synchronous on purpose: they happen once
 * per send that reached WhatsApp, at most a few per minute with pacing on,
 * and a counter written after the answer could be lost by a crash right
 * after the send.
 *
 * A file that exists but cannot be read as this format stops the bridge
 * with an error naming it, rather than being ignored: ignoring it would
 * silently reset the caps that protect the account.
 */
class PacingFileStore {
  constructor({ dataDir }) {
    this.path = path.join(dataDir, FILE_NAME);
    this._dataDir = dataDir;
  }

  /** {sends, pause} as saved, or null when no file exists yet. */
  load() {
    let text;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (err) {
      if (err && err.code === 'ENOENT') return null;
      throw new PacingStateError(`cannot read the pacing counters in ${this.path}: ${err.message}`);
    }
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      throw new PacingStateError(`the pacing counters in ${this.path} are not valid JSON; delete the file to reset the caps' counters`);
    }
    const sendsValid = data && Array.isArray(data.sends) && data.sends.every((at) => Number.isFinite(at));
    const pause = data ? data.pause : undefined;
    const pauseValid = pause === null || (pause && typeof pause.reason === 'string' && Number.isFinite(pause.until));
    if (!data || data.version !== VERSION || !sendsValid || !pauseValid) {
      throw new PacingStateError(`the pacing counters in ${this.path} are not in the expected format (version ${VERSION}); delete the file to reset the caps' counters`);
    }
    return { sends: data.sends, pause: pause ? { reason: pause.reason, until: pause.until } : null };
  }

  /** Replace the saved state atomically. */
  save({ sends, pause }) {
    fs.mkdirSync(this._dataDir, { recursive: true, mode: 0o700 }); // owner only, like the store
    const temporary = `${this.path}.${process.pid}.tmp`;
    const body = JSON.stringify({ version: VERSION, sends, pause });
    const fd = fs.openSync(temporary, 'w', 0o600);
    try {
      fs.writeSync(fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, this.path);
  }
}

module.exports = { PacingFileStore, PacingStateError, PACING_FILE_NAME: FILE_NAME };
