import { defineConfig } from '@playwright/test';

// A project whose tests need its web server, started by Playwright on the port the environment
// names (PORT, as such configs commonly read it): every Drover worker gets its own.
const port = Number(process.env.PORT || 3000);

export default defineConfig({
  testDir: './webserver',
  testMatch: '**/*.pw.ts',
  timeout: 60000,
  webServer: {
    command: 'node webserver/server.mjs',
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 30000,
  },
});
