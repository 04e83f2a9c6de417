// Layering rules for src/ (npm run lint). Shared infrastructure sits below the features and
// never imports one; no two folders import each other, directly or through others.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders must not import each other in a loop: a reader should be able to read them bottom-up.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'infrastructure-below-features',
      comment:
        'Shared infrastructure (db, keys, audit, http, pages, metrics, util, mail, config, logger) never imports a feature folder.',
      severity: 'error',
      from: { path: '^src/(db|keys|audit|http|pages|metrics|util|mail)/|^src/(config|logger)\\.ts$' },
      to: { path: '^src/(accounts|clients|oidc|sign-in|device|cli|webhooks|backchannel-logout|password-reset|email-verification|sign-up|account)/' },
    },
    {
      name: 'pages-are-a-leaf',
      comment: 'Page rendering is used by everything that answers a browser, so it imports nothing of ours but config.',
      severity: 'error',
      from: { path: '^src/pages/' },
      to: { path: '^src/', pathNot: '^src/pages/|^src/config\\.ts$' },
    },
    {
      name: 'provider-internals-in-one-place',
      comment:
        "Only src/oidc/provider-internals.ts may reach into oidc-provider's own files (oidc-provider/lib/...); its test pins what it relies on.",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/oidc/provider-internals\\.ts$' },
      to: { path: 'node_modules/oidc-provider/lib/', pathNot: 'node_modules/oidc-provider/lib/index\\.js$' },
    },
    {
      name: 'generated-client-only-through-db',
      comment: 'The generated Prisma clients are an implementation detail of src/db.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/db/' },
      to: { path: '^src/db/generated/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/db/generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
