// Types of scripts/moto.mjs (plain JS, imported by Node scripts and by TypeScript tests).

/** The pinned moto release: the venv holds exactly `moto[server]==MOTO_VERSION`. */
export declare const MOTO_VERSION: '5.2.5';

export interface EnsureMotoOptions {
  /** Progress messages (only printed while creating the venv / installing). */
  log?: (message: string) => void;
}

/**
 * Makes sure `<repo>/.tools/moto` is a venv with exactly `moto[server]==5.2.5` (fast when it is)
 * and resolves to its `moto_server` executable. Rejects with an Error naming what to install when
 * python3 or its venv module is missing.
 */
export declare function ensureMoto(options?: EnsureMotoOptions): Promise<string>;

export interface StartMotoOptions extends EnsureMotoOptions {
  /** Created (path-style, unsigned PUT) once moto answers. Default `artifact-store`. */
  bucket?: string;
  /** Key prefix in `env.BLOB_STORE`. Default `registry`. */
  prefix?: string;
}

export type MotoEndpoint = `http://127.0.0.1:${number}`;

/** Environment for a registry process that stores its blobs in moto. */
export interface MotoEnv {
  BLOB_STORE: `s3://${string}/${string}`;
  S3_ENDPOINT: MotoEndpoint;
  S3_REGION: 'us-east-1';
  S3_FORCE_PATH_STYLE: 'true';
  AWS_ACCESS_KEY_ID: 'test';
  AWS_SECRET_ACCESS_KEY: 'test';
}

export interface Moto {
  endpoint: MotoEndpoint;
  bucket: string;
  env: MotoEnv;
  /** Process id of moto (its python wrapper). */
  pid: number;
  /** moto's stdout and stderr; removed by stop(). */
  logFile: string;
  /** Kills moto (stdin EOF; SIGTERM 1 s on, SIGKILL 3 s later), removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Makes object restores progress manually (moto state manager, model `s3::keyrestore`). moto 5.2.5
   * counts `times` in internal key lookups, two per S3 request (RestoreObject included), and spends
   * `times` lookups on each of the steps "restore requested" → IN_PROGRESS → RESTORED (counted from
   * the object's PutObject). So with times 1–2, the first HEAD/GET after PutObject + RestoreObject
   * shows `ongoing-request="true"` (a GET fails with InvalidObjectState) and the next one is
   * restored; 3–4 give two ongoing reads; from 5 on the first read(s) show `ongoing-request="false"`
   * (not yet in progress, rendered as restored) before the ongoing ones — avoid times > 4.
   */
  setRestoreTransition(times: number): Promise<void>;
  /** Back to moto's default: a restore completes at once. */
  unsetRestoreTransition(): Promise<void>;
  /** Empties moto (POST /moto-api/reset), unsets the restore transition, recreates the bucket. */
  reset(): Promise<void>;
}

/** Installs moto if needed, starts it on a free loopback port and creates the bucket. */
export declare function startMoto(options?: StartMotoOptions): Promise<Moto>;
