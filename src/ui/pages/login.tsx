// The login form: a user of the htpasswd file, or an API token as the password (as `docker login`).
import type { AuthGate } from '../../http/auth-gate.js';
import { Notice } from '../layout.js';
import type { PageResult, Ui } from '../routes.js';

export async function loginPage(
  ui: Ui,
  gate: AuthGate | undefined,
  error?: string,
  status = 401,
): Promise<PageResult> {
  if (!gate) {
    return {
      title: 'Log in',
      section: '',
      body: <Notice>Authentication is off on this registry: every page is open without logging in.</Notice>,
    };
  }
  const next = ui.c.req.query('next') ?? '';
  return {
    title: 'Log in',
    section: '',
    status: error ? status : 200,
    body: (
      <>
        <h1>Log in</h1>
        {error && <Notice kind="bad">{error}</Notice>}
        <form method="post" action="/ui/login" class="panel login">
          <input type="hidden" name="_csrf" value={ui.user.csrf} />
          <input type="hidden" name="next" value={next} />
          <label>
            User name
            <input name="username" autocomplete="username" required autofocus />
          </label>
          <label>
            Password or API token
            <input name="password" type="password" autocomplete="current-password" required />
          </label>
          <button class="primary" type="submit">
            Log in
          </button>
        </form>
      </>
    ),
  };
}
