import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';

// One test per Drover worker. Each holds on until the other worker's test is running too, so
// both web servers are up at the same time (FIXTURE_STATE_DIR is shared by the workers).
for (const shard of ['0', '1']) {
  test(`worker ${shard} is served on its own port`, async ({ request }) => {
    const port = process.env.PORT || '3000';
    const ask = async () => (await request.get(`http://127.0.0.1:${port}/`)).json();
    expect(await ask()).toEqual({ port: Number(port), shard });
    const state = process.env.FIXTURE_STATE_DIR;
    if (!state) return;
    fs.writeFileSync(path.join(state, `serving-${shard}`), `${port} ${process.env.DROVER_PORT}`);
    const other = path.join(state, `serving-${shard === '0' ? '1' : '0'}`);
    await expect.poll(() => fs.existsSync(other), { timeout: 30000 }).toBe(true);
    expect(await ask()).toEqual({ port: Number(port), shard }); // still ours, still serving
  });
}
