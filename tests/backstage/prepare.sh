#!/usr/bin/env bash
# Fetches what the Backstage migration test runs, once, into $1:
# knex and pg from the npm registry, and the published plugin packages
# whose migrations/ directories Backstage itself runs. Versions are pinned.
set -euo pipefail
dest=$1
[[ -f $dest/.ready ]] && exit 0
command -v npm >/dev/null || { echo "npm is required (Node.js 18+)" >&2; exit 1; }
rm -rf "$dest" && mkdir -p "$dest"
cd "$dest"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error knex@3.3.0 pg@8.23.1 >/dev/null
for p in @backstage/plugin-catalog-backend@4.0.5 \
         @backstage/plugin-scaffolder-backend@4.3.0 \
         @backstage/plugin-auth-backend@0.31.0; do
    tgz=$(npm pack --silent "$p")
    name=${p#@backstage/plugin-}
    name=${name%%-backend@*}
    mkdir -p "plugins/$name"
    tar -xzf "$tgz" -C "plugins/$name" package/migrations
    rm -f "$tgz"
done
touch .ready
