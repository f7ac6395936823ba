// Bounded, seeded fuzzing of every /v2/ endpoint over real HTTP (and raw sockets for malformed
// HTTP). Asserts: no 5xx, every request gets a complete response, every 4xx carries an OCI JSON
// error body, nothing the grammar forbids is accepted (dot segments in names, absurdly deep JSON),
// content fetched by digest hashes to that digest, and afterwards the stored state is intact
// (integrity.ts). Violations are collected, grouped by kind and likely cause, and reported in one
// failure with a few minimal examples each.
//
//   FUZZ_SEED=<n>      replay a run (printed at the start)      default 20261123
//   FUZZ_REQUESTS=<n>  how many requests to send                 default 20000
//
// The request sequence is a pure function of the seed (task i draws from its own PRNG stream);
// what the server answers can still depend on timing (16 requests in flight, upload races).
// Successful writes cost the embedded database 10-30 ms each, so the mix keeps them to a few
// percent (valid pushes, sessions, races) and spends the rest on reads and on malformed input that
// must be refused: that is what fits 20,000 requests into about a minute on two cores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixSeed, Rng } from '../helpers/random.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { FuzzClient } from './client.js';
import { TRACKED } from './fixtures.js';
import { checkIntegrity } from './integrity.js';
import { KeyedLock } from './keyed-lock.js';
import { Model } from './model.js';
import { setup } from './operations.js';
import { FuzzReport } from './report.js';
import { fuzzRequest, performFuzz } from './request.js';
import type { Planned, Run } from './run.js';
import { CONCURRENCY, RAW_CONCURRENCY, REQUESTS, SEED } from './settings.js';
import { runTask, TASK_REQUESTS, taskKind } from './tasks.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
}, 60_000);
afterAll(async () => {
  await r?.close();
});

describe('/v2/ fuzz', () => {
  it(`survives ${REQUESTS} malformed and random requests (seed ${SEED})`, { timeout: 120_000 }, async () => {
    console.log(
      `[fuzz] FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS} (replay: FUZZ_SEED=${SEED} npx vitest run test/fuzz)`,
    );
    const started = Date.now();
    const run: Run = {
      r,
      client: new FuzzClient<Planned>(r.port, CONCURRENCY),
      report: new FuzzReport(),
      model: new Model(TRACKED),
      lock: new KeyedLock(),
      sessions: Array.from({ length: 24 }, () => undefined),
      finished: [],
      stats: new Map(),
      inflight: new Map(),
    };
    await setup(run);
    // The task list is fixed by the seed: tasks are taken in order until their planned requests
    // reach REQUESTS. Raw-socket tasks get their own lane (they mostly wait for the server to close).
    const lanes: { http: number[]; raw: number[] } = { http: [], raw: [] };
    let next = 0;
    for (let planned = run.report.requests; planned < REQUESTS; next++) {
      const kind = taskKind(next, new Rng(mixSeed(SEED, 2, next)));
      planned += TASK_REQUESTS[kind];
      (kind === 'raw' ? lanes.raw : lanes.http).push(next);
    }
    const drain = async (queue: number[]) => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await runTask(run, i);
    };
    await Promise.all([
      ...Array.from({ length: CONCURRENCY }, () => drain(lanes.http)),
      ...Array.from({ length: RAW_CONCURRENCY }, () => drain(lanes.raw)),
    ]);
    // Valid operations may send more or fewer requests than planned; top up to the requested count.
    while (run.report.requests < REQUESTS) {
      const batch = Math.min(CONCURRENCY, REQUESTS - run.report.requests);
      await Promise.all(
        Array.from({ length: batch }, () =>
          performFuzz(run, fuzzRequest(run, new Rng(mixSeed(SEED, 4, next++)))),
        ),
      );
    }
    run.client.close();
    const fuzzed = Date.now();
    await checkIntegrity(r, run.model, run.report);
    const done = Date.now();
    const stats = [...run.stats.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
    console.log(
      `[fuzz] ${run.report.requests} requests in ${((fuzzed - started) / 1000).toFixed(1)} s, integrity check ${((done - fuzzed) / 1000).toFixed(1)} s; tasks ${next}\n[fuzz] ${stats.join(' ')}`,
    );
    if (run.model.uncertainEvents.length > 0) {
      console.log(
        `[fuzz] ${run.model.uncertainEvents.length} tracked operations without a definite answer (not verified afterwards)`,
      );
    }
    const summary = run.report.format(`/v2/ fuzz, FUZZ_SEED=${SEED}, FUZZ_REQUESTS=${REQUESTS}`);
    console.log(summary);
    expect(run.report.requests).toBeGreaterThanOrEqual(REQUESTS);
    if (run.report.size > 0) expect.fail(summary);
  });
});
