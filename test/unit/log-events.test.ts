import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errFields } from '../../src/lib/logger.js';

/**
 * One log shape (issue 17 point 9): every log line's message is a fixed snake_case event name
 * (`recording_stored`, not 'recording stored' nor a sentence with values in it), so alarms,
 * runbooks and scripts/bench.ts match an event, and values go in fields. Checked by reading the
 * sources: every call `<something log or logger or warnings>.<level>(…)` in src/ whose last
 * argument is a string literal; a message built at run time (a template or a variable) fails too.
 */
const root = path.resolve(import.meta.dirname, '../..');
const EVENT = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const CALL = /\b(?:log|logger|warnings|Log|Logger)\s*\.\s*(?:trace|debug|info|warn|error|fatal)\s*\(/g;

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true }).flatMap((e) =>
    e.isFile() && e.name.endsWith('.ts') ? [path.join(e.parentPath, e.name)] : [],
  );
}

/** The text of the arguments of the call whose `(` is at `open` (strings, templates and nesting skipped over). */
function argumentsAt(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  throw new Error(`unbalanced call at ${open}`);
}

/** The top-level arguments of an argument list, trimmed (a trailing comma makes no empty one). */
function topLevelArguments(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < args.length && args[i] !== c; i++) if (args[i] === '\\') i++;
    } else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      out.push(args.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(args.slice(start).trim());
  return out.filter((a, i) => a !== '' || i < out.length - 1);
}

/** `file:line message` for every logger call in src/ (the message as written: a literal with its quotes). */
function logCalls(): Array<{ where: string; message: string; fields: string }> {
  return sources('src').flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return [...text.matchAll(CALL)].map((m) => {
      const open = m.index + m[0].length - 1;
      const line = text.slice(0, m.index).split('\n').length;
      const parts = topLevelArguments(argumentsAt(text, open));
      return { where: `${path.relative(root, file)}:${line}`, message: parts.at(-1)!, fields: parts[0]! };
    });
  });
}

describe('log events', () => {
  const calls = logCalls();

  it('finds the logger calls of src/ (the scan itself works)', () => {
    expect(calls.length).toBeGreaterThan(100);
    expect(calls.map((c) => c.message)).toContain("'recording_stored'");
  });

  it('every message is a fixed snake_case event name', () => {
    // A choice between two literals is fine (`resume ? 'session_continued' : 'session_started'`);
    // RepeatedWarnings passes its callers' `msg` on (its callers, `warnings.warn(…)`, are checked).
    const literals = (m: string) => m.split(/\s[?:]\s/).slice(m.includes('?') ? 1 : 0);
    const bad = calls
      .filter((c) => !c.where.startsWith('src/lib/repeated-warnings.ts:'))
      .filter((c) => !literals(c.message).every((l) => /^'[^']*'$/.test(l) && EVENT.test(l.slice(1, -1))))
      .map((c) => `${c.where} ${c.message}`);
    expect(bad).toEqual([]);
  });

  it('an error goes in one shape: `err` (the Error, through the pino serializer) or `err: errFields(e)`, never a hand-made object or an `errName`', () => {
    const bad = calls.filter((c) => /\berrName\b|\berr:\s*\{/.test(c.fields)).map((c) => `${c.where} ${c.fields}`);
    expect(bad).toEqual([]);
  });

  it('errFields keeps the type, message and a string code, and nothing else of the error', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "users_username_key"'), {
      code: '23505',
      detail: 'Key (username)=(dr.sharma) already exists.',
    });
    expect(errFields(pgError)).toEqual({ type: 'Error', message: 'duplicate key value violates unique constraint "users_username_key"', code: '23505' });
    class NoSuchKey extends Error {
      override name = 'NoSuchKey';
      $metadata = { httpStatusCode: 404 };
    }
    expect(errFields(new NoSuchKey('The specified key does not exist.'))).toEqual({ type: 'NoSuchKey', message: 'The specified key does not exist.' });
    expect(errFields(Object.assign(new Error('x'), { code: 5 }))).toEqual({ type: 'Error', message: 'x' });
    expect(errFields('timeout')).toEqual({ type: 'string', message: 'timeout' });
  });
});
