// The native API's access table (src/http/access-table.ts): a HEAD needs what the GET of the same
// path needs, since the router answers a HEAD with the GET handler.
import { describe, expect, it } from 'vitest';
import { nativeRequirement } from '../../src/http/access-table.js';

const PATHS = [
  '/api/v1/repositories',
  '/api/v1/repositories/team/app/tags',
  '/api/v1/repositories/team/app/packages/v1',
  '/api/v1/events/verify',
  '/api/v1/events',
  '/api/v1/holds',
  '/api/v1/gc',
  '/api/v1/retention-policies',
  '/api/v1/tokens',
  '/api/v1/uploads/x',
  '/api/v1/blobs/sha256:00/info',
  '/api/v1/apps',
];

describe('native access table', () => {
  it('asks of a HEAD what it asks of the GET', () => {
    for (const path of PATHS) {
      const request = new Request(`http://registry.test${path}`);
      expect(nativeRequirement('HEAD', request), path).toEqual(nativeRequirement('GET', request));
    }
    // The chain check reads the whole log: admins of events only, whichever method asks.
    expect(nativeRequirement('HEAD', new Request('http://registry.test/api/v1/events/verify'))).toEqual({
      kind: 'admin',
      action: 'events',
    });
  });
});
