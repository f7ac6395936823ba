// Types of scripts/test-ca.mjs (plain JS, run by hand and imported by TypeScript tests).

/** Absolute paths of a server certificate (PEM) and its private key. */
export interface Leaf {
  cert: string;
  key: string;
}

/** Absolute paths of the test CA's certificate and key, and of its first leaf (`leaf.crt`, `leaf.key`). */
export interface TestCa extends Leaf {
  /** The CA certificate clients trust (`ca.crt`). */
  caCert: string;
  /** The CA's key (`ca.key`), which makeLeaf signs with. */
  caKey: string;
}

/**
 * Creates `dir` if needed and makes in it, with the openssl CLI, an EC P-256 CA valid 2 days
 * (`ca.crt`, `ca.key`) and a leaf for DNS:localhost and IP:127.0.0.1 valid 1 day. Rejects with an
 * Error saying so when openssl is not installed.
 */
export declare function makeTestCa(dir: string): Promise<TestCa>;

/**
 * Another leaf (`<name>.crt`, `<name>.key`, for localhost and 127.0.0.1, 1 day) of the CA that
 * makeTestCa made in `dir`, with a serial of its own.
 */
export declare function makeLeaf(dir: string, name: string): Promise<Leaf>;
