import { test as base, expect } from '@playwright/test';

export const test = base.extend<{ answer: number }>({
  answer: async ({}, use) => {
    await use(42);
  },
});
export { expect };
