#!/usr/bin/env node
// Process entry of the admin CLI (`npm run admin -- ...`, or the `gatehouse` bin once built).
import { text } from 'node:stream/consumers';
import password from '@inquirer/password';
import { runCli } from './program.js';

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (chunk) => process.stdout.write(chunk),
  stderr: (chunk) => process.stderr.write(chunk),
  readStdin: () => text(process.stdin),
  promptHidden: process.stdin.isTTY ? (message) => password({ message, mask: false }) : null,
});
// Let stdout drain before leaving (a pipe may be slow), rather than process.exit() cutting it off.
process.exitCode = exitCode;
