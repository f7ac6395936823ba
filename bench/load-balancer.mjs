// @ts-check
// The load balancer in front of several nodes of ours: nginx (a minimal config for a registry:
// round-robin upstream with keep-alive, no request or response buffering, no body size limit, no
// access log) or, without nginx, scripts/round-robin.mjs in a child process of its own (so that its
// CPU is measured apart from the client's). Listens on a free port of 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hasExited, sleep, spawnLogged, stopChild, tail } from './children.mjs';
import { request } from './http.mjs';

/** @import { ChildProcess } from 'node:child_process' */
/** @import { Settings } from './settings.mjs' */

/**
 * @typedef {object} LoadBalancer
 * @property {string} name e.g. "nginx 1.22.1 (2 workers)"
 * @property {string} base
 * @property {number} pid its root process (nginx's master; its workers are its children)
 * @property {ChildProcess} child
 * @property {string} logPath
 * @property {() => Promise<void>} stop
 */

/**
 * nginx.conf for `backends` (host:port) behind 127.0.0.1:`port`, everything under `dir`.
 * @param {string[]} backends
 * @param {number} port
 * @param {string} dir
 */
export function nginxConfig(backends, port, dir) {
  return `daemon off;
master_process on;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream registry {
${backends.map((b) => `    server ${b};`).join('\n')}
    keepalive 32;
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    location / {
      proxy_pass http://registry;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 900s;
      proxy_send_timeout 900s;
      proxy_redirect off;
    }
  }
}
`;
}

/**
 * Resolves once GET /v2/ through the balancer answers 200.
 * @param {ChildProcess} child
 * @param {string} base
 * @param {string} logPath
 */
async function waitReady(child, base, logPath) {
  const deadline = performance.now() + 20_000;
  while (!hasExited(child) && performance.now() < deadline) {
    try {
      const r = await request(undefined, `${base}/v2/`, { headers: { Connection: 'close' } });
      if (r.status === 200) return;
    } catch {}
    await sleep(50);
  }
  await stopChild(child, 2000);
  throw new Error(`the load balancer did not answer GET ${base}/v2/ (log: ${tail(logPath)})`);
}

/**
 * Starts the load balancer of `settings.lb` in front of `backends` (base URLs).
 * @param {Settings} settings
 * @param {string[]} backends e.g. ['http://127.0.0.1:5201', …]
 * @param {string} workDir
 * @param {string} name for its files, e.g. lb-ours-x2
 * @returns {Promise<LoadBalancer>}
 */
export async function startLoadBalancer(settings, backends, workDir, name) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logPath = join(workDir, `${name}.log`);
  /** @type {ChildProcess} */
  let child;
  /** @type {string} */
  let label;
  if (settings.lb === 'nginx' && settings.nginxBin) {
    const dir = join(workDir, name);
    await mkdir(dir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(
        backends.map((b) => new URL(b).host),
        port,
        dir,
      ),
    );
    const args = ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log')];
    child = await spawnLogged(settings.nginxBin, args, { env: process.env, cwd: dir, logPath });
    const version = /nginx\/(\S+)/.exec(
      spawnSync(settings.nginxBin, ['-v'], { encoding: 'utf8' }).stderr,
    )?.[1];
    label = `nginx ${version ?? '?'}`;
    await waitReady(child, base, `${dir}/error.log`);
  } else {
    const script = fileURLToPath(new URL('./round-robin-child.mjs', import.meta.url));
    child = await spawnLogged(process.execPath, [script, String(port), ...backends], {
      env: process.env,
      cwd: workDir,
      logPath,
    });
    label = 'scripts/round-robin.mjs (Node)';
    await waitReady(child, base, logPath);
  }
  return {
    name: label,
    base,
    pid: /** @type {number} */ (child.pid),
    child,
    logPath,
    stop: () => stopChild(child, 5000),
  };
}
