// One simulated user: a wukongimjssdk@1.0.4 client in its own Node process.
//
// The SDK is a singleton per module instance (WKSDK.shared(), ConnectManager.shared(), the
// SecurityManager holding the session's AES key, ...), so each user needs its own process.
// harness.mjs forks this file with an IPC channel: it sends commands ({cmd, id, ...}) and
// receives events ({event, ...}). The SDK's own console chatter goes to stderr, which the
// harness keeps and shows when a scenario fails.
//
// Run as: node --import ./register-hook.mjs user.mjs   (forked, with JSSDK_UID, JSSDK_TOKEN,
// JSSDK_ADDR in the environment)
import { WebSocket } from 'ws';

if (!process.send) {
  console.error('user.mjs: run me through harness.mjs (I need an IPC channel)');
  process.exit(2);
}

const post = (event) => {
  try {
    process.send(event);
  } catch {
    // the harness is gone; 'disconnect' below ends us
  }
};

// Everything the SDK prints goes to stderr, tagged with our uid.
const uid = process.env.JSSDK_UID;
const token = process.env.JSSDK_TOKEN;
const addr = process.env.JSSDK_ADDR;
for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
  console[level] = (...args) => {
    const text = args
      .map((a) => (typeof a === 'string' ? a : (() => { try { return JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? v.toString() : v)); } catch { return String(a); } })()))
      .join(' ');
    process.stderr.write(`[${uid} sdk] ${text.length > 500 ? text.slice(0, 500) + '…' : text}\n`);
  };
}

process.on('uncaughtException', (error) => {
  post({ event: 'error', where: 'uncaughtException', error: String(error?.stack || error) });
});
process.on('unhandledRejection', (error) => {
  post({ event: 'error', where: 'unhandledRejection', error: String(error?.stack || error) });
});
// The harness went away (it ended, or it was killed): so do we.
process.on('disconnect', () => process.exit(0));

// Node 20 has no global WebSocket; the SDK does `new WebSocket(addr)`. Count the sockets it
// opens, so the harness can tell whether it reconnects.
let sockets = 0;
globalThis.WebSocket = class CountingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets += 1;
    post({ event: 'socket', n: sockets, url: String(args[0]) });
  }
};

const { WKSDK, Channel, MessageText, MessageStatus } = await import('wukongimjssdk/lib/sdk.js');
const { ConnectStatus } = await import('wukongimjssdk/lib/connect_manager.js');
const { PacketType } = await import('wukongimjssdk/lib/proto.js');

const text = (bytes) => Buffer.from(bytes ?? []).toString('utf8');
const str = (v) => (v === undefined || v === null ? v : v.toString());

const sdk = WKSDK.shared();
sdk.config.addr = addr;
sdk.config.uid = uid;
sdk.config.token = token;

sdk.connectManager.addConnectStatusListener((status, reasonCode) => {
  post({ event: 'status', status: ConnectStatus[status] ?? String(status), reasonCode });
});

sdk.chatManager.addMessageStatusListener((ack) => {
  post({
    event: 'sendack',
    clientSeq: ack.clientSeq,
    messageID: str(ack.messageID),
    messageSeq: ack.messageSeq,
    reasonCode: ack.reasonCode,
  });
});

// The SDK notifies message listeners in two cases: once for our own outgoing message
// right after send() (a local Message built from the SEND packet: status Wait, clientSeq
// set), and once per RECV it accepted (status Normal, no clientSeq, messageID/messageSeq
// from the server).
sdk.chatManager.addMessageListener((m) => {
  const local = m.clientSeq !== undefined && m.status === MessageStatus.Wait;
  post({
    event: 'message',
    origin: local ? 'local' : 'recv',
    fromUID: m.fromUID,
    channelID: m.channel?.channelID,
    channelType: m.channel?.channelType,
    contentType: m.contentType,
    text: m.content?.text,
    messageID: str(m.messageID),
    messageSeq: m.messageSeq,
    clientMsgNo: m.clientMsgNo,
    clientSeq: m.clientSeq,
    timestamp: m.timestamp,
  });
});

// Every packet the SDK decoded, before its own checks (a RECV whose msgKey is wrong is
// dropped silently by the SDK; seeing it here tells that apart from "never arrived").
const onPacket = sdk.chatManager.onPacket.bind(sdk.chatManager);
sdk.chatManager.onPacket = (packet) => {
  const type = PacketType[packet.packetType] ?? String(packet.packetType);
  post({ event: 'packet', type });
  return onPacket(packet);
};

// Every SEND as the SDK writes it, with its plaintext payload (encryption happens later, in
// the encoder, and does not change the packet).
const sendPacket = sdk.connectManager.sendPacket.bind(sdk.connectManager);
sdk.connectManager.sendPacket = (packet) => {
  if (packet.packetType === PacketType.SEND) {
    post({
      event: 'send',
      clientSeq: packet.clientSeq,
      clientMsgNo: packet.clientMsgNo,
      channelID: packet.channelID,
      channelType: packet.channelType,
      payload: text(packet.payload),
    });
  }
  return sendPacket(packet);
};

process.on('message', async (command) => {
  const reply = (fields) => post({ event: 'reply', id: command.id, ...fields });
  try {
    switch (command.cmd) {
      case 'connect':
        sdk.connect();
        reply({});
        break;
      case 'send': {
        const message = await sdk.chatManager.send(
          new MessageText(command.text),
          new Channel(command.channelID, command.channelType),
        );
        reply({ clientSeq: message.clientSeq, clientMsgNo: message.clientMsgNo });
        break;
      }
      case 'disconnect':
        sdk.disconnect();
        reply({});
        break;
      case 'exit':
        sdk.disconnect();
        reply({});
        setImmediate(() => process.exit(0)); // the SDK leaves timers running
        break;
      default:
        reply({ error: `unknown command ${JSON.stringify(command.cmd)}` });
    }
  } catch (error) {
    reply({ error: String(error?.stack || error) });
  }
});

post({ event: 'ready', uid });
