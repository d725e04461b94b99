import type { Pool } from '../db/pool.js';
import { AppError } from '../lib/app-error.js';
import { hashPassword, passwordProblem } from './passwords.js';

export type Role = 'clinician' | 'reviewer' | 'admin';
export const ROLES: readonly Role[] = ['clinician', 'reviewer', 'admin'];

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  /** The last password, role or enabled-state change that revoked the user's sessions (null: none yet). */
  credentialsChangedAt: Date | null;
}

interface UserRow {
  id: string;
  username: string;
  role: Role;
  disabled_at: Date | null;
  created_at: Date;
  password_hash: string;
  password_changed_at: Date;
  credentials_changed_at: Date | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  role: r.role,
  disabled: r.disabled_at !== null,
  createdAt: r.created_at,
  credentialsChangedAt: r.credentials_changed_at ?? null,
});

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,62}$/;

/** Lower-cases and trims; usernames are case-insensitive. */
export function normaliseUsername(username: string): string {
  return username.trim().toLowerCase();
}

/** The users table. Passwords go in as plain text and are stored only as scrypt hashes. */
export class UserRepository {
  constructor(private readonly db: Pool) {}

  /** @throws AppError `invalid_payload` (bad username/role/password) or `username_taken`. */
  async create(input: { username: string; role: Role; password: string }): Promise<User> {
    const username = normaliseUsername(input.username);
    if (!USERNAME_PATTERN.test(username)) {
      throw new AppError('invalid_payload', 'Usernames are 2–63 characters: letters, digits, dot, dash, underscore.');
    }
    if (!ROLES.includes(input.role)) throw new AppError('invalid_payload', `Role must be one of ${ROLES.join(', ')}.`);
    const problem = passwordProblem(input.password);
    if (problem) throw new AppError('invalid_payload', problem);
    const hash = await hashPassword(input.password);
    try {
      const { rows } = await this.db.query<UserRow>(
        'INSERT INTO users (username, role, password_hash) VALUES ($1, $2, $3) RETURNING *',
        [username, input.role, hash],
      );
      return toUser(rows[0]!);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AppError('username_taken');
      throw err;
    }
  }

  /** The user and their hash, for login only. */
  async findForLogin(username: string): Promise<(User & { passwordHash: string; passwordChangedAt: Date }) | undefined> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM users WHERE username = $1', [normaliseUsername(username)]);
    const row = rows[0];
    return row && { ...toUser(row), passwordHash: row.password_hash, passwordChangedAt: row.password_changed_at };
  }

  async findById(id: string): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return rows[0] && toUser(rows[0]);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM users WHERE username = $1', [normaliseUsername(username)]);
    return rows[0] && toUser(rows[0]);
  }

  async list(): Promise<User[]> {
    const { rows } = await this.db.query<UserRow>('SELECT * FROM users ORDER BY username');
    return rows.map(toUser);
  }

  /** @throws AppError `not_found` */
  async setDisabled(username: string, disabled: boolean): Promise<User> {
    return this.updateOne(
      'UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END, updated_at = now() WHERE username = $1 RETURNING *',
      [normaliseUsername(username), disabled],
    );
  }

  /** @throws AppError `not_found` or `invalid_payload` */
  async setPassword(username: string, password: string): Promise<User> {
    const problem = passwordProblem(password);
    if (problem) throw new AppError('invalid_payload', problem);
    const hash = await hashPassword(password);
    return this.updateOne(
      'UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE username = $1 RETURNING *',
      [normaliseUsername(username), hash],
    );
  }

  /** @throws AppError `not_found` or `invalid_payload` */
  async setRole(username: string, role: Role): Promise<User> {
    if (!ROLES.includes(role)) throw new AppError('invalid_payload', `Role must be one of ${ROLES.join(', ')}.`);
    return this.updateOne('UPDATE users SET role = $2, updated_at = now() WHERE username = $1 RETURNING *', [
      normaliseUsername(username),
      role,
    ]);
  }

  private async updateOne(sql: string, params: unknown[]): Promise<User> {
    const { rows } = await this.db.query<UserRow>(sql, params);
    if (!rows[0]) throw new AppError('not_found', 'No such user.');
    return toUser(rows[0]);
  }
}
