import { test } from '@playwright/test';

// Outside testDir: not part of the suite.
test('never listed', async () => {});
