import { createServer, type Server, type Socket } from 'node:net';
import { Binary, type Document, deserialize, Long, serialize } from 'bson';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';

/**
 * A MongoDB server double that speaks the real wire protocol (OP_QUERY handshake, OP_MSG
 * commands) on 127.0.0.1, so the official driver connects to it exactly as to a `mongod`. It
 * answers `aggregate`, `find` and `getMore` by evaluating the received pipeline or filter with the
 * embedded (mingo) store over in-memory collections, and records every command it receives: the
 * bytes that left the application, which is where "no operator from user input reaches the
 * database" is checked.
 *
 * It is not MongoDB: no indexes, no writes, no SCRAM (PLAIN auth only, enough to put a password in
 * the URI), one namespace for every database, no collations (a query naming any collation other
 * than `{ locale: 'simple' }` fails, as the embedded store compares strings only that way). Never
 * use it to test query semantics.
 */

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const HEADER_BYTES = 16;
const MORE_TO_COME = 1 << 1;
const CHECKSUM_PRESENT = 1;
/** MongoDB 7.0; the driver needs at least 9 (4.2). */
const MAX_WIRE_VERSION = 21;

/** A command as the double received it. */
export interface ReceivedCommand {
  readonly db: string;
  /** The command name: the first key of the command document (`aggregate`, `find`, `hello`, …). */
  readonly name: string;
  readonly command: Document;
}

export interface MongoWireDoubleOptions {
  /** The collections to serve; the double takes ownership of the arrays. */
  readonly collections: Readonly<Record<string, Document[]>>;
  /** Listen on this port (default: a free one). */
  readonly port?: number;
  /** Require PLAIN authentication with these credentials. */
  readonly credentials?: { readonly username: string; readonly password: string };
}

export interface MongoWireDouble {
  readonly port: number;
  /** Every command received so far, oldest first (handshakes and pings included). */
  readonly received: readonly ReceivedCommand[];
  /** The `aggregate` and `find` commands received so far: what the application asked the database. */
  queries(): ReceivedCommand[];
  /** A connection string for this double (with the credentials when it requires them). */
  uri(database?: string): string;
  /** Stops listening and severs every connection, as a crashed or unreachable server would. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Same as `down()`; safe to call twice. */
  close(): Promise<void>;
}

interface OpenCursor {
  readonly ns: string;
  readonly remaining: Document[];
}

const QUERY_COMMANDS = new Set(['aggregate', 'find']);

function commandName(command: Document): string {
  return Object.keys(command)[0] ?? '';
}

function readCString(buffer: Buffer, offset: number): { value: string; next: number } {
  const end = buffer.indexOf(0, offset);
  return { value: buffer.toString('utf8', offset, end), next: end + 1 };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  bytes.writeInt32LE(length, 0);
  bytes.writeInt32LE(requestId, 4);
  bytes.writeInt32LE(responseTo, 8);
  bytes.writeInt32LE(opCode, 12);
  return bytes;
}

function opReply(requestId: number, responseTo: number, document: Document): Buffer {
  const body = Buffer.from(serialize(document));
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(0, 0); // responseFlags
  fields.writeBigInt64LE(0n, 4); // cursorID
  fields.writeInt32LE(0, 12); // startingFrom
  fields.writeInt32LE(1, 16); // numberReturned
  const length = HEADER_BYTES + fields.length + body.length;
  return Buffer.concat([header(length, requestId, responseTo, OP_REPLY), fields, body]);
}

function opMsg(requestId: number, responseTo: number, document: Document): Buffer {
  const body = Buffer.from(serialize(document));
  const flags = Buffer.alloc(5); // flagBits 0, section kind 0
  const length = HEADER_BYTES + flags.length + body.length;
  return Buffer.concat([header(length, requestId, responseTo, OP_MSG), flags, body]);
}

/** The body of an OP_MSG: the kind-0 document with kind-1 document sequences folded in. */
function parseOpMsg(message: Buffer): { flags: number; command: Document } {
  const flags = message.readUInt32LE(HEADER_BYTES);
  const end = message.length - (flags & CHECKSUM_PRESENT ? 4 : 0);
  let offset = HEADER_BYTES + 4;
  let command: Document = {};
  const sequences: Record<string, Document[]> = {};
  while (offset < end) {
    const kind = message.readUInt8(offset);
    offset += 1;
    const size = message.readInt32LE(offset);
    if (kind === 0) {
      command = deserialize(message.subarray(offset, offset + size));
    } else {
      const { value: identifier, next } = readCString(message, offset + 4);
      const documents: Document[] = [];
      for (let at = next; at < offset + size; ) {
        const docSize = message.readInt32LE(at);
        documents.push(deserialize(message.subarray(at, at + docSize)));
        at += docSize;
      }
      sequences[identifier] = documents;
    }
    offset += size;
  }
  return { flags, command: { ...command, ...sequences } };
}

