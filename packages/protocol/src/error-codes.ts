/**
 * The unified error-code table (design.md §5).
 *
 * A code is a uint16: the high byte is the error type, the low byte the code within it.
 * Two codes come from the design verbatim and do not follow the type split
 * (203 "No such host", 3021 "Invalid params"); they are kept as the design prints them
 * because operators' tooling already matches on them.
 *
 * Every code is documented in docs/errors.md; a test fails when one is missing there.
 * Match on the number on the wire, on the stable name in code.
 */
export const ErrorType = {
  OK: 0x00,
  EXECUTION: 0x01,
  JOB: 0x02,
  CHANNEL: 0x03,
  TASK: 0x04,
  COLLECTOR: 0x05,
  /** The host's own policy file refused what the server asked (docs/security.md). */
  POLICY: 0x06,
  /** Host identity on the command channel: client certificates of the host CA (docs/security.md). */
  IDENTITY: 0x07,
  /** Signed jobs and command frames: the agent refused what did not verify (docs/security.md). */
  SIGNATURE: 0x08,
} as const;

function code(type: number, low: number): number {
  return ((type & 0xff) << 8) | (low & 0xff);
}

export const ErrorCode = {
  /** Success. */
  OK: 0,
  /** Polaris fan-out: the host is not connected to this server (design.md §5). */
  NO_SUCH_HOST: 203,
  /** A frame or request is malformed or has bad parameters (design.md §4). */
  INVALID_PARAMS: 3021,

  // type 0x01: the command was started and then failed while running (design.md §5).
  EXEC_TIMEOUT: code(ErrorType.EXECUTION, 0x00),
  EXEC_ERROR: code(ErrorType.EXECUTION, 0x01),
  EXEC_KILLED: code(ErrorType.EXECUTION, 0x02),
  EXEC_UNKNOWN_USER: code(ErrorType.EXECUTION, 0x03),
  EXEC_UNKNOWN_GROUP: code(ErrorType.EXECUTION, 0x04),
  EXEC_BUSY: code(ErrorType.EXECUTION, 0x05),
  /** The server cancelled the running command or periodic run (a `cancel` frame); its process group was killed. */
  EXEC_CANCELLED: code(ErrorType.EXECUTION, 0x06),

  // type 0x02: BootAgent jobs.
  JOB_UNSUPPORTED_ACTION: code(ErrorType.JOB, 0x01),
  JOB_INVALID: code(ErrorType.JOB, 0x02),
  JOB_DOWNLOAD_FAILED: code(ErrorType.JOB, 0x03),
  JOB_CHECKSUM_MISMATCH: code(ErrorType.JOB, 0x04),
  JOB_DOWNLOAD_TOO_LARGE: code(ErrorType.JOB, 0x05),
  JOB_DOWNLOAD_TRUNCATED: code(ErrorType.JOB, 0x06),
  JOB_INSTALL_FAILED: code(ErrorType.JOB, 0x07),
  JOB_ROLLED_BACK: code(ErrorType.JOB, 0x08),
  JOB_NOT_INSTALLED: code(ErrorType.JOB, 0x09),
  JOB_START_FAILED: code(ErrorType.JOB, 0x0a),
  JOB_STOP_FAILED: code(ErrorType.JOB, 0x0b),
  JOB_BAD_PACKAGE: code(ErrorType.JOB, 0x0c),
  JOB_INTERRUPTED: code(ErrorType.JOB, 0x0d),
  JOB_DISK_FULL: code(ErrorType.JOB, 0x0e),
  JOB_UNINSTALL_FAILED: code(ErrorType.JOB, 0x0f),
  /** The server revoked the job (a `revoke` of the status reply) while it was queued or running; what ran was aborted. */
  JOB_REVOKED: code(ErrorType.JOB, 0x10),

  // type 0x03: BasicAgent command channel.
  CHANNEL_UNKNOWN_METHOD: code(ErrorType.CHANNEL, 0x01),
  CHANNEL_NOT_CONNECTED: code(ErrorType.CHANNEL, 0x02),
  CHANNEL_TIMEOUT: code(ErrorType.CHANNEL, 0x03),
  CHANNEL_INVALID_CRON: code(ErrorType.CHANNEL, 0x04),
  CHANNEL_NO_SUCH_TASK: code(ErrorType.CHANNEL, 0x05),
  /** A `cancel` frame matched nothing running (finished already, or never here). */
  CHANNEL_NOTHING_TO_CANCEL: code(ErrorType.CHANNEL, 0x06),
  /** The server node holding the agent's channel was lost (killed, cut off from the database) while a request routed to it was in flight (docs/scale.md). */
  CHANNEL_NODE_LOST: code(ErrorType.CHANNEL, 0x07),

  // type 0x04: server task engine (design.md §5 task states).
  TASK_EXPIRED: code(ErrorType.TASK, 0x01),
  TASK_REVOKED: code(ErrorType.TASK, 0x02),
  TASK_RETRIES_EXHAUSTED: code(ErrorType.TASK, 0x03),
  TASK_HOST_UNKNOWN: code(ErrorType.TASK, 0x04),
  TASK_NO_PACKAGE: code(ErrorType.TASK, 0x05),
  TASK_HALTED: code(ErrorType.TASK, 0x06),
  TASK_DEPENDENCY_FAILED: code(ErrorType.TASK, 0x07),
  TASK_BURIED_EXPIRED: code(ErrorType.TASK, 0x08),

  // type 0x05: getinfo collectors.
  COLLECTOR_UNKNOWN: code(ErrorType.COLLECTOR, 0x01),
  COLLECTOR_BAD_ARGUMENT: code(ErrorType.COLLECTOR, 0x02),
  COLLECTOR_FAILED: code(ErrorType.COLLECTOR, 0x03),
  COLLECTOR_NOT_FOUND: code(ErrorType.COLLECTOR, 0x04),

  // type 0x06: the host policy file (packages/agent-core/src/host-policy.ts).
  POLICY_REFUSED: code(ErrorType.POLICY, 0x01),
  POLICY_OPERATOR_SIGNATURE: code(ErrorType.POLICY, 0x02),

  // type 0x07: host identity on the command channel (packages/server/src/hub/init-identity.ts).
  IDENTITY_NO_CERTIFICATE: code(ErrorType.IDENTITY, 0x01),
  IDENTITY_MISMATCH: code(ErrorType.IDENTITY, 0x02),
  IDENTITY_HOST_UNKNOWN: code(ErrorType.IDENTITY, 0x03),
  IDENTITY_CERT_SUPERSEDED: code(ErrorType.IDENTITY, 0x04),
  IDENTITY_HOSTNAME_AMBIGUOUS: code(ErrorType.IDENTITY, 0x05),

  // type 0x08: signed jobs and command frames (packages/protocol/src/signing.ts).
  SIGNATURE_MISSING: code(ErrorType.SIGNATURE, 0x01),
  SIGNATURE_INVALID: code(ErrorType.SIGNATURE, 0x02),
  SIGNATURE_EXPIRED: code(ErrorType.SIGNATURE, 0x03),
  SIGNATURE_REPLAYED: code(ErrorType.SIGNATURE, 0x04),
  SIGNATURE_WRONG_TARGET: code(ErrorType.SIGNATURE, 0x05),
  SIGNATURE_NO_PINNED_KEY: code(ErrorType.SIGNATURE, 0x06),
  SIGNATURE_KEY_CHANGED: code(ErrorType.SIGNATURE, 0x07),
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

/** Short operator-facing text for each code: the `message` of a failed reply. */
export const ErrorMessage: Record<ErrorCodeName, string> = {
  OK: 'success',
  NO_SUCH_HOST: 'No such host',
  INVALID_PARAMS: 'Invalid params',
  EXEC_TIMEOUT: 'Execution timeout',
  EXEC_ERROR: 'Execution error',
  EXEC_KILLED: 'Killed by signal',
  EXEC_UNKNOWN_USER: 'Unknown user',
  EXEC_UNKNOWN_GROUP: 'Unknown group',
  EXEC_BUSY: 'Too many commands running',
  EXEC_CANCELLED: 'Cancelled by the server; process group killed',
  JOB_UNSUPPORTED_ACTION: 'Unsupported action',
  JOB_INVALID: 'Invalid job',
  JOB_DOWNLOAD_FAILED: 'Download failed',
  JOB_CHECKSUM_MISMATCH: 'Checksum mismatch',
  JOB_DOWNLOAD_TOO_LARGE: 'Download too large',
  JOB_DOWNLOAD_TRUNCATED: 'Download truncated',
  JOB_INSTALL_FAILED: 'Install failed',
  JOB_ROLLED_BACK: 'Upgrade rolled back',
  JOB_NOT_INSTALLED: 'Agent not installed',
  JOB_START_FAILED: 'Start failed',
  JOB_STOP_FAILED: 'Stop failed',
  JOB_BAD_PACKAGE: 'Bad package',
  JOB_INTERRUPTED: 'Interrupted by agent restart',
  JOB_DISK_FULL: 'No space left on device',
  JOB_UNINSTALL_FAILED: 'Uninstall failed',
  JOB_REVOKED: 'Job revoked by the server',
  CHANNEL_UNKNOWN_METHOD: 'Unknown method',
  CHANNEL_NOT_CONNECTED: 'Agent not connected',
  CHANNEL_TIMEOUT: 'Agent did not answer in time',
  CHANNEL_INVALID_CRON: 'Invalid cron line',
  CHANNEL_NO_SUCH_TASK: 'No such periodic task',
  CHANNEL_NOTHING_TO_CANCEL: 'Nothing running to cancel',
  CHANNEL_NODE_LOST: 'Server node holding the channel was lost',
  TASK_EXPIRED: 'Task expired before it started',
  TASK_REVOKED: 'Task revoked',
  TASK_RETRIES_EXHAUSTED: 'Task failed after all retries',
  TASK_HOST_UNKNOWN: 'Unknown host',
  TASK_NO_PACKAGE: 'No package for this host',
  TASK_HALTED: 'Task halted: too many errors',
  TASK_DEPENDENCY_FAILED: 'A task this one runs after did not succeed on this host',
  TASK_BURIED_EXPIRED: 'Buried subtask expired',
  COLLECTOR_UNKNOWN: 'Unknown collector',
  COLLECTOR_BAD_ARGUMENT: 'Bad collector argument',
  COLLECTOR_FAILED: 'Collector failed',
  COLLECTOR_NOT_FOUND: 'Not found',
  POLICY_REFUSED: 'Refused by host policy',
  POLICY_OPERATOR_SIGNATURE: 'Operator signature required',
  IDENTITY_NO_CERTIFICATE: 'No host certificate',
  IDENTITY_MISMATCH: 'Certificate is for another host',
  IDENTITY_HOST_UNKNOWN: 'Host deleted or unknown',
  IDENTITY_CERT_SUPERSEDED: 'Certificate no longer current',
  IDENTITY_HOSTNAME_AMBIGUOUS: 'Ambiguous hostname, use the agentsn',
  SIGNATURE_MISSING: 'Not signed by the server',
  SIGNATURE_INVALID: 'Bad server signature',
  SIGNATURE_EXPIRED: 'Signature expired',
  SIGNATURE_REPLAYED: 'Replayed',
  SIGNATURE_WRONG_TARGET: 'Addressed to another host',
  SIGNATURE_NO_PINNED_KEY: 'No pinned server key',
  SIGNATURE_KEY_CHANGED: 'Server signing key changed',
};

const byValue = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([k, v]) => [v, k]),
);

