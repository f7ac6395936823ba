// A throw-away certificate authority and server certificates for tests of HTTPS, made with the openssl
// CLI as ADR-0010 §4 shows: an EC P-256 CA valid 2 days, and leaves for localhost and 127.0.0.1 valid
// 1 day. `node scripts/test-ca.mjs <dir>` prints the paths as JSON. Types: test-ca.d.mts.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs openssl in `dir`; a missing openssl or a failed step becomes an Error that says which. */
async function openssl(/** @type {string} */ dir, /** @type {string[]} */ args) {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    const e = /** @type {NodeJS.ErrnoException & { stderr?: string }} */ (error);
    if (e.code === 'ENOENT') {
      throw new Error(
        'test-ca: the openssl command is not installed (apt-get install openssl, brew install openssl)',
      );
    }
    throw new Error(`test-ca: openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** @type {import('./test-ca.d.mts').makeTestCa} */
export async function makeTestCa(dir) {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  // biome-ignore format: the command as ADR-0010 §4 writes it
  await openssl(root, [
    'req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=artifact-store test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const leaf = await makeLeaf(root, 'leaf');
  return { caCert: resolve(root, 'ca.crt'), caKey: resolve(root, 'ca.key'), ...leaf };
}

/** @type {import('./test-ca.d.mts').makeLeaf} */
export async function makeLeaf(dir, name) {
  const root = resolve(dir);
  // What the ADR passes as <(printf …); execFile has no shell, so it is a file.
  const extFile = `${name}.ext`;
  await writeFile(
    resolve(root, extFile),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  // biome-ignore format: the commands as ADR-0010 §4 writes them
  await openssl(root, [
    'req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost',
  ]);
  // -CAcreateserial: ca.srl, so each leaf of this CA gets its own serial.
  // biome-ignore format: the commands as ADR-0010 §4 writes them
  await openssl(root, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '1', '-extfile', extFile,
  ]);
  return { cert: resolve(root, `${name}.crt`), key: resolve(root, `${name}.key`) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node scripts/test-ca.mjs <dir>\n');
    process.exit(2);
  }
  makeTestCa(dir).then(
    (paths) => process.stdout.write(`${JSON.stringify(paths, null, 2)}\n`),
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
