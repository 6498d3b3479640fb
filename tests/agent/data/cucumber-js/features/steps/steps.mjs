import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { After, Before, Given, Then, When } from '@cucumber/cucumber';

Given('an empty basket', function () { this.items = 0; });
Given('a discount {string}', function (code) { this.discount = code; });
When('I add {int} {string}', function (n, item) { this.items += n; });
When('I add these:', function (table) {
  for (const row of table.hashes()) this.items += Number(row.n);
});
Then('the basket holds {int} items', function (n) { assert.strictEqual(this.items, n); });
Then('the total is:', function (text) { assert.strictEqual(text.trim(), '1.00'); });
When('I wait for the feature', function () { return 'pending'; });
When('I am ambiguous', function () {});
When(/^I am ambig/, function () {});
Given('a step that fails the first time', function () {
  const marker = path.join(process.env.FIXTURE_STATE_DIR || os.tmpdir(), 'cucumber-flaky');
  if (!fs.existsSync(marker)) {
    fs.writeFileSync(marker, '');
    throw new Error('fails the first time');
  }
});
Given('un panier vide', function () { this.items = 0; });
When("j'ajoute {int} poires", function (n) { this.items += n; });
Then('le panier contient {int} articles', function (n) { assert.strictEqual(this.items, n); });

Before({ tags: '@before-fails' }, function () { throw new Error('Before hook broke'); });
After({ tags: '@after-fails' }, function () { throw new Error('After hook broke'); });
Before({ tags: '@skip-me' }, function () { return 'skipped'; });
// Runs (and passes) after a skipped scenario too: cucumber-js still counts the scenario skipped.
After({ tags: '@cleanup' }, function () { this.items = undefined; });
