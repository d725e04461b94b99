import { spawn } from 'node:child_process';
import { DeployError } from './errors.js';

/**
 * Runs the docker CLI (`DOCKER` overrides the binary). `stdin` is written to the process (used for
 * `login --password-stdin`, so the registry password never appears in a process list). Output goes
 * to the given stream; the ECR password is never passed as an argument or printed.
 * @throws DeployError when docker cannot start or exits non-zero.
 */
export function runDocker(
  binary: string,
  args: string[],
  opts: { stdin?: string; output: NodeJS.WritableStream; env: NodeJS.ProcessEnv },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env });
    child.on('error', (err) => reject(new DeployError(`cannot run ${binary}: ${err.message}`)));
    child.stdout.on('data', (chunk: Buffer) => opts.output.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => opts.output.write(chunk));
    child.stdin.on('error', () => {}); // docker may exit before reading stdin; the exit code tells
    child.stdin.end(opts.stdin ?? '');
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new DeployError(`${binary} ${args[0] ?? ''} exited with ${code ?? 'a signal'}`)),
    );
  });
}
