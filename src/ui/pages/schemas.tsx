// The registered metadata schemas, each with its JSON Schema.
import { apiPath } from '../api-client.js';
import type { PageResult, Ui } from '../routes.js';

export async function schemasPage(ui: Ui): Promise<PageResult> {
  const { schemas } = await ui.api.get<{ schemas: { variant: string; sha256: string }[] }>(
    apiPath(['schemas'], { limit: 200 }),
  );
  const bodies = await Promise.all(
    schemas.map((s) => ui.api.get<unknown>(apiPath(['schemas', s.variant])).catch(() => undefined)),
  );
  return {
    title: 'Schemas',
    section: '/ui/schemas',
    body: (
      <>
        <h1>Metadata schemas</h1>
        <p class="muted">
          A package's typed metadata is validated against the schema it names when it is published.
        </p>
        {schemas.length === 0 && <p class="muted">No schemas registered.</p>}
        {schemas.map((s, i) => (
          <section class="panel" id={`schema-${s.variant}`}>
            <h2>{s.variant}</h2>
            <p class="muted mono">{s.sha256}</p>
            <details>
              <summary>JSON Schema</summary>
              <pre>{JSON.stringify(bodies[i], null, 2)}</pre>
            </details>
          </section>
        ))}
      </>
    ),
  };
}
