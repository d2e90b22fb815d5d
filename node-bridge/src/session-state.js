'use strict';

/**
 * The WhatsApp session's states, spelled once. Gateways move between them,
 * routes report them, and the OpenAPI document enumerates SESSION_STATES
 * wherever a state appears (/health, /v1/session, the `state` of a 503
 * NOT_READY), so the Python provider can check through /openapi.json that it
 * has words for every state a user may see.
 *
 *  - STARTING: the client (and its browser) is being launched;
 *  - QR: waiting for the login QR code to be scanned;
 *  - AUTHENTICATED: logged in, WhatsApp Web still loading;
 *  - READY: sends can work;
 *  - DISCONNECTED: the session or browser went away (or is being stopped);
 *  - FAILED: start-up or login failed; a restart is scheduled.
 */
const SessionState = Object.freeze({
  STARTING: 'STARTING',
  QR: 'QR',
  AUTHENTICATED: 'AUTHENTICATED',
  READY: 'READY',
  DISCONNECTED: 'DISCONNECTED',
  FAILED: 'FAILED',
});

/** Every state, in lifecycle order (the OpenAPI enum). */
const SESSION_STATES = Object.freeze(Object.values(SessionState));

module.exports = { SessionState, SESSION_STATES };
