import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiStatus, ErrorCode, ErrorMessage, errorMessage, errorName, errorType } from '../src/index.ts';

const doc = readFileSync(join(__dirname, '../../../docs/errors.md'), 'utf8');

describe('unified error codes', () => {
  it('are uint16 and unique', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(0xffff);
    }
  });

  it('keep the design numbers', () => {
    expect(ErrorCode.NO_SUCH_HOST).toBe(203);
    expect(ErrorCode.INVALID_PARAMS).toBe(3021);
    expect(ErrorCode.EXEC_TIMEOUT).toBe(0x0100);
    expect(ErrorCode.EXEC_ERROR).toBe(0x0101);
    expect(errorType(ErrorCode.EXEC_TIMEOUT)).toBe(1);
  });

  it('each has a message and round-trips by value', () => {
    for (const [name, value] of Object.entries(ErrorCode)) {
      expect(errorName(value)).toBe(name);
      expect(errorMessage(value)).toBe(ErrorMessage[name as keyof typeof ErrorMessage]);
    }
  });

  it('every code is documented in docs/errors.md with its number and name', () => {
    for (const [name, value] of Object.entries(ErrorCode)) {
      const hex = `0x${value.toString(16).padStart(4, '0')}`;
      const row = new RegExp(`\\|\\s*${value}\\s*\\|\\s*${hex}\\s*\\|\\s*\`${name}\`\\s*\\|`);
      expect(doc, `docs/errors.md is missing the row for ${name} (${value})`).toMatch(row);
    }
  });

  it('every REST envelope status is documented', () => {
    for (const [name, value] of Object.entries(ApiStatus)) {
      expect(doc, `docs/errors.md is missing envelope status ${name}`).toMatch(
        new RegExp(`\\|\\s*${value}\\s*\\|\\s*\`${name}\`\\s*\\|`),
      );
    }
  });
});
