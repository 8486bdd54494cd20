// The process entry of the client CLI (`pnpm fl …`, the `fairlabel` bin): wires main() to the terminal.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + '\n'),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
  env: process.env,
  stdout: process.stdout,
});
