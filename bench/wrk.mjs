// @ts-check
// wrk (Debian package `wrk`, a C HTTP benchmarking tool) as the load generator of the manifest GET
// phase: a C client with one event loop, so that the client rather than the server no longer sets
// the pace (the Node client costs 55-120 µs of CPU per request, about what the servers need).
// wrk runs `-t1 -c<connections> -d<seconds>s --latency` with the Accept header and a Lua script
// (wrkScript) that checks the answers and prints one machine-readable line at the end
// (parseWrkResult). wrk's CPU time is read from this process's /proc/self/stat: the kernel adds a
// child's user and system time to its parent's cutime/cstime when the parent reaps it, so their
// growth over the run (from before spawning wrk to its `close` event) is wrk's own CPU time; no other
// child of the benchmark exits meanwhile (the servers run on).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const CLK_TCK = 100; // USER_HZ on Linux

/** The prefix of the line the Lua script's done() prints. */
export const RESULT_PREFIX = 'WRK_RESULT';

/**
 * Every `CHECK_EVERY`th response has its Docker-Content-Digest header and body length compared with
 * the pushed manifest; the status of every response is checked. 1: every response. Measured on this
 * 2-core machine against distribution (wrk's CPU per request, 3 rounds of 5 s each): no response()
 * 8-11 µs, response() checking every 64th 11-14 µs, checking every response 11-15 µs. The cost is
 * wrk handing each response's headers and body to Lua, which a sample does not avoid; the comparison
 * itself is lost in the noise, so every response is checked.
 */
export const CHECK_EVERY = 1;

/** The unmeasured run before the measured one, seconds. */
export const WARMUP_SECONDS = 1;

/**
 * One wrk run's figures, from the line the Lua script's done() prints.
 * @typedef {object} WrkResult
 * @property {number} requests responses received (whatever their status)
 * @property {number} seconds the run's duration
 * @property {number} badStatus responses whose status was not 200
 * @property {number} checked responses whose digest header and body length were compared
 * @property {number} mismatches of those, the ones that differed from the pushed manifest
 * @property {number} socketErrors connect, read, write errors and timeouts (wrk's own counts)
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} maxMs
 * @property {string | undefined} firstError the first bad answer the script saw
 */

/**
 * A Lua string literal (long brackets would do, but a quoted string is simpler to read back).
 * @param {string} text
 */
const luaString = (text) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

/**
 * The Lua script: response() counts answers, checks the status of each and the Docker-Content-Digest
 * header and body length of every `every`th one against the expected manifest; done() sums the
 * threads' counts and prints one line: RESULT_PREFIX then key=value pairs (latencies in ms) and,
 * last, first_error=<the rest of the line>.
 * @param {{ digest: string, length: number, every?: number }} expected
 * @returns {string}
 */
export function wrkScript({ digest, length, every = CHECK_EVERY }) {
  return `-- written by bench/wrk.mjs
local expected_digest = ${luaString(digest)}
local expected_length = ${length}
local every = ${every}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad_status = 0
  checked = 0
  mismatches = 0
  first_error = ""
end

local function header(headers, name)
  local value = headers[name]
  if value ~= nil then return value end
  local lower = string.lower(name)
  for k, v in pairs(headers) do
    if string.lower(k) == lower then return v end
  end
  return nil
end

function response(status, headers, body)
  n = n + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if first_error == "" then first_error = "status " .. status .. ": " .. string.sub(body or "", 1, 200) end
    return
  end
  if n % every == 0 then
    checked = checked + 1
    local got = header(headers, "Docker-Content-Digest")
    if got ~= expected_digest then
      mismatches = mismatches + 1
      if first_error == "" then first_error = "Docker-Content-Digest " .. tostring(got) end
    elseif #body ~= expected_length then
      mismatches = mismatches + 1
      if first_error == "" then first_error = "body of " .. #body .. " bytes, not " .. expected_length end
    end
  end
end

function done(summary, latency, requests)
  local bad, chk, mis, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad_status")
    chk = chk + t:get("checked")
    mis = mis + t:get("mismatches")
    local f = t:get("first_error")
    if first == "" and f ~= nil then first = f end
  end
  local e = summary.errors
  io.write(string.format(
    "${RESULT_PREFIX} requests=%d duration_us=%d bad_status=%d checked=%d mismatches=%d socket_errors=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f first_error=%s\\n",
    summary.requests, summary.duration, bad, chk, mis, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    (string.gsub(first, "[\\r\\n]", " "))))
end
`;
}

/**
 * Reads the line that wrkScript's done() prints from wrk's stdout.
 * @param {string} stdout
 * @returns {WrkResult}
 */
export function parseWrkResult(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith(`${RESULT_PREFIX} `));
  if (!line) throw new Error(`wrk printed no ${RESULT_PREFIX} line: ${stdout.slice(-500)}`);
  const firstAt = line.indexOf(' first_error=');
  const pairs = (firstAt < 0 ? line : line.slice(0, firstAt)).split(' ').slice(1);
  /** @type {Record<string, number>} */
  const values = {};
  for (const pair of pairs) {
    const [key = '', value = ''] = pair.split('=');
    values[key] = Number(value);
  }
  /** @param {string} key */
  const num = (key) => {
    const v = values[key];
    if (v === undefined || !Number.isFinite(v))
      throw new Error(`wrk result: no number for ${key} in "${line}"`);
    return v;
  };
  const first = firstAt < 0 ? '' : line.slice(firstAt + ' first_error='.length);
  return {
    requests: num('requests'),
    seconds: num('duration_us') / 1e6,
    badStatus: num('bad_status'),
    checked: num('checked'),
    mismatches: num('mismatches'),
    socketErrors: num('socket_errors'),
    p50Ms: num('p50_ms'),
    p99Ms: num('p99_ms'),
    maxMs: num('max_ms'),
    firstError: first === '' ? undefined : first,
  };
}

