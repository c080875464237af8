// The official WuKongIM JS SDK (wukongimjssdk@1.0.4) chatting through imserver.
//
// Starts the server binary ($IMSERVER) on free ports in a fresh data directory, then runs
// each scenario with simulated users, one Node process per user (user.mjs: the SDK is a
// singleton per process), and the server's HTTP API for what an app does over HTTP
// (tokens, groups, history). Prints one line per scenario and a final PASSED/FAILED line;
// exits 0 only if every scenario passed.
//
//   IMSERVER=/path/to/imserver node --import ./register-hook.mjs harness.mjs [scenario...]
//
// Environment: IMSERVER (default $CARGO_TARGET_DIR/debug/imserver), JSSDK_SCENARIO_TIMEOUT_MS
// (default 60000), JSSDK_VERBOSE=1 (stream the SDK's and the server's logs).
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.env.JSSDK_VERBOSE === '1';
const SCENARIO_MS = Number(process.env.JSSDK_SCENARIO_TIMEOUT_MS || 60_000);
/** How long one step (a connect, an ack, a delivery) may take. */
const STEP_MS = 15_000;
/** After the expected messages arrived: how long to watch for copies that should not come. */
const QUIET_MS = 1_000;
/** The SDK reconnects 3 s after a close; watch a bit longer to see that it does not. */
const NO_RECONNECT_MS = 4_500;
const SERVER_START_MS = 30_000;
const SERVER_STOP_MS = 15_000;
const LOG_TAIL = 60;

function imserverPath() {
  if (process.env.IMSERVER) return process.env.IMSERVER;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/imserver-target');
  return path.join(target, 'debug/imserver');
}

class Failure extends Error {}
const fail = (message) => {
  throw new Failure(message);
};
const check = (condition, message) => {
  if (!condition) fail(typeof message === 'function' ? message() : message);
};
const show = (value) => JSON.stringify(value);

/** Keeps the last lines of a stream (and echoes them when verbose). */
class LogTail {
  constructor(tag) {
    this.tag = tag;
    this.lines = [];
    this.partial = '';
  }
  feed(chunk) {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop();
    for (const line of parts) this.push(line);
  }
  push(line) {
    if (VERBOSE) process.stderr.write(`  | ${this.tag}: ${line}\n`);
    this.lines.push(line);
    if (this.lines.length > LOG_TAIL) this.lines.shift();
  }
  text() {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].map((l) => `      ${l}`).join('\n');
  }
}

/** Every process and directory we made, so that any exit path can clean them up. */
const children = new Set();
const tempDirs = new Set();
function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------
// The server

