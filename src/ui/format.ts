// Text the pages show: sizes, times, digests shortened for reading (the whole one stays in the page
// for copying), and the commands that pull a package with each client.

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** `30 d`, `12 h`, `90 s`: the largest whole unit. */
export function duration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}`;
  }
  return `${seconds} s`;
}

/** `2026-12-07 00:07:33 UTC`: the same text on every machine (the server renders it). */
export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** `sha256:5891b5b522d5…` */
export function short(digest: string, keep = 12): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, keep) : `${digest.slice(0, colon + 1 + keep)}…`;
}

export interface PullCommand {
  client: string;
  command: string;
}

/**
 * Copy-ready commands for `host/repository@digest` (a digest never moves under the reader, a tag
 * might): oras for any artifact, crane and docker/podman for images, helm for charts, and ours.
 */
export function pullCommands(options: {
  host: string;
  origin: string;
  repository: string;
  digest: string;
  address: string | null;
  tag?: string;
  plainHttp: boolean;
}): PullCommand[] {
  const { host, repository, digest } = options;
  const ref = `${host}/${repository}@${digest}`;
  const insecure = options.plainHttp;
  const commands: PullCommand[] = [
    { client: 'oras', command: `oras pull${insecure ? ' --plain-http' : ''} ${ref}` },
    { client: 'crane', command: `crane pull${insecure ? ' --insecure' : ''} ${ref} image.tar` },
    { client: 'docker', command: `docker pull ${ref}` },
    { client: 'podman', command: `podman pull${insecure ? ' --tls-verify=false' : ''} ${ref}` },
  ];
  if (options.tag) {
    commands.push({
      client: 'helm',
      command: `helm pull${insecure ? ' --plain-http' : ''} oci://${host}/${repository} --version ${options.tag}`,
    });
  }
  const nativeRef = options.address ?? digest;
  commands.push({
    client: 'artifact-store',
    command: `artifact-store pull ${repository}:${nativeRef} -o ./out --url ${options.origin}`,
  });
  return commands;
}
