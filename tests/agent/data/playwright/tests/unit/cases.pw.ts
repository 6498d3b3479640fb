import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect, test } from '../fixtures';

test('fixture value', async ({ answer }) => {
  expect(answer).toBe(42);
});

test('tagged @smoke in its title, and by option', { tag: ['@fast'], annotation: { type: 'issue', description: 'X-1' } }, async () => {
  expect(true).toBeTruthy();
});

test.describe('outer', () => {
  test.describe('inner @nested', () => {
    test('deep', async () => {
      expect(2).toBe(2);
    });
    test.skip('skipped deep', async () => {});
  });
  for (const n of [1, 2, 3]) {
    test(`loop ${n}`, async () => {
      expect(n).toBeLessThan(3);
    });
  }
});

test.fixme('fixme', async () => {});

test('expected failure', async () => {
  test.fail();
  expect(1).toBe(2);
});

test('expected failure that passes', async () => {
  test.fail();
});

test('skipped in beta', async ({}, testInfo) => {
  test.skip(testInfo.project.name === 'beta', 'not on beta');
});

test('passes on retry', async ({}, testInfo) => {
  const dir = process.env.FIXTURE_STATE_DIR || os.tmpdir();
  const marker = path.join(dir, `playwright-flaky-${testInfo.project.name}`);
  if (!fs.existsSync(marker)) {
    fs.writeFileSync(marker, '');
    throw new Error('fails the first time');
  }
});

test('times out', async () => {
  test.setTimeout(200);
  await new Promise((resolve) => setTimeout(resolve, 1000));
});
