#!/usr/bin/env node
// @ts-check
// Authentication cost (`npm run bench:auth`, issue 8): what checking a caller's credentials costs on
// the cheapest request, a manifest GET by tag. Our server only, started four times, each on an empty
// temp data dir with the embedded database and RATE_LIMIT=0 (so no limit interferes):
//   1. none       no AUTH_CONFIG: no authentication at all,
//   2. basic      `mode: basic`, every request with Basic (bcrypt cost 10, then the 60 s cache),
//   3. jwt        `mode: token`, every request with the Bearer JWT (ES256) fetched once from /auth/token,
//   4. api-token  `mode: token`, every request with `Bearer ast_…` (POST /api/v1/tokens, as the user).
// The policy lets the user pull and push `**`. Each run pushes a small image (bench/manifests.mjs),
// then GETs its manifest by tag under the main benchmark's load (manifestLoad: BENCH_CONCURRENCY
// keep-alive connections, BENCH_MANIFEST_WARMUP unmeasured then BENCH_MANIFEST_REQUESTS measured GETs,
// bound BENCH_MANIFEST_SECONDS), and reports req/s, p50/p99 and the server's CPU per request. Run 2
// also times a cold Basic login: a fresh user's first request (a bcrypt verification) against its
// second (cached), the median over a few users.
// Prints markdown (`--json`: the raw results as JSON instead). Exits 1 when an answer is wrong.
//
//   npm run bench:auth
//   BENCH_MANIFEST_REQUESTS=2000 BENCH_MANIFEST_WARMUP=200 node bench/auth.mjs     # a quick run
//
// Environment: BENCH_MANIFEST_REQUESTS, BENCH_MANIFEST_WARMUP, BENCH_MANIFEST_SECONDS,
// BENCH_CONCURRENCY, BENCH_OURS_CLI, BENCH_OURS_NODE_ARGS, BENCH_TMPDIR, BENCH_KEEP as for npm run bench.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { CheckError, check, describeResponse, expectStatus, request } from './http.mjs';
import { log } from './log.mjs';
import { machineInfo } from './machine.mjs';
import { manifestLoad, pushImage } from './manifests.mjs';
import { ServerMonitor } from './proc.mjs';
import { findOnPath, loadSettings, UsageError } from './settings.mjs';
import { median } from './stats.mjs';
import { fmt, markdownGrid } from './table.mjs';
import { killAll, startTarget, stopAll, stopChild } from './targets.mjs';

/** @import { Machine } from './machine.mjs' */
/** @import { LoadResult } from './manifests.mjs' */
/** @import { PhaseStats } from './proc.mjs' */
/** @import { Settings } from './settings.mjs' */

/** @typedef {'none' | 'basic' | 'jwt' | 'api-token'} AuthKind */

/**
 * One configuration's figures.
 * @typedef {object} AuthResult
 * @property {AuthKind} kind
 * @property {string} label
 * @property {LoadResult} load the measured GETs
 * @property {PhaseStats} stats the server's CPU (and everyone else's) during them
 * @property {number[]} loadavgAtStart the 1/5/15-minute load averages before the measured GETs
 */

/**
 * Fresh users' Basic logins (run 2): each user's first request and second request, in ms.
 * @typedef {{ users: number, firstMs: number[], secondMs: number[] }} ColdLogin
 */

/** @type {readonly { kind: AuthKind, label: string }[]} */
const CONFIGURATIONS = [
  { kind: 'none', label: 'no authentication (no AUTH_CONFIG)' },
  { kind: 'basic', label: '`mode: basic`, Basic on every request (cached bcrypt)' },
  { kind: 'jwt', label: '`mode: token`, Bearer JWT from /auth/token (ES256)' },
  { kind: 'api-token', label: '`mode: token`, Bearer API token (`ast_…`)' },
];

const REPO = 'bench/auth';
const TAG = 'v1';
const USER = 'bench';
const SERVICE = 'artifact-store';
const BCRYPT_COST = 10;
/** Fresh users whose first login is timed (run 2). */
const COLD_USERS = 5;

