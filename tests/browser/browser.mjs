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
