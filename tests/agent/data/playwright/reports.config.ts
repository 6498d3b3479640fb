import { defineConfig } from '@playwright/test';

// The reports tests' project: several files, one test per file that fails on purpose with a
// page open, so Playwright keeps its screenshot and trace. The browser is the machine's own
// Chromium (CHROMIUM_PATH, default Debian's /usr/bin/chromium): nothing is downloaded.
export default defineConfig({
  testDir: './reports',
  testMatch: '**/*.pw.ts',
  timeout: 20000,
  use: {
    launchOptions: { executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium' },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});
