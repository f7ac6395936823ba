// What the UI's pages print (src/ui/format.ts): sizes, durations, times, short digests, pull commands.
import { describe, expect, it } from 'vitest';
import { bytes, duration, pullCommands, short, time } from '../../src/ui/format.js';

describe('UI formats', () => {
  it('prints sizes, durations and times the same on every machine', () => {
    expect([0, 1023, 1024, 1536, 10 * 1024 ** 2, 300 * 1024 ** 3].map(bytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '10.0 MiB',
      '300 GiB',
    ]);
    expect([30 * 86_400, 7_200, 90, 60, 5].map(duration)).toEqual(['30 d', '2 h', '90 s', '1 min', '5 s']);
    expect(time('2026-12-07T00:07:33.123Z')).toBe('2026-12-07 00:07:33 UTC');
    expect(time(null)).toBe('—');
    expect(short(`sha256:${'ab'.repeat(32)}`)).toBe('sha256:abababababab…');
  });

  it('pins every pull command to the digest, with the plain-HTTP flags only over HTTP', () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const common = { host: 'r.test:5000', repository: 'team/app', digest, address: null, tag: 'v1' };
    const http = pullCommands({ ...common, origin: 'http://r.test:5000', plainHttp: true });
    expect(Object.fromEntries(http.map((c) => [c.client, c.command]))).toEqual({
      oras: `oras pull --plain-http r.test:5000/team/app@${digest}`,
      crane: `crane pull --insecure r.test:5000/team/app@${digest} image.tar`,
      docker: `docker pull r.test:5000/team/app@${digest}`,
      podman: `podman pull --tls-verify=false r.test:5000/team/app@${digest}`,
      helm: 'helm pull --plain-http oci://r.test:5000/team/app --version v1',
      'artifact-store': `artifact-store pull team/app:${digest} -o ./out --url http://r.test:5000`,
    });
    const https = pullCommands({
      ...common,
      origin: 'https://r.test',
      plainHttp: false,
      address: 'blake3:ff',
    });
    expect(https.map((c) => c.command).join('\n')).not.toMatch(/--plain-http|--insecure|--tls-verify/);
    expect(https.at(-1)?.command).toBe(
      'artifact-store pull team/app:blake3:ff -o ./out --url https://r.test',
    );
  });
});
