// Process entry, one process: config -> database -> keys -> app -> listen (src/serve.ts).
// Several processes on one machine: src/cluster.ts.
import { loadConfig } from './config.js';
import { createStdoutLogger } from './logger.js';
import { serve } from './serve.js';

const config = loadConfig();
await serve(config, createStdoutLogger(config));
