/**
 * A decoding worker: takes datagram batches from the receive loop, decodes them with its own
 * template state (each exporter is routed to one worker, so its templates live here), and sends
 * the records back: packed into one transferred buffer, or as objects when logs need them.
 * With native receive it also reads its share of the UDP sockets itself (recvmmsg, many
 * datagrams per call) and decodes each round in place, so the datagrams never cross threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDecoderSession } from './session.js';
import {
  decodeBatch,
  decodeDatagram,
  emptyDecoded,
  finishDecoded,
  packDecoded,
  type DatagramBatch,
  type DecodedBatch,
  type ReturnedRows,
  type StopReceiving,
  type WorkerSetup,
  type WorkerUdpSetup,
} from './batch.js';
import { RowWriter } from '../../evidence/memory/rows.js';
import { exporterAllowList } from './config.js';
import { DatagramBuffers, UdpBatchReader, type ReceivedDatagrams } from '../../native/udp.js';

const setup = workerData as WorkerSetup;
// NetFlow/IPFIX on the evidence path decode straight into store rows (no FlowRecord objects);
// sFlow records are packed from objects.
const rows = setup.packed && setup.scheme === 'netflow' && !setup.keepAllFields ? new RowWriter() : undefined;
const session = createDecoderSession(setup.scheme, setup.keepAllFields, rows);

/** Sends a decoded batch to the main thread, transferring its buffers (and `spentData`, the datagram buffer to reuse). */
function reply(decoded: DecodedBatch, spentData?: ArrayBuffer): void {
  const transfer: ArrayBuffer[] = spentData ? [spentData] : [];
  decoded.spentData = spentData;
  if (rows) {
    transfer.push(decoded.packed!.data);
    parentPort!.postMessage(decoded, transfer);
  } else if (setup.packed) {
    const packed = packDecoded(decoded);
    transfer.push(packed.packed.data);
    parentPort!.postMessage(packed, transfer);
  } else parentPort!.postMessage(decoded, transfer);
}

let stopReaders = (): void => undefined;
if (setup.udp) startReaders(setup.udp);

/**
 * A worker reading its own sockets gathers several receive rounds into one reply: a round is
 * often a handful of datagrams (the worker wakes at the first one), and each reply costs a
 * postMessage here and a message, a transferred buffer and garbage on the main thread.
 */
const REPLY_DATAGRAMS = 256;
/** ...or after this long, so that flows reach the store promptly at low rates. */
const REPLY_DELAY_MS = 5;

function startReaders(udp: WorkerUdpSetup): UdpBatchReader[] {
  const allowList = exporterAllowList(udp.allowedExporters);
  const buffers = new DatagramBuffers(udp.slotSize, udp.slots);
  const pending = new Int32Array(udp.pending);
  // The allow-list verdict of the last sender: rounds mostly come from one or a few exporters.
  let lastSender = '';
  let lastAllowed = true;
  let gathering: DecodedBatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!gathering) return;
    const out = gathering;
    gathering = undefined;
    // counted before the post: the main thread subtracts as it takes them
    Atomics.add(pending, 0, out.datagrams);
    reply(finishDecoded(out, rows));
  };
  const onRound = (round: ReceivedDatagrams): void => {
    const out = (gathering ??= { ...emptyDecoded(), ownReceive: true, denied: 0, truncated: 0, droppedQueueFull: 0 });
    // the main thread is behind by queue_size datagrams: drop this round (counted), as the receive loop would
    if (Atomics.load(pending, 0) + out.datagrams >= udp.queueSize) {
      out.droppedQueueFull! += round.count;
      timer ??= setTimeout(flush, REPLY_DELAY_MS);
      return;
    }
    // NetFlow/IPFIX ignore the receive time; sFlow takes it per datagram, a round is one instant
    const now = Date.now();
    for (let i = 0; i < round.count; i++) {
      if (round.truncated(i)) {
        out.truncated!++;
        continue;
      }
      const sender = round.source(i);
      if (allowList) {
        if (sender !== lastSender) {
          lastSender = sender;
          lastAllowed = allowList.check(sender, sender.includes(':') ? 'ipv6' : 'ipv4');
        }
        if (!lastAllowed) {
          out.denied!++;
          continue;
        }
      }
      decodeDatagram(out, session, sender, now, round.bytes(i));
    }
    if (out.datagrams + out.denied! + out.truncated! + out.droppedQueueFull! >= REPLY_DATAGRAMS) flush();
    else timer ??= setTimeout(flush, REPLY_DELAY_MS);
  };
  stopReaders = (): void => {
    for (const r of readers) r.close();
    flush();
  };
  const readers = udp.fds.map(
    (fd) =>
      new UdpBatchReader(fd, buffers, onRound, (err) => {
        // the worker fails: the main thread logs it and restarts the worker, which reads again
        throw err;
      }),
  );
  return readers;
}

parentPort?.on('message', (message: DatagramBatch | StopReceiving | ReturnedRows) => {
  if ('stop' in message) {
    stopReaders();
    // after every batch already posted: the main thread knows nothing more will come from the sockets
    parentPort!.postMessage({ stopped: true });
    return;
  }
  if (rows && message.spareRows) for (const b of message.spareRows) rows.recycle(b);
  if (!('data' in message)) return;
  reply(decodeBatch(message, session, rows), message.data);
});
