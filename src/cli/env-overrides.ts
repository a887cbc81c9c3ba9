/** Command-line options that override environment variables, merged into a copy of the environment. */
export function withOverrides(
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | number | boolean | undefined>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = String(v);
  return out;
}
