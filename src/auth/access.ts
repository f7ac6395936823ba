// What a caller may reach, as the registry asks it: the policy applied to one principal. With
// authentication off every caller has OPEN_ACCESS (as before issue 8).
import type { AdminAction, Policy, RepositoryAction, RepositoryFilter } from './policy.js';
import type { Principal } from './principal.js';

export interface Access {
  can(repository: string, action: RepositoryAction): boolean;
  /** The repositories the caller may pull (for listings, in SQL or in memory). */
  pullable(): RepositoryFilter;
  /**
   * What `_catalog` lists: as `pullable`, except that a token granting `registry:catalog:*` lists
   * what its identity may pull (the token names no repositories; clients ask for the catalog alone).
   */
  catalog(): RepositoryFilter;
  isAdmin(action: AdminAction): boolean;
}

export const OPEN_ACCESS: Access = {
  can: () => true,
  pullable: () => ({ kind: 'all' }),
  catalog: () => ({ kind: 'all' }),
  isAdmin: () => true,
};

export function accessOf(policy: Policy, principal: Principal): Access {
  let filter: RepositoryFilter | undefined;
  const access: Access = {
    can: (repository, action) => policy.can(principal, repository, action),
    pullable: () => {
      filter ??= policy.pullFilter(principal);
      return filter;
    },
    catalog: () =>
      principal.bearer && principal.catalog
        ? policy.pullFilter({ ...principal, limits: principal.limits.slice(0, -1) })
        : access.pullable(),
    isAdmin: (action) => policy.isAdmin(principal, action),
  };
  return access;
}
