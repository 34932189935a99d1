import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment once, at start-up; a wrong or missing variable stops the service, named. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings are "not set": compose files and ConfigMaps often carry `VAR=`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(environment)'),
      message: issue.code === 'invalid_type' && cleaned[String(issue.path[0])] === undefined ? 'is required but not set' : issue.message,
    })),
  );
}

export interface EnvVarDescription {
  name: string;
  required: boolean;
  defaultValue?: unknown;
}

/** Lists the variables a config schema reads; used by docs and by the deployment-manifest tests. */
export function describeEnv(schema: z.ZodType): EnvVarDescription[] {
  let inner: z.ZodType = schema;
  // Unwrap refinements/pipes down to the object.
  while (!(inner instanceof z.ZodObject)) {
    const def = (inner as unknown as { def: { in?: z.ZodType; schema?: z.ZodType; innerType?: z.ZodType } }).def;
    const next = def.in ?? def.schema ?? def.innerType;
    if (!next) throw new Error('describeEnv needs an object schema');
    inner = next;
  }
  return Object.entries((inner as z.ZodObject).shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const optional = f.safeParse(undefined).success;
    const parsed = optional ? f.safeParse(undefined).data : undefined;
    return { name, required: !optional, ...(parsed !== undefined ? { defaultValue: parsed } : {}) };
  });
}
