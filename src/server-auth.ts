// Wires authentication into a server (ADR-0010): the AUTH_CONFIG file, the htpasswd file and keys it
// names, API tokens from the database's view, and the gate the HTTP app runs every request through.
// Reloading (SIGHUP) reads everything again; a file that fails keeps the previous state in force.
import { AuthConfigError, loadAuthConfig } from './auth/auth-config.js';
import { type ApiTokenDirectory, Authenticator } from './auth/authenticator.js';
import { HtpasswdError } from './auth/htpasswd.js';
import { type Config, ConfigError } from './config.js';
import { AuthGate } from './http/auth-gate.js';
import { proxyTrust } from './http/forwarded.js';
import { cachedApiTokens } from './registry/api-tokens.js';
import type { RegistryContext } from './registry/context.js';

export interface OpenedAuth {
  gate: AuthGate;
  /** Lines worth printing at start-up (weak password hashes). */
  warnings: string[];
  /** Reads AUTH_CONFIG and its files again; the message says what happened. */
  reload(): Promise<string>;
}

export async function openAuth(
  config: Config,
  ctx: Pick<RegistryContext, 'db' | 'logSignal'>,
): Promise<OpenedAuth | undefined> {
  const path = config.authConfig;
  if (path === undefined) return undefined;
  const directory: ApiTokenDirectory = cachedApiTokens(ctx);
  const open = async () => {
    try {
      return await Authenticator.open(await loadAuthConfig(path), directory, config.dataDir);
    } catch (error) {
      if (error instanceof AuthConfigError || error instanceof HtpasswdError)
        throw new ConfigError(error.message);
      throw new ConfigError(`AUTH_CONFIG ${path}: ${(error as Error).message}`);
    }
  };
  const authenticator = await open();
  const gate = new AuthGate(authenticator, {
    trust: proxyTrust(config),
    rateLimit: config.rateLimit,
    authFailureLimit: config.authFailureLimit,
  });
  return {
    gate,
    warnings: authenticator.warnings,
    reload: async () => {
      gate.authenticator = await open();
      return `AUTH_CONFIG ${path} reloaded (mode ${gate.authenticator.settings.mode})`;
    },
  };
}
