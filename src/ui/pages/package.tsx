// One manifest or native package: its files or layers with both digests and their storage tier, its
// annotations, its typed metadata read against the registered schema, its subject and the referrers
// that point at it as a tree (signatures, SBOMs, attestations, grouped by artifact type), and the
// commands that pull it.
import { apiPath } from '../api-client.js';
import { bytes, pullCommands, short, time } from '../format.js';
import { ActionForm, CopyLine, Head, Notice } from '../layout.js';
import { type PageResult, type Ui, UiNotFound, uiForm } from '../routes.js';
import type { BlobInfoJson, PackageJson } from '../types.js';
import { referrerTree, Tree } from './referrers.js';

/** Tags named on the page (a manifest may have 100,000). */
const TAGS_SHOWN = 20;
/** Files whose tier is looked up, one call each. */
const TIER_LOOKUPS = 50;

export async function packagePage(ui: Ui, repository: string, ref: string): Promise<PageResult> {
  const pkg = await onePackage(ui, repository, ref);
  const [schema, tiers, referrers] = await Promise.all([
    pkg.schema
      ? ui.api.get<Record<string, unknown>>(apiPath(['schemas', pkg.schema])).catch(() => undefined)
      : undefined,
    Promise.all(
      pkg.files
        .slice(0, TIER_LOOKUPS)
        .map((f) => ui.api.get<BlobInfoJson>(apiPath(['blobs', f.sha256, 'info'])).catch(() => undefined)),
    ),
    referrerTree(ui, repository, pkg.digest),
  ]);
  const url = new URL(ui.origin);
  const tag = pkg.tags[0];
  const commands = pullCommands({
    host: url.host,
    origin: ui.origin,
    repository,
    digest: pkg.digest,
    address: pkg.address,
    ...(tag ? { tag } : {}),
    plainHttp: url.protocol === 'http:',
  });
  const title = `${repository}${/^(sha256|blake3):/.test(ref) ? `@${short(ref)}` : `:${ref}`}`;
  const repoUrl = `/ui/repo/${repository}`;
  return {
    title,
    section: '/ui/repositories',
    body: (
      <>
        <p class="muted">
          <a href="/ui/repositories">Repositories</a> / <a href={repoUrl}>{repository}</a> /
        </p>
        <h1>{title}</h1>
        <dl class="facts">
          <dt>Kind</dt>
          <dd>{pkg.kind === 'native' ? 'native package' : 'OCI manifest'}</dd>
          <dt>Manifest digest (sha256)</dt>
          <dd class="mono" data-testid="digest">
            {pkg.digest}
          </dd>
          <dt>Package address (blake3)</dt>
          <dd class="mono" data-testid="address">
            {pkg.address ?? '—'}
          </dd>
          <dt>Media type</dt>
          <dd class="mono">{pkg.media_type}</dd>
          <dt>Artifact type</dt>
          <dd class="mono">{pkg.artifact_type ?? '—'}</dd>
          <dt>Tags</dt>
          <dd>
            {pkg.tags.length === 0 ? 'none' : pkg.tags.join(', ')}
            {pkg.tags_total !== undefined && (
              <span class="muted">{` and ${pkg.tags_total - pkg.tags.length} more (${pkg.tags_total} in all)`}</span>
            )}
          </dd>
          <dt>Created</dt>
          <dd>{time(pkg.created_at)}</dd>
          <dt>Subject</dt>
          <dd>
            {pkg.subject ? (
              <a class="mono" href={`${repoUrl}/-/package/${pkg.subject}`}>
                {pkg.subject}
              </a>
            ) : (
              'none (it refers to nothing)'
            )}
          </dd>
        </dl>

        <h2>{pkg.kind === 'native' ? 'Files' : 'Layers and files'}</h2>
        <div class="scroll">
          <table>
            <Head columns={['Path', ['Size', 'num'], 'sha256', 'blake3', 'Storage tier']} />
            <tbody>
              {pkg.files.map((f, i) => {
                const tier = tiers[i];
                return (
                  <tr>
                    <td>
                      {f.path ?? <span class="muted">(no path)</span>}
                      <div class="muted mono">{f.media_type}</div>
                    </td>
                    <td class="num">{bytes(f.size)}</td>
                    <td class="mono">{f.sha256}</td>
                    <td class="mono">{f.blake3 ?? tier?.blake3 ?? '—'}</td>
                    <td>{tier ? <TierCell ui={ui} tier={tier} repository={repository} ref={ref} /> : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {pkg.manifests && pkg.manifests.length > 0 && (
          <>
            <h2>Manifests of the index</h2>
            <ul>
              {pkg.manifests.map((m) => (
                <li>
                  <a class="mono" href={`${repoUrl}/-/package/${m.sha256}`}>
                    {m.sha256}
                  </a>{' '}
                  <span class="muted">
                    {m.media_type}, {bytes(m.size)}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}

        <h2>Annotations</h2>
        {Object.keys(pkg.annotations).length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <dl class="facts">
            {Object.entries(pkg.annotations).map(([k, v]) => (
              <>
                <dt class="mono">{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
          </dl>
        )}

        <h2>Typed metadata</h2>
        <Metadata schemaName={pkg.schema} schema={schema} metadata={pkg.metadata} />

        <h2>Referrers</h2>
        {referrers.groups.length === 0 ? (
          <p class="muted">Nothing refers to this manifest.</p>
        ) : (
          <Tree referrers={referrers} repoUrl={repoUrl} />
        )}

        <h2>Pull it</h2>
        {commands.map((cmd, i) => (
          <CopyLine id={`cmd-${i}`} text={cmd.command} label={`pull with ${cmd.client}`} />
        ))}
      </>
    ),
  };
}

async function onePackage(ui: Ui, repository: string, ref: string): Promise<PackageJson> {
  const { packages } = await ui.api.get<{ packages: PackageJson[] }>(
    apiPath(['repositories', repository, 'packages'], { ref, limit: 1, tags_limit: TAGS_SHOWN }),
  );
  const pkg = packages[0];
  if (!pkg) throw new UiNotFound();
  return pkg;
}

function Metadata(props: { schemaName?: string; schema?: Record<string, unknown>; metadata?: unknown }) {
  const { schemaName, schema, metadata } = props;
  if (metadata === undefined || metadata === null || typeof metadata !== 'object') {
    return <p class="muted">None.</p>;
  }
  const values = { ...(metadata as Record<string, unknown>) };
  delete values.schema;
  const properties = (schema?.properties ?? {}) as Record<
    string,
    { type?: string; description?: string; enum?: unknown[] }
  >;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  const names = [...new Set([...Object.keys(properties), ...Object.keys(values)])];
  return (
    <>
      <p>
        {schemaName ? (
          <>
            Validated against schema <a href={`/ui/schemas#schema-${schemaName}`}>{schemaName}</a> when it was
            published.
          </>
        ) : (
          'No schema.'
        )}
      </p>
      <div class="scroll">
        <table data-testid="metadata">
          <Head columns={['Field', 'Value', 'Schema says']} />
          <tbody>
            {names.map((name) => {
              const p = properties[name];
              return (
                <tr>
                  <th scope="row" class="mono">
                    {name}
                  </th>
                  <td class="mono">
                    {name in values ? JSON.stringify(values[name]) : <span class="muted">(absent)</span>}
                  </td>
                  <td class="muted">
                    {p
                      ? [
                          p.type ??
                            (p.enum ? `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}` : 'any'),
                          required.has(name) ? 'required' : 'optional',
                          p.description,
                        ]
                          .filter(Boolean)
                          .join('; ')
                      : 'not in the schema'}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

const RESTORE_TEXT: Record<BlobInfoJson['restore_status'], (t: BlobInfoJson) => string> = {
  none: () => '',
  in_progress: () => 'restore in progress',
  restored: (t) => `restored${t.restore_expires_at ? ` until ${time(t.restore_expires_at)}` : ''}`,
  expired: () => 'the restored copy expired',
};

function TierCell(props: { ui: Ui; tier: BlobInfoJson; repository: string; ref: string }) {
  const { tier } = props;
  const archived = tier.retrieval_tier === 'archive';
  return (
    <>
      <span class={archived ? 'badge warn' : 'badge'}>{tier.retrieval_tier}</span>
      {tier.restore_status !== 'none' && <div class="muted">{RESTORE_TEXT[tier.restore_status](tier)}</div>}
      {archived && !tier.readable && tier.restore_status === 'none' && (
        <ActionForm action="/ui/restore" csrf={props.ui.user.csrf} label="restore">
          <input type="hidden" name="digest" value={tier.sha256} />
          <input type="hidden" name="repository" value={props.repository} />
          <input type="hidden" name="ref" value={props.ref} />
          <button type="submit">Restore</button>
        </ActionForm>
      )}
    </>
  );
}

/** POST /ui/restore: restore an archived blob (needs pull on a repository holding it), then show the package. */
export async function restoreAction(ui: Ui): Promise<PageResult> {
  const form = await uiForm(ui.c);
  const digest = form.get('digest') ?? '';
  const repository = form.get('repository') ?? '';
  const ref = form.get('ref') ?? '';
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new UiNotFound();
  const answer = await ui.api.json<BlobInfoJson>('POST', apiPath(['blobs', digest, 'restore']));
  const page = await packagePage(ui, repository, ref);
  return {
    ...page,
    body: (
      <>
        <Notice kind="ok">
          {`Restore of ${short(digest)}: ${answer.readable ? 'the bytes are readable now' : `status ${answer.restore_status}`}.`}
        </Notice>
        {page.body}
      </>
    ),
  };
}