/**
 * The Authorization header every request of this process carries (none when undefined).
 * manifestLoad, pushImage and startTarget's readiness probe send no credentials of their own, so this
 * module adds them where each request is handed to its agent: before its headers are written, on
 * every agent (manifestLoad makes its own). A request that names its own Authorization keeps it.
 * @type {string | undefined}
 */
let authorization;
const agentPrototype = /** @type {{ addRequest: (req: http.ClientRequest, options: object) => void }} */ (
  /** @type {unknown} */ (http.Agent.prototype)
);
const addRequest = agentPrototype.addRequest;
/** @type {typeof addRequest} */
agentPrototype.addRequest = function (req, options) {
  if (authorization !== undefined && !req.hasHeader('authorization'))
    req.setHeader('Authorization', authorization);
  addRequest.call(this, req, options);
};

/**
 * @param {string} user
 * @param {string} password
 */
const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * An htpasswd line for `user` at bcrypt cost 10: from `htpasswd -nbB -C 10` when installed, else
 * from @node-rs/bcrypt (the library the server verifies with).
 * @param {string | undefined} htpasswdBin
 * @param {string} user
 * @param {string} password
 */
async function htpasswdLine(htpasswdBin, user, password) {
  if (htpasswdBin) {
    const r = spawnSync(htpasswdBin, ['-nbB', '-C', String(BCRYPT_COST), user, password], {
      encoding: 'utf8',
    });
    check(r.status === 0, `htpasswd -nbB: ${r.stderr}`);
    return r.stdout.trim();
  }
  return `${user}:${await bcryptHash(password, { cost: BCRYPT_COST })}`;
}

/**
 * Writes the htpasswd file (the user, plus the fresh users of the cold logins) and one AUTH_CONFIG per
 * mode; returns the paths and passwords.
 * @param {string} work
 */
async function writeAuthFiles(work) {
  const htpasswdBin = findOnPath(process.env, 'htpasswd');
  /** @type {Map<string, string>} */
  const passwords = new Map();
  const lines = [];
  for (const user of [USER, ...Array.from({ length: COLD_USERS }, (_, i) => `cold-${i + 1}`)]) {
    const password = randomBytes(12).toString('base64url');
    passwords.set(user, password);
    lines.push(await htpasswdLine(htpasswdBin, user, password));
  }
  writeFileSync(join(work, 'htpasswd'), `${lines.join('\n')}\n`);
  /** @param {'basic' | 'token'} mode */
  const config = (mode) => {
    const path = join(work, `auth-${mode}.yml`);
    writeFileSync(
      path,
      [
        `mode: ${mode}`,
        `service: ${SERVICE}`,
        'htpasswd: htpasswd',
        'token: { ttl: 1h }',
        'repositories:',
        '  - match: ["**"]',
        `    allow: [{ users: [${[...passwords.keys()].join(', ')}], actions: [pull, push] }]`,
        '',
      ].join('\n'),
    );
    return path;
  };
  return {
    htpasswdTool: htpasswdBin
      ? `${htpasswdBin} -nbB -C ${BCRYPT_COST}`
      : `@node-rs/bcrypt cost ${BCRYPT_COST}`,
    passwords,
    basicConfig: config('basic'),
    tokenConfig: config('token'),
  };
}

/**
 * Times each fresh user's first GET /v2/ with Basic (a bcrypt verification) and its second (the
 * cache), one after the other over one warm keep-alive connection.
 * @param {string} base
 * @param {Map<string, string>} passwords
 * @returns {Promise<ColdLogin>}
 */
async function coldLogins(base, passwords) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    expectStatus(await request(agent, `${base}/v2/`), 200, 'GET /v2/ as the user'); // opens the connection
    /** @type {number[]} */
    const firstMs = [];
    /** @type {number[]} */
    const secondMs = [];
    for (const [user, password] of passwords) {
      if (user === USER) continue;
      const headers = { Authorization: basic(user, password) };
      for (const into of [firstMs, secondMs]) {
        const t0 = performance.now();
        const r = await request(agent, `${base}/v2/`, { headers });
        into.push(performance.now() - t0);
        expectStatus(r, 200, `GET /v2/ as ${user}`);
      }
    }
    return { users: firstMs.length, firstMs, secondMs };
  } finally {
    agent.destroy();
  }
}

