import fs from 'node:fs';
import type { EnvironmentParams } from './params.js';

/**
 * Where a synth gets its parameters, without editing source: `environments.ts` holds the shared
 * defaults (with `REPLACE_ME` placeholders, which validation refuses), overridden by a JSON file
 * named in `AROGYA_PARAMS_FILE` (`{ "staging": {...}, "production": {...} }`, any subset of
 * EnvironmentParams per environment), then by environment variables (DEPLOYMENT.md, "Parameters"):
 *
 * | variable | parameter | applies to |
 * | --- | --- | --- |
 * | `AROGYA_ACCOUNT_ID` | accountId | both |
 * | `AROGYA_STATE_BUCKET` | stateBucket | both |
 * | `AROGYA_ALARM_EMAIL` | alarmEmail | both |
 * | `AROGYA_STAGING_DOMAIN`, `AROGYA_PRODUCTION_DOMAIN` | domainName | one |
 * | `AROGYA_STAGING_CERTIFICATE_ARN`, `AROGYA_PRODUCTION_CERTIFICATE_ARN` | certificateArn | one |
 */
export const PARAM_VARIABLES = {
  AROGYA_ACCOUNT_ID: 'accountId',
  AROGYA_STATE_BUCKET: 'stateBucket',
  AROGYA_ALARM_EMAIL: 'alarmEmail',
} as const;

export function loadParams<K extends string>(
  defaults: Record<K, EnvironmentParams>,
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, 'utf8'),
): Record<K, EnvironmentParams> {
  const file: Partial<Record<K, Partial<EnvironmentParams>>> = env.AROGYA_PARAMS_FILE ? JSON.parse(readFile(env.AROGYA_PARAMS_FILE)) : {};
  const out = {} as Record<K, EnvironmentParams>;
  for (const name of Object.keys(defaults) as K[]) {
    const upper = name.toUpperCase();
    const fromEnv: Partial<Record<keyof EnvironmentParams, string>> = {};
    for (const [variable, key] of Object.entries(PARAM_VARIABLES)) if (env[variable]) fromEnv[key] = env[variable];
    if (env[`AROGYA_${upper}_DOMAIN`]) fromEnv.domainName = env[`AROGYA_${upper}_DOMAIN`];
    if (env[`AROGYA_${upper}_CERTIFICATE_ARN`]) fromEnv.certificateArn = env[`AROGYA_${upper}_CERTIFICATE_ARN`];
    out[name] = { ...defaults[name], ...file[name], ...fromEnv } as EnvironmentParams;
  }
  return out;
}
