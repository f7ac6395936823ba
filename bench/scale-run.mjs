// @ts-check
// The scale benchmark as one step (scale.mjs runs it alone, run.mjs after its own phases): each
// registry started on an empty data dir (startTarget: ours as `npm start` runs it, on BENCH_OURS_NODE),
// populated, measured and stopped in turn; then ours' views rebuilt from BENCH_SCALE_EVENTS events.
import http from 'node:http';
import { dirname, join } from 'node:path';
import { CheckError } from './http.mjs';
import { log } from './log.mjs';
import { rebuildBench } from './scale-events.mjs';
import { measureAll } from './scale-measure.mjs';
import { populate, populated } from './scale-populate.mjs';
import { scaleReport } from './scale-report.mjs';
import { measureUi } from './scale-ui.mjs';
import { isStopping, startTarget, stopChild } from './targets.mjs';

/** @import { RebuildResult } from './scale-events.mjs' */
/** @import { ScaleClient, ScaleResult, ScaleSettings } from './scale-settings.mjs' */
/** @import { Settings } from './settings.mjs' */

/**
 * @typedef {object} ScaleRun
 * @property {ScaleResult[]} results
 * @property {RebuildResult | undefined} rebuild
 * @property {string} report markdown
 * @property {boolean} failed an answer or the rebuilt views were wrong
 */

/**
 * @param {ScaleSettings} s
 * @param {Settings} settings which registries can run (settings.targets) and how to start them
 * @param {string} workDir
 * @returns {Promise<ScaleRun>}
 */
export async function scaleBench(s, settings, workDir) {
  /** @type {ScaleResult[]} */
  const results = [];
  let failed = false;
  const skipped = [...settings.skipped];
  for (const kind of s.targets) {
    if (isStopping()) throw new Error('interrupted');
    if (!settings.targets.includes(kind)) continue; // not run, and settings.skipped says why
    /** @type {ScaleResult} */
    const result = { kind, populateS: {}, tags: 0, figures: [], notes: [] };
    const oursData = kind === 'ours' ? s.oursDataDir : undefined;
    /** @type {ScaleClient} */
    let t;
    try {
      const started = await startTarget(kind, settings, workDir, {
        name: `scale-${kind}`,
        ...(oursData ? { dataDir: oursData } : {}),
        // As the scale runs were first measured: no hard links and BoltDB lookups per mount.
        zotDedupe: false,
      });
      t = { ...started, agent: new http.Agent({ keepAlive: true, maxSockets: s.concurrency }) };
    } catch (error) {
      skipped.push(`${kind}: not run: ${/** @type {Error} */ (error).message}`);
      log(`${kind}: not run: ${/** @type {Error} */ (error).message}`);
      continue;
    }
    try {
      const subject = oursData ? populated(s, result) : await populate(t, s, result);
      await measureAll(t, s, subject, result);
      if (kind === 'ours') await measureUi(t, s, result);
    } catch (error) {
      if (!(error instanceof CheckError)) throw error;
      failed = true;
      result.notes.push(`FAILED: ${error.message}`);
      log(`${kind}: ${error.message}`);
    } finally {
      t.agent.destroy();
      await stopChild(t.child);
    }
    results.push(result);
  }
  /** @type {RebuildResult | undefined} */
  let rebuild;
  if (s.events > 0 && settings.targets.includes('ours') && s.targets.includes('ours')) {
    rebuild = await rebuildBench(join(workDir, 'rebuild'), s.events, dirname(settings.oursCli));
    if (!rebuild.countsOk) failed = true;
  }
  return { results, rebuild, report: scaleReport(results, rebuild, s, skipped), failed };
}
