#!/usr/bin/env node
// The `provisio` command: the compiled CLI (`npm run build` makes apps/cli/dist).
require('../dist/main.js').main(process.argv).then((code) => process.exit(code));
