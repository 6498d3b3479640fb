import { expect, test } from '@playwright/test';

test.describe('catalog', () => {
  for (const item of ['apple', 'pear', 'plum']) {
    test(`lists ${item}`, async () => {
      expect(['apple', 'pear', 'plum']).toContain(item);
    });
  }
});
