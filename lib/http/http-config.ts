import { z } from 'zod';

/**
 * Settings of the HTTP layer only. CORS is off unless origins are listed: the API serves
 * support tools and dashboards through their own backends, and deployed stages authenticate with
 * a JWT, so no browser origin is trusted by default.
 */
const httpConfigSchema = z.object({
  /** Comma-separated allowed origins (`https://app.example.com`, `*` for any). Empty: no CORS headers. */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
    ),
});

export type HttpConfig = z.infer<typeof httpConfigSchema>;

/** Parses the HTTP settings from `env` (default `process.env`). */
export function loadHttpConfig(env: NodeJS.ProcessEnv = process.env): HttpConfig {
  return httpConfigSchema.parse(env);
}
