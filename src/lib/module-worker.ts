import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker thread whose entry module is `file` (without extension) next to the module at
 * `from` (its `import.meta.url`): the compiled `.js` as is, or under tsx and vitest the `.ts` through
 * a bootstrap that registers tsx inside the worker first.
 */
export function startModuleWorker(from: string, file: string, options: WorkerOptions = {}): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`${file}.js`, from), options);
  const entry = new URL(`${file}.ts`, from).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { ...options, eval: true });
}
