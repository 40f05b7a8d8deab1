#!/usr/bin/env bash
# Lints (and with --fix, formats) src/, scripts/, test/ and web/app with the rules in
# tools/eslint/config.js. The linter has its own node_modules in tools/eslint (typescript-eslint
# needs the TypeScript 6 compiler API; the project builds with TypeScript 7), installed here from
# its lockfile on first use. Extra arguments go to eslint: `npm run lint -- --fix`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x tools/eslint/node_modules/.bin/eslint ]]; then
  echo "lint: installing the linter into tools/eslint/node_modules" >&2
  npm ci --prefix tools/eslint --silent --no-audit --no-fund >&2
fi
exec node tools/eslint/node_modules/eslint/bin/eslint.js --max-warnings 0 "$@" \
  eslint.config.js src scripts test web/app
