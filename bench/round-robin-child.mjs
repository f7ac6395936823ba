// @ts-check
// scripts/round-robin.mjs as a process of its own, for bench/load-balancer.mjs:
//   node bench/round-robin-child.mjs <port> <backend base URL>…
// Listens on 127.0.0.1:<port>; SIGTERM closes it.
import { startRoundRobin } from '../scripts/round-robin.mjs';

const [port, ...backends] = process.argv.slice(2);
const proxy = await startRoundRobin(backends, { host: '127.0.0.1', port: Number(port) });
process.stdout.write(`round-robin listening on ${proxy.url} for ${backends.join(' ')}\n`);
process.once('SIGTERM', () => {
  proxy.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
