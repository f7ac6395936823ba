// Every row of the matrix, in the order it runs them: /v2/, the native API, the token service.
import { NATIVE_BLOB_ROWS } from './rows-native-blobs.js';
import { NATIVE_REGISTRY_ROWS } from './rows-native-registry.js';
import { NATIVE_RELEASE_ROWS } from './rows-native-releases.js';
import { NATIVE_REPOSITORY_ROWS } from './rows-native-repositories.js';
import { TOKEN_ROWS } from './rows-token.js';
import { V2_ROWS } from './rows-v2.js';

/** Native rows by OpenAPI operation; several rows may test one operation. */
export const NATIVE_ROWS = [
  ...NATIVE_BLOB_ROWS,
  ...NATIVE_REPOSITORY_ROWS,
  ...NATIVE_REGISTRY_ROWS,
  ...NATIVE_RELEASE_ROWS,
];

export const matrixRows = () => [...V2_ROWS, ...NATIVE_ROWS, ...TOKEN_ROWS];