export function errorName(value: number): ErrorCodeName | undefined {
  return byValue.get(value);
}

export function errorMessage(value: number): string {
  const name = byValue.get(value);
  return name ? ErrorMessage[name] : `error ${value}`;
}

/** High byte of a code: the error type. */
export function errorType(value: number): number {
  return (value >> 8) & 0xff;
}

/**
 * Status codes of the REST envelope `{status, message, cause}` (design.md §5 shows 130010
 * "not found"). They are not uint16 and never travel to agents; they are listed here so
 * there is one place for every number the system answers with.
 */
export const ApiStatus = {
  OK: 0,
  BAD_REQUEST: 130001,
  UNAUTHORIZED: 130002,
  FORBIDDEN: 130003,
  NOT_FOUND: 130010,
  CONFLICT: 130011,
  PAYLOAD_TOO_LARGE: 130013,
  UNSUPPORTED_MEDIA_TYPE: 130015,
  RANGE_NOT_SATISFIABLE: 130016,
  RATE_LIMITED: 130029,
  INTERNAL: 130050,
  UNAVAILABLE: 130053,
} as const;

export type ApiStatusName = keyof typeof ApiStatus;

export const ApiStatusMessage: Record<ApiStatusName, string> = {
  OK: 'success',
  BAD_REQUEST: 'bad request',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not found',
  CONFLICT: 'conflict',
  PAYLOAD_TOO_LARGE: 'payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported media type',
  RANGE_NOT_SATISFIABLE: 'range not satisfiable',
  RATE_LIMITED: 'too many requests',
  INTERNAL: 'internal error',
  UNAVAILABLE: 'service unavailable',
};

/** The HTTP status that goes with each envelope status. */
export const ApiHttpStatus: Record<ApiStatusName, number> = {
  OK: 200,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};