/**
 * The credential the measured GETs carry in configuration `kind`, obtained as a client would.
 * @param {AuthKind} kind
 * @param {string} base
 * @param {string} userBasic the user's Basic header
 */
async function measuredCredential(kind, base, userBasic) {
  if (kind === 'none') return undefined;
  if (kind === 'basic') return userBasic;
  if (kind === 'jwt') {
    const scope = encodeURIComponent(`repository:${REPO}:pull`);
    const r = await request(undefined, `${base}/auth/token?service=${SERVICE}&scope=${scope}`);
    expectStatus(r, 200, 'GET /auth/token');
    const token = JSON.parse(r.body.toString()).token;
    check(
      typeof token === 'string' && token.split('.').length === 3,
      `GET /auth/token: ${describeResponse(r)}`,
    );
    return `Bearer ${token}`;
  }
  const r = await request(undefined, `${base}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: 'bench',
      scopes: [{ repositories: [REPO], actions: ['pull'] }],
      expires_in_days: 1,
    }),
  });
  expectStatus(r, 201, 'POST /api/v1/tokens');
  const secret = JSON.parse(r.body.toString()).secret;
  check(
    typeof secret === 'string' && secret.startsWith('ast_'),
    `POST /api/v1/tokens: ${describeResponse(r)}`,
  );
  return `Bearer ${secret}`;
}

/**
 * One configuration: start the server, push the image, (run 2: the cold logins), the warm-up and the
 * measured GETs; stop the server.
 * @param {{ kind: AuthKind, label: string }} configuration
 * @param {Settings} settings
 * @param {string} work
 * @param {Awaited<ReturnType<typeof writeAuthFiles>>} files
 * @returns {Promise<{ result: AuthResult, cold?: ColdLogin }>}
 */
async function measure({ kind, label }, settings, work, files) {
  // startTarget passes this process's environment on to the server.
  process.env.RATE_LIMIT = '0';
  if (kind === 'none') delete process.env.AUTH_CONFIG;
  else process.env.AUTH_CONFIG = kind === 'basic' ? files.basicConfig : files.tokenConfig;
  const userBasic = basic(USER, files.passwords.get(USER) ?? '');
  authorization = kind === 'none' ? undefined : userBasic;
  log(`${kind}: starting the server`);
  const target = await startTarget('ours', settings, work, { name: `ours-${kind}` });
  const t = { base: target.base, agent: new http.Agent({ keepAlive: true, maxSockets: 4 }) };
  try {
    const manifest = await pushImage(t, REPO, TAG);
    const cold = kind === 'basic' ? await coldLogins(target.base, files.passwords) : undefined;
    authorization = await measuredCredential(kind, target.base, userBasic);
    const load = { base: target.base, concurrency: settings.concurrency, seconds: settings.manifestSeconds };
    if (settings.manifestWarmup > 0) {
      const warm = await manifestLoad(REPO, TAG, manifest, { ...load, count: settings.manifestWarmup });
      check(warm.errors === 0, `${kind}: warm-up: ${warm.errors} errors, first: ${warm.firstError}`);
    }
    const loadavgAtStart = os.loadavg();
    const monitor = new ServerMonitor(target.pid);
    monitor.begin();
    const measured = await manifestLoad(REPO, TAG, manifest, { ...load, count: settings.manifestRequests });
    const stats = monitor.end();
    check(measured.errors === 0, `${kind}: ${measured.errors} errors, first: ${measured.firstError}`);
    log(
      `${kind}: ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms` +
        `${measured.timedOut ? ` (stopped at the ${settings.manifestSeconds} s bound)` : ''}`,
    );
    return { result: { kind, label, load: measured, stats, loadavgAtStart }, cold };
  } finally {
    authorization = undefined;
    t.agent.destroy();
    await stopChild(target.child);
  }
}

/**
 * The report as markdown: settings, machine, the table, the cold logins.
 * @param {readonly AuthResult[]} results
 * @param {ColdLogin | undefined} cold
 * @param {Settings} settings
 * @param {Machine} machine
 * @param {string} htpasswdTool
 */
function formatMarkdown(results, cold, settings, machine, htpasswdTool) {
  const none = results.find((r) => r.kind === 'none');
  /** @param {AuthResult} r */
  const cpuPerRequestUs = (r) => (1e6 * r.stats.serverCpuS) / r.load.requests;
  const rows = results.map((r) => {
    const cpu = cpuPerRequestUs(r);
    const extra = none && r !== none ? ` (+${fmt(cpu - cpuPerRequestUs(none), 0)})` : '';
    return [
      r.label,
      fmt(r.load.rps, 0),
      none ? `${(r.load.rps / none.load.rps).toFixed(2)}x` : 'n/a',
      fmt(r.load.p50Ms, 2),
      fmt(r.load.p99Ms, 2),
      `${fmt(cpu, 0)}${extra}`,
      fmt((1e6 * r.stats.serverMainThreadS) / r.load.requests, 0),
      fmt((100 * r.stats.otherCpuS) / r.stats.wallS, 0),
      `${r.load.requests}${r.load.timedOut ? ' (time bound)' : ''}`,
      fmt(r.loadavgAtStart[0] ?? Number.NaN, 2),
    ];
  });
  const out = [
    `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${fmt(machine.memGiB)} GiB RAM, Linux ${machine.kernel}, ` +
      `Node ${machine.node}, temp dir on ${machine.fs}, load average at start ` +
      `${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}; started ${new Date().toISOString()}.`,
    '',
    `Manifest GET by tag, ${settings.concurrency} keep-alive connections, ${settings.manifestRequests} GETs ` +
      `(+${settings.manifestWarmup} warm-up) bound ${settings.manifestSeconds} s; a fresh server per row ` +
      `(embedded PostgreSQL, RATE_LIMIT=0); htpasswd by ${htpasswdTool}. Server CPU is user + sys of its ` +
      'process tree (database included) over the measured GETs, "main thread" its JS thread\'s share; ' +
      '"other" is the rest of the machine minus server and client, in % of one core.',
    '',
    markdownGrid(
      [
        'configuration',
        'req/s',
        'vs none',
        'p50 ms',
        'p99 ms',
        'server CPU µs/req (vs none)',
        'main thread µs/req',
        'other %',
        'requests',
        'load avg (1 min) before',
      ],
      rows,
    ),
  ];
  if (cold) {
    /** @param {number[]} ms */
    const range = (ms) => `${fmt(median(ms), 2)} (${fmt(Math.min(...ms), 2)}-${fmt(Math.max(...ms), 2)})`;
    out.push(
      '',
      `Basic login, \`mode: basic\`: GET /v2/ of ${cold.users} fresh users (bcrypt cost ${BCRYPT_COST}), ` +
        'one after the other over one warm keep-alive connection:',
      '',
      markdownGrid(
        ['request', 'median ms (min-max)'],
        [
          ["a user's first (bcrypt verification, not cached)", range(cold.firstMs)],
          ['its second (cached for 60 s)', range(cold.secondMs)],
        ],
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

/** @returns {Promise<number>} the exit code */
async function main() {
  const settings = loadSettings({ ...process.env, BENCH_TARGETS: 'ours' });
  const json = process.argv.includes('--json');
  const machine = machineInfo(settings);
  const work = await mkdtemp(join(settings.tmpBase, 'artifact-store-bench-auth-'));
  await chmod(work, 0o755); // the embedded PostgreSQL may run as another user (when we are root)
  try {
    log(`temp dir ${work}; writing the htpasswd file (bcrypt cost ${BCRYPT_COST})`);
    const files = await writeAuthFiles(work);
    /** @type {AuthResult[]} */
    const results = [];
    /** @type {ColdLogin | undefined} */
    let cold;
    for (const configuration of CONFIGURATIONS) {
      const measured = await measure(configuration, settings, work, files);
      results.push(measured.result);
      cold ??= measured.cold;
    }
    process.stdout.write(
      json
        ? `${JSON.stringify({ settings, machine, results, cold }, null, 2)}\n`
        : formatMarkdown(results, cold, settings, machine, files.htpasswdTool),
    );
    return 0;
  } finally {
    await stopAll();
    if (!settings.keep) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

// Whatever happens, no server outlives the benchmark.
process.on('exit', killAll);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(
      `bench:auth: ${error instanceof UsageError || error instanceof CheckError ? error.message : (error?.stack ?? error)}\n`,
    );
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
