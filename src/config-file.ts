// The optional configuration file (`--config file.yaml`): a YAML map of the same settings as the
// environment, by their names in lower case (`port: 5000`, `database_url: postgres://…`). The
// environment wins over the file, so a deployment can override one setting without editing it. Every
// problem in the file is reported, one line each, naming the file and the key.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, SETTINGS } from './config.js';

/** The file's settings as environment entries (strings), checked for shape only. */
export function readConfigFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors
        .map(
          (e) =>
            `--config ${path}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`,
        )
        .join('\n'),
    );
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`--config ${path}: must be a map of settings (such as "port: 5000")`);
  }
  const errors: string[] = [];
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    const name = key.toUpperCase();
    if (!(SETTINGS as readonly string[]).includes(name)) {
      errors.push(
        `--config ${path}: unknown setting "${key}" (known: ${SETTINGS.map((s) => s.toLowerCase()).join(', ')})`,
      );
    } else if (raw === null || typeof raw === 'object') {
      errors.push(`--config ${path}: ${key} must be a single value`);
    } else {
      env[name] = String(raw);
    }
  }
  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return env;
}

/** Takes `--config <file>` (anywhere in argv) out of the arguments; returns the rest and the file. */
export function extractConfigFlag(argv: string[]): { args: string[]; file?: string } {
  const args: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      file = argv[++i];
      if (file === undefined) throw new ConfigError('--config needs a file');
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length);
    } else {
      args.push(arg);
    }
  }
  return file === undefined ? { args } : { args, file };
}
