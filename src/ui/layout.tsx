// The frame of every page: a skip link, the navigation (the current page marked for screen readers),
// who is logged in, and the main region. One stylesheet and one deferred script, both cached for good.
import type { Child } from 'hono/jsx';
import { assetUrl } from './assets.js';

export interface PageUser {
  /** Shown in the header; undefined when authentication is off. */
  name?: string;
  /** Logged in (a logout button), as opposed to anonymous. */
  loggedIn: boolean;
  /** Authentication is on: an anonymous visitor gets a "Log in" link. */
  canLogin: boolean;
  csrf: string;
}

const NAV: [href: string, label: string][] = [
  ['/ui/repositories', 'Repositories'],
  ['/ui/events', 'Events'],
  ['/ui/schemas', 'Schemas'],
  ['/ui/releases', 'Releases'],
  ['/ui/retention', 'Retention'],
  ['/ui/gc', 'Garbage collection'],
];

export function Layout(props: { title: string; section: string; user: PageUser; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${props.title} · artifact-store`}</title>
        <link rel="icon" type="image/svg+xml" href={assetUrl('icon')} />
        <link rel="stylesheet" href={assetUrl('css')} />
        <script src={assetUrl('js')} defer />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <div class="bar">
            <a class="brand" href="/ui/">
              artifact-store
            </a>
            <nav aria-label="Main">
              <ul>
                {NAV.map(([href, label]) => (
                  <li>
                    <a href={href} aria-current={props.section === href ? 'page' : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div class="who">
              {props.user.name !== undefined && <span>{props.user.name}</span>}
              {props.user.loggedIn ? (
                <form method="post" action="/ui/logout" class="inline">
                  <input type="hidden" name="_csrf" value={props.user.csrf} />
                  <button type="submit">Log out</button>
                </form>
              ) : (
                props.user.canLogin && <a href="/ui/login">Log in</a>
              )}
            </div>
          </div>
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A form that changes state: POST with the session's CSRF token. */
export function ActionForm(props: { action: string; csrf: string; children: Child; label?: string }) {
  return (
    <form method="post" action={props.action} class="inline" aria-label={props.label}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
    </form>
  );
}

export function CopyLine(props: { id: string; text: string; label: string }) {
  return (
    <div class="cmd">
      <code id={props.id} title={props.label}>
        {props.text}
      </code>
      <button type="button" data-copy={props.id} aria-label={`Copy: ${props.label}`}>
        Copy
      </button>
    </div>
  );
}

export function Notice(props: { kind?: 'ok' | 'bad'; children: Child }) {
  return (
    <div
      class={props.kind ? `notice ${props.kind}` : 'notice'}
      role={props.kind === 'bad' ? 'alert' : 'status'}
    >
      {props.children}
    </div>
  );
}

/** A table's header row: each column a label, or [label, 'num'] for a right-aligned number. */
export function Head(props: { columns: (string | [string, 'num'])[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((column) =>
          typeof column === 'string' ? (
            <th scope="col">{column}</th>
          ) : (
            <th scope="col" class="num">
              {column[0]}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}
