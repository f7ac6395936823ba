// What the native CLI commands share: the server URL, JSON requests, the server's error shape turned
// into one readable line, and a progress bar on a terminal.
export const DEFAULT_URL = 'http://127.0.0.1:5000';

/**
 * fetch with the caller's credentials when the registry wants them: ARTIFACT_STORE_TOKEN (an API
 * token, `ast_…`, sent as a Bearer token).
 */
export function apiFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const token = process.env.ARTIFACT_STORE_TOKEN?.trim();
  if (!token) return fetch(input, init);
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

export function serverUrl(flag: string | undefined): string {
  return (flag ?? process.env.ARTIFACT_STORE_URL ?? DEFAULT_URL).replace(/\/+$/, '');
}

/** A request the server refused, with its reason. */
export class ServerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  /** One line for stderr, with the details that say what to fix. */
  describe(): string {
    const details =
      this.details && Object.keys(this.details).length > 0 ? ` ${JSON.stringify(this.details)}` : '';
    return `${this.status} ${this.code}: ${this.message}${details}`;
  }
}

/** Throws a ServerRefusal for any answer that is not 2xx. */
export async function requireOk(res: Response): Promise<Response> {
  if (res.ok) return res;
  let code = 'http-error';
  let message = res.statusText;
  let details: unknown = {};
  try {
    const body = (await res.json()) as { error?: { code: string; message: string; details: unknown } };
    if (body.error) ({ code, message, details } = body.error);
  } catch {
    // not our error shape: the status says enough
  }
  throw new ServerRefusal(res.status, code, message, details);
}

export async function getJson<T>(url: string): Promise<T> {
  return (await (await requireOk(await apiFetch(url))).json()) as T;
}

/** Parses `--name value` flags (and bare arguments) from argv. */
export function parseArgs(
  args: string[],
  known: Record<string, 'value' | 'list' | 'flag'>,
): { positional: string[]; flags: Record<string, string | string[] | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | string[] | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    // `--name[=value]`, or a one-letter `-o`
    const short = /^-[a-zA-Z]$/.test(arg);
    if (!arg.startsWith('--') && !short) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(short ? 1 : 2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = known[name];
    if (!kind) throw new UsageError(`unknown option ${arg}`);
    if (kind === 'flag') {
      flags[name] = true;
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (kind === 'list') flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else flags[name] = value;
  }
  return { positional, flags };
}

export class UsageError extends Error {}

/** A one-line progress bar on stderr, drawn only on a terminal and at most ~10 times a second. */
export class Progress {
  private done = 0;
  private drawnAt = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  advance(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (this.tty && now - this.drawnAt > 100) {
      this.drawnAt = now;
      this.draw();
    }
  }

  finish(): void {
    if (!this.tty) return;
    this.done = this.total;
    this.draw();
    process.stderr.write('\n');
  }

  private draw(): void {
    const width = 30;
    const ratio = this.total > 0 ? Math.min(this.done / this.total, 1) : 1;
    const filled = Math.round(ratio * width);
    const bar = `${'#'.repeat(filled)}${' '.repeat(width - filled)}`;
    const mib = (n: number) => (n / 1048576).toFixed(1);
    process.stderr.write(
      `\r[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}% ${mib(this.done)}/${mib(this.total)} MiB ${this.label}`,
    );
  }
}

/** Runs a client command: a refusal, a usage mistake or an unreachable server is one line on stderr. */
export async function runClientCommand(name: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ServerRefusal) {
      process.stderr.write(`artifact-store ${name}: refused: ${error.describe()}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`artifact-store ${name}: ${error.message} (try --help)\n`);
      return 2;
    }
    if (error instanceof TypeError && error.message === 'fetch failed') {
      const cause = (error.cause as Error | undefined)?.message ?? 'connection failed';
      process.stderr.write(`artifact-store ${name}: cannot reach the server: ${cause}\n`);
      return 1;
    }
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'EISDIR'
    ) {
      process.stderr.write(`artifact-store ${name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
