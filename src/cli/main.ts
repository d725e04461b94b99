/**
 * `arogya-live <command>`: user management, migrations and deployment, with the service's own
 * configuration (the same environment variables). Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { runMigrateCommand } from './migrate.js';
import { runUsersCommand } from './users.js';

const USAGE = `Usage: arogya-live <command> [options]

Commands:
  users add --username NAME --role clinician|reviewer|admin --password-stdin
  users list [--json]
  users disable --username NAME
  users enable --username NAME
  users set-password --username NAME --password-stdin
  users set-role --username NAME --role clinician|reviewer|admin
  migrate up|down|status
  deploy push|rollout|rollback|history|status   (see DEPLOYMENT.md)

Runs with the same environment as the service (DATA_DIR, DATABASE_URL, DB_SECRET_ID, ...).
`;

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'users':
      return runUsersCommand(rest, io);
    case 'migrate':
      return runMigrateCommand(rest, io);
    case 'deploy': {
      const { deployCommand } = await import('../deploy/cli.js');
      return deployCommand(rest, io);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr.write(`Unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

const isEntry = process.argv[1] && /arogya-live(\.js)?$|cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
