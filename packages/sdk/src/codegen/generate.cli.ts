// `pnpm sdk:generate`: rewrite packages/sdk/openapi.json and src/generated/openapi.ts from the routes.
// `pnpm sdk:check`: change nothing, exit 1 and say what differs (and the command above) when they are stale.
import { differences, fixCommand, generate, outOfStepMessage, writeGenerated } from './codegen.js';

const check = process.argv.includes('--check');
const current = await generate();
const diffs = await differences(current);
if (check) {
  if (diffs.length) {
    console.error(outOfStepMessage(diffs));
    process.exit(1);
  }
  console.log('sdk: openapi.json and the generated types match the routes');
} else {
  await writeGenerated(current);
  console.log(diffs.length ? `sdk: regenerated\n${diffs.join('\n')}` : `sdk: already up to date (${fixCommand} changed nothing)`);
}
