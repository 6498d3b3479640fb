import { expect, test } from '@playwright/test';

test.describe.serial('serial', () => {
  test('first', async () => {});
  test('second fails', async () => {
    expect(1).toBe(0);
  });
  test('third', async () => {});
});

test.describe.parallel('parallel', () => {
  test('a > b', async () => {});
  test('alpha only @alpha-only', async () => {});
  test('request fixture', async ({ request }) => {
    expect(typeof request.get).toBe('function');
  });
});
