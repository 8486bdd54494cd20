#!/usr/bin/env bash
# Quick start on a fresh machine: installs the pinned pnpm and every dependency, then runs the whole
# stack with the demonstration workload (`pnpm start --demo`). Needs Node 20+, PostgreSQL and Redis
# (DATABASE_URL / REDIS_URL, defaulting to the local servers; with Docker: docker compose up -d postgres redis).
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  npm install -g "pnpm@${PNPM_VERSION}"
fi
pnpm install --frozen-lockfile
exec pnpm start --demo
