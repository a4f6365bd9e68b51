#!/usr/bin/env node
// A script author's first @grpc/grpc-js client of agenttowerd, with DEFAULT
// settings: the .proto files loaded at run time, insecure credentials on
// `unix://<socket>`, no channel options (grpc-js picks its own :authority).
//
//     node client.js <socket> <session>
//
// Creates a layout, polls it ready, watches for its creation event and
// provokes a not-found error. The last line printed is a JSON summary for
// tests/interop.rs.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.resolve(__dirname, '../../../proto');
const TIMEOUT_MS = 10_000;
const DEADLINE_MS = 30_000;

const definition = protoLoader.loadSync(path.join(PROTO, 'agenttower/v1/managed_sessions.proto'), {
  includeDirs: [PROTO],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).agenttower.v1;

// A unary call as a promise of { response, headers }.
function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    let headers = {};
    const call = client[method](request, { deadline: Date.now() + TIMEOUT_MS }, (err, response) =>
      err ? reject(err) : resolve({ response, headers }),
    );
    call.on('metadata', (metadata) => (headers = metadata.getMap()));
  });
}

async function waitReady(client, layoutId) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const { response } = await unary(client, 'GetLayout', { layout_id: layoutId });
    if (response.layout.state !== 'LAYOUT_STATE_CREATING' || Date.now() > deadline) return response.layout;
    await new Promise((r) => setTimeout(r, 50)); // poll interval, not a wait for readiness
  }
}

// Replays the event log from the start until this session's creation event.
function createdEvent(client, session) {
  return new Promise((resolve, reject) => {
    let found = null;
    const call = client.WatchEvents({ after_sequence: 0 }, { deadline: Date.now() + DEADLINE_MS });
    call.on('data', (item) => {
      const e = item.event;
      if (
        !found &&
        item.item === 'event' &&
        e.event_type === 'EVENT_TYPE_MANAGED_LAYOUT_CREATED' &&
        e.payload === 'managed_layout_created' &&
        e.managed_layout_created.tmux_session_name === session
      ) {
        found = e;
        call.cancel();
      }
    });
    call.on('error', (err) => (found && err.code === grpc.status.CANCELLED ? resolve(found) : reject(err)));
    call.on('end', () => (found ? resolve(found) : reject(new Error('the watch ended without the event'))));
  });
}

async function notFound(client) {
  try {
    await unary(client, 'GetLayout', { layout_id: '00000000-0000-4000-8000-000000000000' });
  } catch (err) {
    const details = err.metadata.get('grpc-status-details-bin');
    return { code: grpc.status[err.code], details_bytes: details.length ? details[0].length : 0 };
  }
  throw new Error('GetLayout of an unknown id succeeded');
}

async function main() {
  const [socket, session] = process.argv.slice(2);
  const client = new v1.ManagedSessionsService(`unix://${socket}`, grpc.credentials.createInsecure());
  const request = { container_id: 'local', template_name: '1m+2s', tmux_session_name: session };
  const { response: created, headers } = await unary(client, 'CreateLayout', request);
  const ready = await waitReady(client, created.layout.layout_id);
  const event = await createdEvent(client, session);
  const summary = {
    grpc_js_version: require('@grpc/grpc-js/package.json').version,
    headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('agenttower-'))),
    layout_id: created.layout.layout_id,
    created_state: created.layout.state,
    created_panes: created.layout.panes.length,
    state: ready.state,
    ready_pane_count: ready.ready_pane_count,
    panes: ready.panes.length,
    event: { sequence: event.sequence, layout_id: event.layout_id, template_name: event.managed_layout_created.template_name },
    error: await notFound(client),
  };
  client.close();
  console.log(JSON.stringify(summary));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
