import { App } from 'cdktf';
import { environments } from './environments.js';
import { ArogyaStack } from './src/arogya-stack.js';
import { loadParams } from './src/load-params.js';

/**
 * One stack per environment, from one construct tree. `npm run synth` writes cdktf.out/stacks/<name>
 * from environments.ts overridden by AROGYA_PARAMS_FILE and AROGYA_* variables (src/load-params.ts);
 * `npm run synth:example` uses example-params.json and writes cdktf.out.example/ instead (for review
 * and the tests: its account 123456789012 is not yours, so the provider refuses to apply it).
 */
try {
  const example = process.env.AROGYA_EXAMPLE === '1';
  const app = new App(example ? { outdir: 'cdktf.out.example' } : {});
  const params = loadParams(environments, example ? { ...process.env, AROGYA_PARAMS_FILE: new URL('./example-params.json', import.meta.url).pathname } : process.env);
  for (const [id, p] of Object.entries(params)) new ArogyaStack(app, id, p);
  app.synth();
  console.info(`synthesized ${Object.keys(params).join(', ')} into ${example ? 'cdktf.out.example' : 'cdktf.out'}/stacks/`);
} catch (error) {
  // Invalid parameters: print the list without a stack trace (DEPLOYMENT.md, "Parameters").
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
