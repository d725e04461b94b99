import { App } from 'cdktf';
import { environments } from './environments.js';
import { ArogyaStack } from './src/arogya-stack.js';

/** One stack per environment, from one construct tree. `npm run synth` writes cdktf.out/stacks/<name>. */
try {
  const app = new App();
  for (const [id, params] of Object.entries(environments)) new ArogyaStack(app, id, params);
  app.synth();
} catch (error) {
  // Invalid parameters: print the list without a stack trace; environments.ts is the file to fix.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
