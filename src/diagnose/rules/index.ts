/**
 * Every diagnosis rule, in the order their findings are reported: how the upgrade was answered
 * first, then what happened on the stream.
 */
import type { Rule } from '../types.js';
import { backendDial } from './backend-dial.js';
import { buffering } from './buffering.js';
import { containerNotFound } from './container-not-found.js';
import { corruptFrames } from './corrupt-frames.js';
import { exitUnknown } from './exit-unknown.js';
import { forbidden } from './forbidden.js';
import { forwardProxy } from './forward-proxy.js';
import { frameTooLarge } from './frame-too-large.js';
import { http2Upgrade } from './http2-upgrade.js';
import { idleTimeout } from './idle-timeout.js';
import { noCloseFrame } from './no-close-frame.js';
import { noFallback } from './no-fallback.js';
import { noFramesAfter101 } from './no-frames-after-101.js';
import { noResponse } from './no-response.js';
import { notFound } from './not-found.js';
import { pfError } from './pf-error.js';
import { pongMissing } from './pong-missing.js';
import { rbacVerbSplit } from './rbac-verb-split.js';
import { runtimeStreaming } from './runtime-streaming.js';
import { spdyUnsupported } from './spdy-unsupported.js';
import { statusMissing } from './status-missing.js';
import { streamVersionMissing } from './stream-version-missing.js';
import { subprotocolMismatch } from './subprotocol-mismatch.js';
import { unexpectedProtocol } from './unexpected-protocol.js';
import { upgradeStripped } from './upgrade-stripped.js';
import { websocketDisabled } from './websocket-disabled.js';
import { websocketFallback } from './websocket-fallback.js';

export const RULES: Rule[] = [
  websocketFallback,
  websocketDisabled,
  noFallback,
  upgradeStripped,
  http2Upgrade,
  forwardProxy,
  noResponse,
  spdyUnsupported,
  subprotocolMismatch,
  streamVersionMissing,
  unexpectedProtocol,
  rbacVerbSplit,
  forbidden,
  notFound,
  containerNotFound,
  backendDial,
  runtimeStreaming,
  noFramesAfter101,
  pongMissing,
  idleTimeout,
  noCloseFrame,
  statusMissing,
  exitUnknown,
  corruptFrames,
  frameTooLarge,
  pfError,
  buffering,
];

export {
  backendDial, buffering, containerNotFound, corruptFrames, exitUnknown, forbidden, forwardProxy, frameTooLarge, http2Upgrade, idleTimeout, noCloseFrame, noFallback,
  noFramesAfter101, noResponse, notFound, pfError, pongMissing, rbacVerbSplit, runtimeStreaming, spdyUnsupported, statusMissing, streamVersionMissing, subprotocolMismatch,
  unexpectedProtocol, upgradeStripped, websocketDisabled, websocketFallback,
};