class Server {
  async start() {
    const bin = imserverPath();
    if (!fs.existsSync(bin)) fail(`no server binary at ${bin} (run cargo test --workspace first, or set IMSERVER)`);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imserver-jssdk-'));
    tempDirs.add(this.dir);
    // Our own WK_* only: the server refuses variables that name no configuration key.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WK_')));
    Object.assign(env, {
      WK_ROOTDIR: this.dir,
      WK_HTTPADDR: '127.0.0.1:0',
      WK_ADDR: 'tcp://127.0.0.1:0',
      WK_WSADDR: 'ws://127.0.0.1:0',
      WK_MANAGER_ADDR: '127.0.0.1:0',
      WK_LOGGER_LEVEL: process.env.JSSDK_SERVER_LOG || 'warn',
    });
    this.log = new LogTail('imserver');
    this.child = spawn(bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
      this.child.on('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.child.stderr.on('data', (chunk) => this.log.feed(chunk));

    const line = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Failure(`the server printed no "imserver: HTTP API on ..." line within ${SERVER_START_MS} ms`)),
        SERVER_START_MS,
      );
      this.child.stdout.on('data', (chunk) => {
        out += chunk.toString('utf8');
        let newline;
        while ((newline = out.indexOf('\n')) >= 0) {
          const l = out.slice(0, newline);
          out = out.slice(newline + 1);
          this.log.push(`stdout: ${l}`);
          if (l.startsWith('imserver:')) {
            clearTimeout(timer);
            resolve(l);
          }
        }
      });
      this.exited.then(({ code, signal, error }) => {
        clearTimeout(timer);
        reject(new Failure(`the server exited before it listened (${error ? error.message : `code ${code}, signal ${signal}`})`));
      });
    });
    // "imserver: HTTP API on http://127.0.0.1:P, TCP on 127.0.0.1:P, WebSocket on ws://127.0.0.1:P,
    //  metrics on http://127.0.0.1:P/metrics, data in DIR" (fields may be added or reordered)
    const http = /HTTP API on (https?:\/\/[^\s,]+)/.exec(line);
    const ws = /WebSocket on (wss?:\/\/[^\s,]+)/.exec(line);
    check(http, `cannot find "HTTP API on http://..." in the server's line: ${line}`);
    this.http = http[1].replace(/\/$/, '');
    // JSSDK_WS_ADDR: point the SDK elsewhere (only for debugging the harness itself).
    this.ws = process.env.JSSDK_WS_ADDR || (ws ? ws[1] : null);
    this.line = line;
    return this;
  }

  alive() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it does not stop in time. Returns how it ended. */
  async stop() {
    if (!this.child) return null;
    let how;
    if (this.alive()) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), SERVER_STOP_MS);
      how = await this.exited;
      clearTimeout(timer);
    } else {
      how = { ...(await this.exited), before: true };
    }
    children.delete(this.child);
    if (this.dir) {
      fs.rmSync(this.dir, { recursive: true, force: true });
      tempDirs.delete(this.dir);
    }
    return how;
  }

  /** POST a JSON body to the HTTP API; the parsed answer, or a failure naming the route. */
  async post(route, body) {
    let response;
    try {
      response = await fetch(this.http + route, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(STEP_MS),
      });
    } catch (error) {
      fail(`POST ${route} ${show(body)}: ${error.cause?.message || error.message}`);
    }
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      fail(`POST ${route} ${show(body)}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
    }
    // WuKongIM answers some failures with HTTP 200 and {"status": <not 200>}.
    const status = json && !Array.isArray(json) && typeof json.status === 'number' ? json.status : 200;
    if (!response.ok || status !== 200) {
      fail(`POST ${route} ${show(body)}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    }
    return json;
  }

  async get(route) {
    const response = await fetch(this.http + route, { signal: AbortSignal.timeout(STEP_MS) });
    const text = await response.text();
    check(response.ok, `GET ${route}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }

  /** What a login needs: the user's token, as an app server sets it. */
  setToken(uid, token) {
    return this.post('/user/token', { uid, token, device_flag: 1, device_level: 1 });
  }
}

// ---------------------------------------------------------------------------------------
// A simulated user: a user.mjs process and the events it reported

const hook = pathToFileURL(path.join(here, 'register-hook.mjs')).href;

class User {
  constructor(uid, token, addr) {
    this.uid = uid;
    this.token = token;
    this.addr = addr;
    this.events = [];
    this.waiters = [];
    this.nextId = 1;
    this.log = new LogTail(uid);
  }

  async start() {
    this.child = fork(path.join(here, 'user.mjs'), [], {
      execArgv: ['--import', hook],
      env: { ...process.env, JSSDK_UID: this.uid, JSSDK_TOKEN: this.token, JSSDK_ADDR: this.addr },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    children.add(this.child);
    this.child.stdout.on('data', (chunk) => this.log.feed(chunk));
    this.child.stderr.on('data', (chunk) => this.log.feed(chunk));
    this.child.on('message', (event) => this.record(event));
    this.child.on('exit', (code, signal) => {
      this.gone = `exited (code ${code}, signal ${signal})`;
      this.record({ event: 'exit', code, signal });
      for (const waiter of this.waiters.splice(0)) {
        waiter.reject(new Failure(`${this.uid}: the SDK process ${this.gone} while waiting for ${waiter.what}`));
      }
    });
    await this.waitFor('the SDK to load', (e) => e.event === 'ready');
    return this;
  }

  record(event) {
    event.at = Date.now();
    this.events.push(event);
    if (VERBOSE && event.event !== 'packet') this.log.push(`event ${show(event)}`);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(event)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  }

  /** The first event (already seen or still to come) that `match` accepts, within `ms`. */
  waitFor(what, match, ms = STEP_MS) {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.gone) return Promise.reject(new Failure(`${this.uid}: the SDK process ${this.gone}; it cannot show ${what}`));
    return new Promise((resolve, reject) => {
      const waiter = { what, match };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Failure(`${this.uid}: no ${what} within ${ms} ms; ${this.summary()}`));
      }, ms);
      waiter.resolve = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends a command and waits for its reply. */
  async request(cmd, fields = {}) {
    const id = this.nextId++;
    this.child.send({ cmd, id, ...fields });
    const reply = await this.waitFor(`the reply to ${cmd}`, (e) => e.event === 'reply' && e.id === id);
    if (reply.error) fail(`${this.uid}: ${cmd} failed in the SDK: ${reply.error}`);
    return reply;
  }

  /** Connects and waits for the SDK's verdict (its first connect status). */
  async connect() {
    const from = this.events.length;
    await this.request('connect');
    const status = await this.waitFor('connect status (CONNACK)', (e) => e.event === 'status' && this.events.indexOf(e) >= from);
    return status;
  }

  async connected() {
    const status = await this.connect();
    check(
      status.status === 'Connected' && status.reasonCode === 1,
      () => `${this.uid}: expected the SDK to report Connected with reasonCode 1, got ${status.status} with reasonCode ${status.reasonCode}` +
        (status.status === 'Disconnect' ? ' (the WebSocket closed or failed before a CONNACK)' : ''),
    );
    return this;
  }

  /** Sends a MessageText; returns {clientSeq, clientMsgNo, payload} (payload as the SDK sent it). */
  async sendText(channelID, channelType, text) {
    const reply = await this.request('send', { channelID, channelType, text });
    const sent = await this.waitFor(
      `the SEND packet of clientSeq ${reply.clientSeq}`,
      (e) => e.event === 'send' && e.clientSeq === reply.clientSeq,
    );
    return { clientSeq: reply.clientSeq, clientMsgNo: reply.clientMsgNo, payload: sent.payload, text };
  }

  /** Waits for the SENDACK of a sent message and checks it accepted the message. */
  async acked(sent) {
    const ack = await this.waitFor(`SENDACK for clientSeq ${sent.clientSeq}`, (e) => e.event === 'sendack' && e.clientSeq === sent.clientSeq);
    check(ack.reasonCode === 1, `${this.uid}: SENDACK for clientSeq ${sent.clientSeq} has reasonCode ${ack.reasonCode}, expected 1 (success): ${show(ack)}`);
    check(Number(ack.messageSeq) > 0, `${this.uid}: SENDACK for clientSeq ${sent.clientSeq} has messageSeq ${ack.messageSeq}, expected > 0: ${show(ack)}`);
    check(ack.messageID && ack.messageID !== '0', `${this.uid}: SENDACK for clientSeq ${sent.clientSeq} has messageID ${ack.messageID}, expected non-zero`);
    return ack;
  }

  /** Waits for the RECV of a message with this text. */
  received(text, from) {
    return this.waitFor(`RECV of ${show(text)} from ${from}`, (e) => e.event === 'message' && e.origin === 'recv' && e.text === text);
  }

  recvs() {
    return this.events.filter((e) => e.event === 'message' && e.origin === 'recv');
  }

  /** Problems every scenario checks at its end: crashes in the SDK, RECVs it dropped. */
  health() {
    const errors = this.events.filter((e) => e.event === 'error');
    check(errors.length === 0, () => `${this.uid}: the SDK threw: ${errors.map((e) => `${e.where}: ${e.error}`).join('\n')}`);
    const recvPackets = this.events.filter((e) => e.event === 'packet' && e.type === 'RECV').length;
    const recvMessages = this.recvs().length;
    check(
      recvPackets === recvMessages,
      `${this.uid}: ${recvPackets} RECV packets arrived but the SDK accepted ${recvMessages} (it drops a RECV whose msgKey does not verify)`,
    );
  }

  summary() {
    const kept = this.events.filter((e) => e.event !== 'packet' && e.event !== 'reply');
    const packets = this.events.filter((e) => e.event === 'packet').map((e) => e.type);
    const recvPackets = packets.filter((t) => t === 'RECV').length;
    const dropped = recvPackets > this.recvs().length
      ? ` (${recvPackets} RECV packets arrived but the SDK accepted ${this.recvs().length}: it drops a RECV whose msgKey does not verify)`
      : '';
    return `packets decoded: [${packets.join(', ')}]${dropped}; events so far: ${kept.map((e) => show({ ...e, at: undefined })).join(', ') || 'none'}`;
  }

  async stop() {
    if (!this.child) return;
    if (!this.gone) {
      try {
        this.child.send({ cmd: 'exit', id: 0 });
      } catch {
        // channel closed
      }
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
      await new Promise((resolve) => (this.gone ? resolve() : this.child.once('exit', resolve)));
      clearTimeout(timer);
    }
    children.delete(this.child);
  }
}

// ---------------------------------------------------------------------------------------
// Scenarios

const quiet = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS));
const decode = (base64) => Buffer.from(base64, 'base64').toString('utf8');

/** The SDK's message for `text` in `user`'s RECVs must be there exactly once, as `expected` says. */
function checkInbound(user, text, expected) {
  const copies = user.recvs().filter((m) => m.text === text);
  check(copies.length === 1, `${user.uid}: expected exactly one RECV of ${show(text)}, got ${copies.length}`);
  const m = copies[0];
  for (const [key, value] of Object.entries(expected)) {
    check(String(m[key]) === String(value), `${user.uid}: the RECV of ${show(text)} has ${key} = ${show(m[key])}, expected ${show(value)}: ${show(m)}`);
  }
  return m;
}

function checkNoOwnEcho(user) {
  const own = user.recvs().filter((m) => m.fromUID === user.uid);
  check(own.length === 0, `${user.uid}: received its own message(s) back as RECV: ${show(own)}`);
}

/** `/channel/messagesync` as `uid` gives the message `sent` (with `ack`) from `peer`. */
async function checkHistory(server, uid, peer, sent, ack) {
  const request = { login_uid: uid, channel_id: peer, channel_type: 1, start_message_seq: 0, end_message_seq: 0, pull_mode: 1, limit: 100 };
  const what = `/channel/messagesync ${show(request)}`;
  const history = await server.post('/channel/messagesync', request);
  check(Array.isArray(history?.messages), `${what}: no messages array: ${show(history)}`);
  const found = history.messages.filter((m) => m.client_msg_no === sent.clientMsgNo);
  check(found.length === 1, `${what}: expected the message with client_msg_no ${sent.clientMsgNo} once, got ${found.length}: ${show(history)}`);
  const m = found[0];
  check(m.from_uid === peer, `${what}: from_uid ${show(m.from_uid)}, expected ${show(peer)}`);
  check(Number(m.message_seq) === Number(ack.messageSeq), `${what}: message_seq ${m.message_seq}, the SENDACK said ${ack.messageSeq}`);
  check(String(m.message_idstr ?? m.message_id) === ack.messageID, `${what}: message id ${m.message_idstr ?? m.message_id}, the SENDACK said ${ack.messageID}`);
  check(decode(m.payload) === sent.payload, `${what}: the payload decodes to ${show(decode(m.payload))}, the SDK sent ${show(sent.payload)}`);
  check(JSON.parse(sent.payload).content === sent.text, `the SDK's payload ${sent.payload} does not hold the text ${show(sent.text)}`);
}

/** `/conversation/sync` for `uid` has the conversation with `peer`, unread, with the message; returns unread. */
async function checkConversation(server, uid, peer, sent, ack) {
  const what = `/conversation/sync {"uid":"${uid}","msg_count":20}`;
  const conversations = await server.post('/conversation/sync', { uid, msg_count: 20 });
  check(Array.isArray(conversations), `${what}: expected an array, got ${show(conversations)}`);
  const conversation = conversations.find((c) => c.channel_id === peer && Number(c.channel_type) === 1);
  check(conversation, `${what}: no conversation with ${peer}/1: ${show(conversations)}`);
  check(Number(conversation.unread) >= 1, `${what}: the conversation with ${peer} has unread ${conversation.unread}, expected at least 1: ${show(conversation)}`);
  check(Number(conversation.last_msg_seq) >= Number(ack.messageSeq), `${what}: last_msg_seq ${conversation.last_msg_seq} is before the message's seq ${ack.messageSeq}`);
  const recent = (conversation.recents || []).find((r) => r.client_msg_no === sent.clientMsgNo);
  check(recent, `${what}: the message is not among the conversation's recents: ${show(conversation)}`);
  check(decode(recent.payload) === sent.payload, `${what}: the recent's payload decodes to ${show(decode(recent.payload))}, the SDK sent ${show(sent.payload)}`);
  return Number(conversation.unread);
}

const scenarios = [
  {
    name: 'person-chat',
    title: 'u1 and u2 chat both ways (person channel, encrypted WebSocket)',
    async run({ server, user }) {
      await server.setToken('u1', 'token-u1');
      await server.setToken('u2', 'token-u2');
      const u1 = await user('u1', 'token-u1');
      const u2 = await user('u2', 'token-u2');
      await Promise.all([u1.connected(), u2.connected()]);

      const exchange = async (from, to, text) => {
        const sent = await from.sendText(to.uid, 1, text);
        const [ack, recv] = await Promise.all([from.acked(sent), to.received(text, from.uid)]);
        checkInbound(to, text, { fromUID: from.uid, channelID: from.uid, channelType: 1, contentType: 1, clientMsgNo: sent.clientMsgNo });
        check(recv.messageID === ack.messageID, `${to.uid}: the RECV's messageID ${recv.messageID} differs from the sender's SENDACK messageID ${ack.messageID}`);
        check(Number(recv.messageSeq) === Number(ack.messageSeq), `${to.uid}: the RECV's messageSeq ${recv.messageSeq} differs from the SENDACK's ${ack.messageSeq}`);
        const local = from.events.filter((e) => e.event === 'message' && e.origin === 'local' && e.clientSeq === sent.clientSeq);
        check(local.length === 1, `${from.uid}: expected the SDK's one local copy of the outgoing message, got ${local.length}`);
        return ack;
      };
      const a1 = await exchange(u1, u2, 'hello u2, from u1 — 你好 👋');
      const a2 = await exchange(u2, u1, 'hi u1, u2 here — 收到');
      check(Number(a2.messageSeq) > Number(a1.messageSeq), `the reply's messageSeq ${a2.messageSeq} is not after the first message's ${a1.messageSeq} (one person channel)`);

      await quiet();
      for (const u of [u1, u2]) {
        checkNoOwnEcho(u);
        check(u.recvs().length === 1, `${u.uid}: expected exactly 1 RECV, got ${u.recvs().length}: ${show(u.recvs())}`);
        u.health();
      }
      return `seqs ${a1.messageSeq}, ${a2.messageSeq}`;
    },
  },
  {
    name: 'group-chat',
    title: 'a three-member group: each member gets the other two messages once',
    async run({ server, user }) {
      const uids = ['g1u1', 'g1u2', 'g1u3'];
      for (const uid of uids) await server.setToken(uid, `token-${uid}`);
      await server.post('/channel', { channel_id: 'group1', channel_type: 2, subscribers: uids });
      const users = await Promise.all(uids.map((uid) => user(uid, `token-${uid}`)));
      await Promise.all(users.map((u) => u.connected()));

      const texts = Object.fromEntries(uids.map((uid) => [uid, `${uid} says hi to group1 — 大家好`]));
      const sent = await Promise.all(users.map((u) => u.sendText('group1', 2, texts[u.uid])));
      const acks = await Promise.all(users.map((u, i) => u.acked(sent[i])));
      const seqs = acks.map((a) => Number(a.messageSeq));
      check(new Set(seqs).size === 3, `the three SENDACKs should carry three different messageSeqs in group1, got ${seqs}`);
      const deliveries = await Promise.allSettled(
        users.flatMap((to) => users.filter((from) => from !== to).map((from) => to.received(texts[from.uid], from.uid))),
      );
      const missing = deliveries.filter((d) => d.status === 'rejected').map((d) => d.reason.message);
      check(missing.length === 0, () => `${missing.length} of 6 deliveries did not arrive (SENDACK seqs: ${uids.map((uid, i) => `${uid} ${seqs[i]}`).join(', ')}):\n    ${missing.join('\n    ')}`);
      await quiet();
      for (const to of users) {
        for (const from of users.filter((f) => f !== to)) {
          const recv = checkInbound(to, texts[from.uid], {
            fromUID: from.uid, channelID: 'group1', channelType: 2, contentType: 1, clientMsgNo: sent[users.indexOf(from)].clientMsgNo,
          });
          const ack = acks[users.indexOf(from)];
          check(recv.messageID === ack.messageID, `${to.uid}: RECV of ${from.uid}'s message has messageID ${recv.messageID}, the SENDACK said ${ack.messageID}`);
        }
        checkNoOwnEcho(to);
        check(to.recvs().length === 2, `${to.uid}: expected exactly 2 RECVs, got ${to.recvs().length}: ${show(to.recvs())}`);
        to.health();
      }
      return `seqs ${seqs.sort((a, b) => a - b).join(', ')}`;
    },
  },
  {
    name: 'group-burst',
    title: 'three members each send 5 messages at once to a new group: each sender\'s order kept, all delivered once, in seq order',
    async run({ server, user }) {
      const uids = ['g2u1', 'g2u2', 'g2u3'];
      const perUser = 5;
      for (const uid of uids) await server.setToken(uid, `token-${uid}`);
      await server.post('/channel', { channel_id: 'group2', channel_type: 2, subscribers: uids });
      const users = await Promise.all(uids.map((uid) => user(uid, `token-${uid}`)));
      await Promise.all(users.map((u) => u.connected()));

      // Each SDK writes its five SENDs back to back on its socket.
      const textOf = (uid, i) => `${uid} #${i} — 第${i}条`;
      const sent = await Promise.all(
        users.map((u) => Promise.all(Array.from({ length: perUser }, (_, i) => u.sendText('group2', 2, textOf(u.uid, i + 1))))),
      );
      const acks = await Promise.all(users.map((u, k) => Promise.all(sent[k].map((m) => u.acked(m)))));
      const seqs = acks.flat().map((a) => Number(a.messageSeq)).sort((a, b) => a - b);
      check(show(seqs) === show(Array.from({ length: seqs.length }, (_, i) => i + 1)), `the SENDACKs of a new group's ${seqs.length} messages should carry seqs 1..${seqs.length}, got ${seqs}`);
      const seqOf = new Map(users.flatMap((u, k) => sent[k].map((m, i) => [m.text, Number(acks[k][i].messageSeq)])));

      // Every problem is collected, so that one run shows them all.
      const problems = [];
      users.forEach((u, k) => {
        const order = acks[k].map((a) => Number(a.messageSeq));
        if (!order.every((q, i) => i === 0 || q > order[i - 1])) {
          problems.push(`${u.uid} sent #1..#${perUser} in this order on one socket, but the channel stored them at seqs ${order.join(', ')} (a sender's messages should keep its order)`);
        }
      });
      const deliveries = await Promise.allSettled(
        users.flatMap((to) => users.filter((from) => from !== to).flatMap((from) =>
          Array.from({ length: perUser }, (_, i) => to.received(textOf(from.uid, i + 1), from.uid)))),
      );
      for (const d of deliveries) {
        if (d.status === 'rejected') {
          const text = /no RECV of (".*?") from/.exec(d.reason.message)?.[1];
          const seq = text ? ` (seq ${seqOf.get(JSON.parse(text))})` : '';
          problems.push(d.reason.message.replace(/; events so far: .*/, '').replace(/; packets decoded: .*/, '') + seq);
        }
      }
      await quiet();
      for (const to of users) {
        const own = to.recvs().filter((m) => m.fromUID === to.uid);
        if (own.length) problems.push(`${to.uid}: received its own message(s) back: ${show(own.map((m) => m.text))}`);
        const got = to.recvs();
        const texts = got.map((m) => m.text);
        const copies = texts.filter((t, i) => texts.indexOf(t) !== i);
        if (copies.length) problems.push(`${to.uid}: got these more than once: ${show(copies)}`);
        for (const m of got) {
          if (Number(m.messageSeq) !== seqOf.get(m.text)) problems.push(`${to.uid}: the RECV of ${show(m.text)} has messageSeq ${m.messageSeq}, its SENDACK said ${seqOf.get(m.text)}`);
        }
        const order = got.map((m) => Number(m.messageSeq));
        if (!order.every((q, i) => i === 0 || q > order[i - 1])) problems.push(`${to.uid}: RECVs arrived out of seq order: ${order.join(', ')}`);
        try {
          to.health();
        } catch (error) {
          problems.push(error.message);
        }
      }
      check(problems.length === 0, () => `${problems.length} problem(s):\n    ${problems.join('\n    ')}`);
      return `${seqs.length} messages`;
    },
  },
  {
    name: 'bad-token',
    title: 'a wrong token (and a user with none) is refused: ConnectFail, no reconnect',
    async run({ server, user }) {
      await server.setToken('bt1', 'the-right-token');
      const wrong = await user('bt1', 'a-wrong-token');
      const none = await user('bt2', 'any-token'); // /user/token was never called for bt2
      const verdicts = await Promise.all([wrong.connect(), none.connect()]);
      for (const [u, status] of [[wrong, verdicts[0]], [none, verdicts[1]]]) {
        check(
          status.status === 'ConnectFail',
          `${u.uid}: expected ConnectFail (a CONNACK refusing the token), got ${status.status} with reasonCode ${status.reasonCode}` +
            (status.status === 'Connected' ? ' (the server accepted a wrong token)' : ''),
        );
        check(status.reasonCode !== 1 && status.reasonCode !== 0, `${u.uid}: ConnectFail with reasonCode ${status.reasonCode}; expected a failure code (2 = AuthFail)`);
      }
      // The SDK stops reconnecting after a refused CONNACK; if the server closed the socket
      // without one (or the SDK treated it as a drop), it would reconnect after 3 s.
      await new Promise((resolve) => setTimeout(resolve, NO_RECONNECT_MS));
      for (const u of [wrong, none]) {
        const sockets = u.events.filter((e) => e.event === 'socket').length;
        check(sockets === 1, `${u.uid}: the SDK opened ${sockets} WebSockets; after ConnectFail it must not reconnect`);
        // ConnectFail, then Disconnect (reasonCode 0) when the server closes the socket.
        const statuses = u.events.filter((e) => e.event === 'status').map((s) => [s.status, s.reasonCode]);
        check(
          statuses.slice(1).every(([status]) => status === 'Disconnect'),
          `${u.uid}: after ConnectFail the SDK reported ${show(statuses)}; expected nothing but a Disconnect`,
        );
        check(u.recvs().length === 0, `${u.uid}: a refused connection received messages`);
        u.health();
      }
      return `reasonCodes ${verdicts.map((v) => v.reasonCode).join(', ')}`;
    },
  },
  {
    name: 'offline-history',
    title: 'u1 writes to an offline u2 (and to one that disconnected); they connect and find it over HTTP, then chat live',
    async run({ server, user }) {
      for (const uid of ['h1', 'h2', 'h3']) await server.setToken(uid, `token-${uid}`);
      const h1 = await user('h1', 'token-h1');
      await h1.connected();
      // h2 has never connected; h3 connects, then disconnects (the SDK's disconnect()).
      const h3 = await user('h3', 'token-h3');
      await h3.connected();
      await h3.request('disconnect');

      const toH2 = await h1.sendText('h2', 1, 'while you were away — 离线消息');
      const toH3 = await h1.sendText('h3', 1, 'sent after you left — 你走后');
      const [ackH2, ackH3] = await Promise.all([h1.acked(toH2), h1.acked(toH3)]);

      const h2 = await user('h2', 'token-h2');
      await h2.connected();
      await h3.connected(); // the same SDK instance connects again: a new socket, new keys

      const unread = {};
      for (const [u, sent, ack] of [[h2, toH2, ackH2], [h3, toH3, ackH3]]) {
        await checkHistory(server, u.uid, 'h1', sent, ack);
        unread[u.uid] = await checkConversation(server, u.uid, 'h1', sent, ack);
      }

      // After its reconnect h3 still receives live messages (decrypted with the new session key).
      const live = 'and now live — 实时';
      const sentLive = await h1.sendText('h3', 1, live);
      const ackLive = await h1.acked(sentLive);
      const recv = await h3.received(live, 'h1');
      check(recv.messageID === ackLive.messageID, `h3: the RECV's messageID ${recv.messageID} differs from the SENDACK's ${ackLive.messageID}`);
      await quiet();
      checkInbound(h3, live, { fromUID: 'h1', channelID: 'h1', channelType: 1, contentType: 1, clientMsgNo: sentLive.clientMsgNo });
      for (const u of [h1, h2, h3]) {
        checkNoOwnEcho(u);
        u.health();
      }
      // Whether the server also pushes stored messages when a user connects is up to it
      // (WuKongIM does not; clients sync over HTTP). Reported, not required.
      const pushed = [[h2, toH2], [h3, toH3]].filter(([u, sent]) => u.recvs().some((r) => r.text === sent.text)).map(([u]) => u.uid);
      return `unread h2 ${unread.h2}, h3 ${unread.h3}; stored messages pushed on connect to: ${pushed.join(', ') || 'nobody'}`;
    },
  },
];

// ---------------------------------------------------------------------------------------
// Runner

async function runScenario(server, scenario) {
  const users = [];
  const context = {
    server,
    async user(uid, token) {
      check(server.ws, `the server's line names no WebSocket address ("WebSocket on ws://..."): ${server.line}`);
      const u = new User(uid, token, server.ws);
      users.push(u);
      return u.start();
    },
  };
  let timer;
  const started = Date.now();
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Failure(`timed out after ${SCENARIO_MS} ms`)), SCENARIO_MS);
    });
    const detail = await Promise.race([scenario.run(context), timeout]);
    if (!server.alive()) fail('the server exited during the scenario');
    return { ok: true, detail, ms: Date.now() - started };
  } catch (error) {
    let message = error instanceof Failure ? error.message : String(error?.stack || error);
    if (!server.alive()) message += `\n    (the server is no longer running: ${show(await server.exited)})`;
    const logs = users.map((u) => `    ${u.uid}'s SDK log (last lines):\n${u.log.text()}`).join('\n');
    return { ok: false, message, logs, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await Promise.all(users.map((u) => u.stop()));
  }
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
  if (unknown.length) {
    console.log(`jssdk: unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const chosen = wanted.length ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;
  const started = Date.now();
  const server = new Server();
  let failed = [];
  try {
    try {
      await server.start();
    } catch (error) {
      console.log(`jssdk: FAILED: cannot start the server: ${error.message}`);
      if (server.log) console.log(`    server log (last lines):\n${server.log.text()}`);
      return 1;
    }
    console.log(`jssdk: ${server.line}`);
    if (!server.ws) {
      console.log('jssdk: FAILED: the server\'s line names no WebSocket address ("WebSocket on ws://..."); is the gateway in this build?');
      return 1;
    }
    for (const scenario of chosen) {
      const result = await runScenario(server, scenario);
      const seconds = (result.ms / 1000).toFixed(1);
      if (result.ok) {
        console.log(`jssdk: ok     ${scenario.name}: ${scenario.title} (${result.detail}; ${seconds}s)`);
      } else {
        failed.push(scenario.name);
        console.log(`jssdk: FAILED ${scenario.name}: ${scenario.title} (${seconds}s)\n    ${result.message}`);
        console.log(result.logs);
        console.log(`    server log (last lines):\n${server.log.text()}`);
      }
      if (!server.alive()) {
        const rest = chosen.slice(chosen.indexOf(scenario) + 1).map((s) => s.name);
        if (rest.length) console.log(`jssdk: the server is gone; not running ${rest.join(', ')}`);
        failed.push(...rest);
        break;
      }
    }
  } finally {
    const how = await server.stop();
    if (how && !how.before && !(how.code === 0 && how.signal === null)) {
      console.log(`jssdk: FAILED: the server did not exit cleanly on SIGTERM (${show(how)})\n    server log (last lines):\n${server.log.text()}`);
      failed.push('server-stop');
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.length) {
    console.log(`jssdk: FAILED ${failed.join(', ')} (${chosen.length} scenarios, ${seconds}s)`);
    return 1;
  }
  console.log(`jssdk: PASSED ${chosen.map((s) => s.name).join(', ')} (${seconds}s)`);
  return 0;
}

// Whatever happens, stop what we started.
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.log(`jssdk: FAILED: interrupted by ${signal}`);
    killAll();
    process.exit(130);
  });
}
// A last-resort bound on the whole run (each scenario has its own).
const watchdog = setTimeout(() => {
  console.log('jssdk: FAILED: the whole run took too long');
  killAll();
  process.exit(1);
}, SCENARIO_MS * (scenarios.length + 1) + SERVER_START_MS + SERVER_STOP_MS);
watchdog.unref();

main().then(
  (code) => process.exit(code),
  (error) => {
    console.log(`jssdk: FAILED: ${error?.stack || error}`);
    killAll();
    process.exit(1);
  },
);
