// Generates src/schema.d.ts from the OpenAPI document the server serves (`jlpm gen:api`).
//
// 1. scripts/write_openapi_json.py loads the document through agnes_server.openapi (placeholders
//    such as $ORDER_ITEM filled in as at runtime) and writes it as JSON to a temporary file;
// 2. openapi-typescript turns that JSON into TypeScript types.
//
// Usage: node scripts/gen-api.js [--out FILE]   (default: src/schema.d.ts)
// The Python used is $PYTHON, else the repository's .venv, else python3.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');

function pickPython() {
  if (process.env.PYTHON) {
    return process.env.PYTHON;
  }
  const venv = path.join(root, '..', process.env.AGNES_VENV || '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`gen:api: could not run ${cmd}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`gen:api: ${cmd} ${args.join(' ')} exited with ${result.status}`);
    process.exit(result.status || 1);
  }
}

const argv = process.argv.slice(2);
const outIndex = argv.indexOf('--out');
const out = path.resolve(
  outIndex >= 0 ? argv[outIndex + 1] : path.join(root, 'src', 'schema.d.ts')
);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agnes-openapi-'));
try {
  const json = path.join(tmp, 'openapi.json');
  run(pickPython(), [path.join(__dirname, 'write_openapi_json.py'), json]);
  const cli = path.join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
  if (!fs.existsSync(cli)) {
    console.error(
      'gen:api: openapi-typescript is not installed: run `jlpm install` in labextension/'
    );
    process.exit(1);
  }
  // --empty-objects-unknown: `{type: object}` with no properties (error details, recipe params)
  // is `Record<string, unknown>`, not `Record<string, never>`.
  run(process.execPath, [cli, json, '--output', out, '--empty-objects-unknown', '--silent']);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
