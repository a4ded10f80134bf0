/**
 * /etc/basicagent/basic.json, validated once at the edge and frozen. Every key, with its type,
 * default, bounds and doc line, is declared once in config-schema.ts; this module adds the
 * rules across keys.
 */
import {
  ConfigChecker,
  ConfigError,
  checkSchema,
  readConfigObject,
  schemaKeys,
  type SchemaValues,
} from '@aspire/agent-core';
import { BASIC_CONFIG_SCHEMA } from './config-schema.ts';

export { BASIC_CONFIG_DOC, BASIC_CONFIG_SCHEMA } from './config-schema.ts';

/** basic.json checked: the keys and their docs are in config-schema.ts. */
export type BasicConfig = SchemaValues<typeof BASIC_CONFIG_SCHEMA>;

export const CONFIG_DEFAULT_PATH = '/etc/basicagent/basic.json';

export function checkConfig(raw: unknown, source: string): Readonly<BasicConfig> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['must be a JSON object']);
  const c = new ConfigChecker(raw as Record<string, unknown>, schemaKeys(BASIC_CONFIG_SCHEMA));
  const cfg = checkSchema(c, BASIC_CONFIG_SCHEMA);
  if (!cfg.ca) c.problems.push('ca: required (PEM file of the CA that signed the server certificate)');
  // An empty hostname or agentsn is the same as none (the old loader dropped them).
  if (cfg.hostname === '') delete cfg.hostname;
  if (cfg.agentsn === '') delete cfg.agentsn;
  return c.finish(source, cfg);
}

/** Read and check basic.json; a missing, malformed or non-object file is a ConfigError naming it. */
export function loadConfig(path: string): Readonly<BasicConfig> {
  return checkConfig(readConfigObject(path), path);
}
