import { expect, test } from '@playwright/test';

test('the total adds up', async () => {
  expect(7.5 + 5).toBe(12.5);
});

test('the discount is applied', async ({ page }) => {
  // Fails on purpose, with a page open: the report keeps its screenshot and trace.
  await page.setContent('<h1>Basket</h1><p id="total">10.00</p>');
  await expect(page.locator('#total')).toHaveText('9.00', { timeout: 500 });
});
