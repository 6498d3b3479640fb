// Render a cucumber messages stream (NDJSON) as cucumber's HTML report, with the project's own
// @cucumber/html-formatter (the one @cucumber/cucumber depends on), resolved from the project.
//
//   node cucumber_html.mjs PROJECT_DIR MESSAGES.ndjson OUT.html
import { createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';

const [project, messages, output] = process.argv.slice(2);
if (!project || !messages || !output) {
  console.error('usage: node cucumber_html.mjs PROJECT_DIR MESSAGES.ndjson OUT.html');
  process.exit(2);
}
const require = createRequire(join(resolve(project), 'package.json'));
let formatter;
try {
  formatter = require('@cucumber/html-formatter');
} catch (error) {
  console.error(`@cucumber/html-formatter is not installed in ${project}: ${error.message}`);
  process.exit(3);
}
const Stream = formatter.CucumberHtmlStream || formatter.default;
const html = new Stream();
const out = createWriteStream(output);
html.pipe(out);
const lines = createInterface({ input: createReadStream(messages), crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  if (!html.write(JSON.parse(line))) {
    await new Promise((done) => html.once('drain', done));
  }
}
html.end();
await finished(out);
