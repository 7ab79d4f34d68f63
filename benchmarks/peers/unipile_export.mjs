// The export job written with unipile-node-sdk (the peer SDK bench_peers.py times).
//
// Walks every message with the SDK's own list call and cursor
// (client.messaging.getAllMessages({ limit, cursor })) and writes each one as
// JSON.stringify(message) + "\n" to OUT through a buffered write stream, honouring
// back-pressure. No fsync, no checkpoint: the job a Node developer would write.
//
//   node unipile_export.mjs --base-url http://127.0.0.1:PORT/api/v1 --api-key KEY \
//        --out FILE [--limit 250]
//
// URL: the SDK takes a DSN ("https://host:port"), splits it at "://" and builds
// PROTOCOL://DOMAIN/api/v1/messages itself, so a base URL ending in /api/v1 has that
// tail cut off here (anything before it stays: DOMAIN may carry a path prefix).
// Prints the number of messages written on stdout; exits 1 with the reason on an error.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { UnipileClient } from 'unipile-node-sdk';

const { values } = parseArgs({
  options: {
    'base-url': { type: 'string' },
    'api-key': { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string', default: '250' },
  },
});

function dsn(baseUrl) {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/api/v1')) {
    throw new Error(
      `unipile-node-sdk always requests <DSN>/api/v1/...; ${baseUrl} does not end in /api/v1`,
    );
  }
  return `${url.protocol}//${url.host}${path.slice(0, -'/api/v1'.length)}`;
}

async function main() {
  if (!values['base-url'] || !values['api-key'] || !values.out) {
    throw new Error('usage: unipile_export.mjs --base-url URL --api-key KEY --out FILE');
  }
  const client = new UnipileClient(dsn(values['base-url']), values['api-key']);
  const limit = Number(values.limit);
  const out = createWriteStream(values.out);
  let count = 0;
  let cursor;
  do {
    const page = await client.messaging.getAllMessages({ limit, cursor });
    let room = true;
    for (const message of page.items) {
      room = out.write(JSON.stringify(message) + '\n');
    }
    count += page.items.length;
    if (!room) await once(out, 'drain');
    cursor = page.cursor;
  } while (cursor);
  out.end();
  await once(out, 'finish');
  process.stdout.write(`${count}\n`);
}

main().catch((error) => {
  process.stderr.write(`unipile_export: ${error?.stack ?? error}\n`);
  if (error?.body !== undefined) process.stderr.write(`body: ${JSON.stringify(error.body)}\n`);
  process.exit(1);
});
