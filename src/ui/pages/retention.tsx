// Retention policies, and what a garbage collection would remove now (a dry run: nothing changes).
import { apiPath } from '../api-client.js';
import { bytes, duration } from '../format.js';
import { ActionForm, Head, Notice } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';
import type { GcReportJson, RetentionPolicyJson } from '../types.js';

export async function retentionPage(ui: Ui, report?: GcReportJson): Promise<PageResult> {
  if (!ui.access.isAdmin('retention')) {
    return {
      title: 'Retention',
      section: '/ui/retention',
      body: (
        <>
          <h1>Retention</h1>
          <Notice>Retention policies are shown to admins of retention.</Notice>
        </>
      ),
    };
  }
  const { policies } = await ui.api.get<{ policies: RetentionPolicyJson[] }>(apiPath(['retention-policies']));
  return {
    title: 'Retention',
    section: '/ui/retention',
    body: (
      <>
        <h1>Retention policies</h1>
        {policies.length === 0 ? (
          <p class="muted">No policies: only untagged manifests past GC_DELAY are collected.</p>
        ) : (
          <div class="scroll">
            <table>
              <Head
                columns={[
                  'Policy',
                  'Repositories',
                  'Keeps the last',
                  'Always keeps tags',
                  'Untagged go after',
                ]}
              />
              <tbody>
                {policies.map((p) => (
                  <tr>
                    <td>{p.name}</td>
                    <td class="mono">{p.repositories.join(', ')}</td>
                    <td>{p.keep_last ?? '—'}</td>
                    <td class="mono">{p.keep_tags?.join(', ') || '—'}</td>
                    <td>
                      {p.untagged_after_seconds === null ? 'GC_DELAY' : duration(p.untagged_after_seconds)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h2>Dry run</h2>
        <div class="actions">
          <ActionForm action="/ui/retention/dry-run" csrf={ui.user.csrf} label="dry run">
            <button type="submit">Show what would be removed now</button>
          </ActionForm>
        </div>
        {report && <DryRunReport report={report} />}
      </>
    ),
  };
}

function DryRunReport(props: { report: GcReportJson }) {
  const { freed, retired } = props.report;
  return (
    <section class="panel" data-testid="dry-run">
      <p>
        A collection now would remove {freed.tags} tag{freed.tags === 1 ? '' : 's'}, {freed.manifests}{' '}
        manifests and {freed.blobs} blobs, freeing {bytes(freed.bytes)}. Nothing was changed.
      </p>
      {retired.length > 0 && (
        <div class="scroll">
          <table>
            <Head columns={['Policy', 'Repository', 'Tag', 'Digest']} />
            <tbody>
              {retired.map((r) => (
                <tr>
                  <td>{r.policy}</td>
                  <td>{r.repository}</td>
                  <td>{r.tag}</td>
                  <td class="mono">{r.digest}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export async function dryRunAction(ui: Ui): Promise<PageResult> {
  const report = await ui.api.json<GcReportJson>('POST', apiPath(['gc'], { dry_run: 'true' }));
  return retentionPage(ui, report);
}
