// Debian's chromium (installed by tests/install-tools), driven by playwright-core: never a browser playwright downloads.
import { chromium } from 'playwright-core';

export const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Without the networking switches Chromium keeps calling Google's hosts (updates, sync, field trials) on its own.
export const launch = () => chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

// A context in which any request for a host other than 127.0.0.1, from any frame or worker, is recorded in `elsewhere`
// and never sent. `onRequest` sees every request before that.
export async function localOnlyContext(browser, onRequest = () => {}) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const elsewhere = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    onRequest(route.request(), url);
    if (url.hostname === '127.0.0.1')
      return route.continue();
    elsewhere.push(url.href);
    return route.abort('blockedbyclient');
  });
  context.on('websocket', (socket) => elsewhere.push(socket.url()));
  return { context, elsewhere };
}

// The page's console errors and uncaught exceptions, as they come.
export function pageErrors(page) {
  const errors = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(`console: ${message.text()}`));
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}
