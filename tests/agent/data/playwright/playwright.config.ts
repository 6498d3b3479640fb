import { defineConfig } from '@playwright/test';

// 'alpha' runs every test and retries failures once; 'beta' runs the tests under api/ again.
export default defineConfig({
  testDir: './tests',
  testMatch: '**/*.pw.ts',
  timeout: 5000,
  projects: [
    { name: 'alpha', retries: 1 },
    { name: 'beta', testDir: './tests/api', grepInvert: /@alpha-only/ },
  ],
});