/**
 * "4.1.0" from `wrk -v`'s first line (e.g. "wrk debian/4.1.0-3+b2 [epoll] Copyright ..."), or the
 * line itself when it holds no version.
 * @param {string} text
 */
export function parseWrkVersion(text) {
  const first = text.split('\n')[0]?.trim() ?? '';
  return /(\d+\.\d+\.\d+)/.exec(first)?.[1] ?? (first || 'unknown version');
}

/** @type {Map<string, string>} */
const versions = new Map();

/**
 * wrk's version (cached per binary). `wrk -v` prints its banner and usage, and exits 1.
 * @param {string} wrkBin
 */
export function wrkVersion(wrkBin) {
  let version = versions.get(wrkBin);
  if (version === undefined) {
    const r = spawnSync(wrkBin, ['-v'], { encoding: 'utf8' });
    version = parseWrkVersion(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    versions.set(wrkBin, version);
  }
  return version;
}

/** CPU seconds of this process's reaped children (cutime + cstime of /proc/self/stat). */
function reapedChildrenCpuS() {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 (index 13 and 14 after the command name).
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/**
 * One wrk run; resolves with its result and its CPU seconds.
 * @param {{ wrkBin: string, url: string, accept: string, concurrency: number, seconds: number, scriptPath: string }} run
 * @returns {Promise<{ result: WrkResult, cpuS: number }>}
 */
export function runWrk({ wrkBin, url, accept, concurrency, seconds, scriptPath }) {
  const args = [
    '-t1',
    `-c${concurrency}`,
    `-d${seconds}s`,
    '--latency',
    '-H',
    `Accept: ${accept}`,
    '-s',
    scriptPath,
    url,
  ];
  return new Promise((resolvePromise, reject) => {
    const cpu0 = reapedChildrenCpuS();
    const child = spawn(wrkBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const cpuS = Math.round((reapedChildrenCpuS() - cpu0) * CLK_TCK) / CLK_TCK;
      if (code !== 0) {
        reject(new Error(`wrk exited with ${signal ?? code}: ${(stderr || stdout).trim().slice(-500)}`));
        return;
      }
      try {
        resolvePromise({ result: parseWrkResult(stdout), cpuS });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * The load figures of a wrk run in the shape of the Node client's (manifests.mjs's LoadResult):
 * `requests` = the answers that were 200 (sampled ones also with the right digest and length),
 * `errors` = every other answer, socket error and timeout.
 * @param {WrkResult} r
 */
export function wrkLoadResult(r) {
  const errors = r.badStatus + r.mismatches + r.socketErrors;
  const requests = Math.max(0, r.requests - r.badStatus - r.mismatches);
  return {
    requests,
    errors,
    firstError:
      r.firstError ??
      (r.socketErrors > 0 ? `${r.socketErrors} connect/read/write errors or timeouts` : undefined),
    seconds: r.seconds,
    timedOut: false,
    rps: r.seconds > 0 ? requests / r.seconds : Number.NaN,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    maxMs: r.maxMs,
    checked: r.checked,
  };
}

/**
 * How the manifest GETs were generated, for the report: "wrk 4.1.0, 16 connections, 10 s".
 * @param {string} version
 * @param {number} concurrency
 * @param {number} seconds
 */
export const wrkClientText = (version, concurrency, seconds) =>
  `wrk ${version}, ${concurrency} connections, ${seconds} s`;

/**
 * What the Lua script checks, for the report.
 * @param {number} [every]
 */
export const wrkCheckText = (every = CHECK_EVERY) =>
  every === 1
    ? "wrk's Lua script checks every response: status 200, Docker-Content-Digest and body length those of the pushed manifest"
    : `wrk's Lua script checks the status (200) of every response, and the Docker-Content-Digest and body length of every ${every}th (a fixed sample)`;

/**
 * One wrk run of `seconds` GETting `path` of `base` over `concurrency` connections, every answer
 * checked against `manifest` (see wrkScript, whose file goes to `dir`); the figures in the shape of
 * the Node client's, plus wrk's CPU seconds and a description of the client.
 * @param {{ wrkBin: string, base: string, path: string, accept: string, concurrency: number, seconds: number, dir: string }} load
 * @param {{ digest: string, size: number }} manifest
 */
export async function wrkManifestLoad(load, manifest) {
  const scriptPath = join(load.dir, 'manifest-get.lua');
  await writeFile(scriptPath, wrkScript({ digest: manifest.digest, length: manifest.size }));
  const { result, cpuS } = await runWrk({ ...load, url: `${load.base}${load.path}`, scriptPath });
  return {
    ...wrkLoadResult(result),
    loadClientCpuS: cpuS,
    client: wrkClientText(wrkVersion(load.wrkBin), load.concurrency, load.seconds),
  };
}
