import { AuditLog } from '../audit/audit-log.js';
import { revokeUserAccess } from '../auth/revoke.js';
import { ROLES, UserRepository, type Role } from '../auth/users.js';
import { AppError } from '../lib/app-error.js';
import { parseFlags, readStdin, withDatabase } from './context.js';
import type { CliIo } from './main.js';

const USAGE = `Usage:
  arogya-live users add --username NAME --role clinician|reviewer|admin --password-stdin
  arogya-live users list [--json]
  arogya-live users disable --username NAME
  arogya-live users enable --username NAME
  arogya-live users set-password --username NAME --password-stdin
  arogya-live users set-role --username NAME --role clinician|reviewer|admin
`;

/**
 * `arogya-live users …`. Passwords are read from stdin only, never from arguments. `set-password`,
 * `disable` and `set-role` end the user's web sessions and disconnect their sockets on every task
 * (src/auth/revoke.ts), so the operator's incident-response tool locks out a stolen cookie.
 */
export async function runUsersCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  let flags: { username?: string; role?: string; 'password-stdin'?: boolean; json?: boolean };
  try {
    flags = (await parseFlags(rest, { username: 'string', role: 'string', 'password-stdin': 'boolean', json: 'boolean' }))
      .values as typeof flags;
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const need = (...names: Array<keyof typeof flags>) => {
    const missing = names.filter((n) => !flags[n]);
    if (missing.length) throw new UsageError(`Missing --${missing.join(', --')}`);
  };
  const role = (): Role => {
    if (!ROLES.includes(flags.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    return flags.role as Role;
  };

  try {
    switch (sub) {
      case 'add': {
        need('username', 'role', 'password-stdin');
        const r = role();
        const password = await readStdin(io.stdin);
        const user = await withDatabase(io, async (db) => {
          const created = await new UserRepository(db).create({ username: flags.username!, role: r, password });
          await new AuditLog(db).record({ action: 'user.create', targetType: 'user', targetId: created.id, details: { via: 'cli', role: r } });
          return created;
        });
        io.stdout.write(`Added ${user.role} ${user.username} (${user.id})\n`);
        return 0;
      }
      case 'list': {
        const users = await withDatabase(io, (db) => new UserRepository(db).list());
        if (flags.json) io.stdout.write(`${JSON.stringify(users)}\n`);
        else
          for (const u of users) {
            io.stdout.write(`${u.username.padEnd(24)} ${u.role.padEnd(10)} ${u.disabled ? 'disabled' : 'active'}\n`);
          }
        return 0;
      }
      case 'disable':
      case 'enable': {
        need('username');
        const user = await withDatabase(io, async (db) => {
          const u = await new UserRepository(db).setDisabled(flags.username!, sub === 'disable');
          if (sub === 'disable') await revokeUserAccess(db, u.id);
          await new AuditLog(db).record({ action: `user.${sub}`, targetType: 'user', targetId: u.id, details: { via: 'cli' } });
          return u;
        });
        io.stdout.write(`${sub === 'disable' ? 'Disabled' : 'Enabled'} ${user.username}\n`);
        return 0;
      }
      case 'set-password': {
        need('username', 'password-stdin');
        const password = await readStdin(io.stdin);
        const user = await withDatabase(io, async (db) => {
          const u = await new UserRepository(db).setPassword(flags.username!, password);
          await revokeUserAccess(db, u.id);
          await new AuditLog(db).record({ action: 'user.set_password', targetType: 'user', targetId: u.id, details: { via: 'cli' } });
          return u;
        });
        io.stdout.write(`Password changed for ${user.username}\n`);
        return 0;
      }
      case 'set-role': {
        need('username', 'role');
        const r = role();
        const user = await withDatabase(io, async (db) => {
          const u = await new UserRepository(db).setRole(flags.username!, r);
          await revokeUserAccess(db, u.id);
          await new AuditLog(db).record({ action: 'user.set_role', targetType: 'user', targetId: u.id, details: { via: 'cli', role: r } });
          return u;
        });
        io.stdout.write(`${user.username} is now ${user.role}\n`);
        return 0;
      }
      default:
        io.stderr.write(USAGE);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AppError) {
      io.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

class UsageError extends Error {}
