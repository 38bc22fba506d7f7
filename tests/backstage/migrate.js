// Runs Backstage plugins' own knex migrations the way Backstage does with
// pluginDivisionMode: schema: one schema per plugin (named by the plugin
// id), created if missing, and a knex connection whose searchPath is that
// schema. Then latest() again (a no-op) and rollback of everything.
//
//   node migrate.js <connection-string> <plugin-id>=<migrations-dir> ...
//
// Prints one JSON line per step; exits non-zero on the first failure.
'use strict';

const knexFactory = require('knex');

async function run(connection, pluginId, directory) {
  const admin = knexFactory({ client: 'pg', connection });
  try {
    await admin.raw('CREATE SCHEMA IF NOT EXISTS ??', [pluginId]);
  } finally {
    await admin.destroy();
  }
  const knex = knexFactory({
    client: 'pg',
    connection,
    searchPath: [pluginId],
    pool: { min: 0, max: 2 },
  });
  try {
    const config = { directory, loadExtensions: ['.js'] };
    const [batch, applied] = await knex.migrate.latest(config);
    console.log(JSON.stringify({ plugin: pluginId, step: 'latest', batch, applied: applied.length }));
    const [, again] = await knex.migrate.latest(config);
    console.log(JSON.stringify({ plugin: pluginId, step: 'latest-again', applied: again.length }));
    if (again.length !== 0) throw new Error(`second latest() applied ${again.length}`);
    const [, rolled] = await knex.migrate.rollback(config, true);
    console.log(JSON.stringify({ plugin: pluginId, step: 'rollback-all', rolled: rolled.length }));
    if (rolled.length !== applied.length) {
      throw new Error(`rolled back ${rolled.length} of ${applied.length}`);
    }
  } finally {
    await knex.destroy();
  }
}

(async () => {
  const [connection, ...plugins] = process.argv.slice(2);
  for (const p of plugins) {
    const eq = p.indexOf('=');
    await run(connection, p.slice(0, eq), p.slice(eq + 1));
  }
})().catch(e => {
  console.error(`FAILED: ${e.message}`);
  process.exit(1);
});
