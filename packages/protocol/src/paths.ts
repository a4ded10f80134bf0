/** HTTP paths and headers shared by agents and server. */
export const AgentPath = {
  REGISTER: '/agent/register',
  STATUS: '/agent/status',
  PACKAGE: '/agent/package',
  /** The server's signing key(s), as the register reply announces them (docs/security.md). */
  SIGNING_KEY: '/agent/signing-key',
  /** A host's effective desired-state policy, signed (docs/lifecycle.md "Desired state"). */
  POLICY: '/api/v1/agent/policy',
} as const;

export const API_PREFIX = '/api/v1/server';

/** Header carrying the per-host credential issued at registration. */
export const CREDENTIAL_HEADER = 'x-aspire-credential';
/** Header carrying the enrollment secret on registration. */
export const ENROLL_HEADER = 'x-aspire-enroll';

/** Largest body an agent accepts from the server, and the server from an agent. */
export const MAX_STATUS_BODY_BYTES = 1024 * 1024;

/** The BasicAgent channel's default TCP port. */
export const DEFAULT_CHANNEL_PORT = 8443;
/** The BootAgent HTTP endpoint's default port (design.md §5 uses 8180). */
export const DEFAULT_AGENT_PORT = 8180;