/** Starts the double on 127.0.0.1. Always `close()` it (it also severs open driver connections). */
export async function startMongoWireDouble(options: MongoWireDoubleOptions): Promise<MongoWireDouble> {
  const store = new EmbeddedDocumentStore({ collections: options.collections });
  const received: ReceivedCommand[] = [];
  const cursors = new Map<bigint, OpenCursor>();
  const sockets = new Set<Socket>();
  let nextCursorId = 1n;
  let nextRequestId = 1;
  let connectionId = 0;

  const handshake = (): Document => ({
    ismaster: true,
    isWritablePrimary: true,
    helloOk: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ++connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  });

  const batchOf = (ns: string, documents: Document[], batchSize: number, first: boolean): Document => {
    const size = batchSize > 0 ? batchSize : 101;
    const batch = documents.slice(0, size);
    const rest = documents.slice(size);
    let id = 0n;
    if (rest.length > 0) {
      id = nextCursorId++;
      cursors.set(id, { ns, remaining: rest });
    }
    return {
      cursor: { [first ? 'firstBatch' : 'nextBatch']: batch, id: Long.fromBigInt(id), ns },
      ok: 1,
    };
  };

  const collect = async (iterable: AsyncIterable<Document>): Promise<Document[]> => {
    const documents: Document[] = [];
    for await (const document of iterable) documents.push(document);
    return documents;
  };

  async function execute(db: string, command: Document): Promise<Document> {
    const name = commandName(command);
    received.push({ db, name, command });
    if (
      QUERY_COMMANDS.has(name) &&
      command.collation !== undefined &&
      command.collation?.locale !== 'simple'
    ) {
      return {
        ok: 0,
        code: 2,
        codeName: 'BadValue',
        errmsg: 'the wire double serves the simple collation only',
      };
    }
    switch (name) {
      case 'ismaster':
      case 'isMaster':
      case 'hello':
        return handshake();
      case 'saslStart': {
        const expected = options.credentials;
        const payload = command.payload instanceof Binary ? Buffer.from(command.payload.buffer) : undefined;
        const ok =
          expected !== undefined &&
          command.mechanism === 'PLAIN' &&
          payload?.toString('utf8') === `\0${expected.username}\0${expected.password}`;
        return ok
          ? { conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)), ok: 1 }
          : { ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' };
      }
      case 'aggregate': {
        const ns = `${db}.${String(command.aggregate)}`;
        const documents = await collect(store.aggregate(String(command.aggregate), command.pipeline ?? []));
        return batchOf(ns, documents, Number(command.cursor?.batchSize ?? 101), true);
      }
      case 'find': {
        const ns = `${db}.${String(command.find)}`;
        const documents = await collect(
          store.find(String(command.find), command.filter ?? {}, {
            ...(command.sort ? { sort: command.sort } : {}),
            ...(command.projection ? { projection: command.projection } : {}),
          }),
        );
        return batchOf(ns, documents, Number(command.batchSize ?? 101), true);
      }
      case 'getMore': {
        const id = BigInt(String(command.getMore));
        const cursor = cursors.get(id);
        if (!cursor) return { ok: 0, code: 43, codeName: 'CursorNotFound', errmsg: 'cursor not found' };
        cursors.delete(id);
        return batchOf(cursor.ns, cursor.remaining, Number(command.batchSize ?? 0), false);
      }
      case 'killCursors':
        for (const id of command.cursors ?? []) cursors.delete(BigInt(String(id)));
        return { cursorsKilled: command.cursors ?? [], ok: 1 };
      case 'ping':
      case 'endSessions':
        return { ok: 1 };
      default:
        return { ok: 0, code: 59, codeName: 'CommandNotFound', errmsg: `no such command: '${name}'` };
    }
  }

  async function answer(message: Buffer): Promise<Buffer | undefined> {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    if (opCode === OP_QUERY) {
      const { value: namespace, next } = readCString(message, HEADER_BYTES + 4);
      const at = next + 8; // numberToSkip, numberToReturn
      const command = deserialize(message.subarray(at, at + message.readInt32LE(at)));
      const db = namespace.slice(0, namespace.indexOf('.'));
      return opReply(nextRequestId++, requestId, await execute(db, command));
    }
    if (opCode === OP_MSG) {
      const { flags, command } = parseOpMsg(message);
      const reply = await execute(String(command.$db ?? 'admin'), command);
      return flags & MORE_TO_COME ? undefined : opMsg(nextRequestId++, requestId, reply);
    }
    throw new Error(`unsupported opCode ${opCode}`);
  }

  function serve(socket: Socket): void {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0));
        pending = pending.subarray(message.length);
        // Replies go out in request order, as a server's do on one connection.
        queue = queue
          .then(() => answer(message))
          .then((reply) => {
            if (reply && !socket.destroyed) socket.write(reply);
          })
          .catch(() => {
            socket.destroy();
          });
      }
    });
  }

  const server: Server = createServer(serve);
  const listen = (port: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
  const down = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  const port = await listen(options.port ?? 0);

  return {
    port,
    received,
    queries: () => received.filter((command) => QUERY_COMMANDS.has(command.name)),
    uri: (database = 'billing') => {
      const credentials = options.credentials;
      const auth = credentials
        ? `${encodeURIComponent(credentials.username)}:${encodeURIComponent(credentials.password)}@`
        : '';
      const authOptions = credentials ? '&authMechanism=PLAIN&authSource=%24external' : '';
      return `mongodb://${auth}127.0.0.1:${port}/${database}?directConnection=true${authOptions}`;
    },
    down,
    up: async () => {
      if (!server.listening) await listen(port);
    },
    close: down,
  };
}
