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

const readers = setup.udp ? startReaders(setup.udp) : [];

function startReaders(udp: WorkerUdpSetup): UdpBatchReader[] {
  const allowList = exporterAllowList(udp.allowedExporters);
  const buffers = new DatagramBuffers(udp.slotSize, udp.slots);
  // The allow-list verdict of the last sender: rounds mostly come from one or a few exporters.
  let lastSender = '';
  let lastAllowed = true;
  const onRound = (round: ReceivedDatagrams): void => {
    const out = emptyDecoded();
    out.ownReceive = true;
    out.denied = 0;
    out.truncated = 0;
    // NetFlow/IPFIX ignore the receive time; sFlow takes it per datagram, a round is one instant
    const now = Date.now();
    for (let i = 0; i < round.count; i++) {
      if (round.truncated(i)) {
        out.truncated++;
        continue;
      }
      const sender = round.source(i);
      if (allowList) {
        if (sender !== lastSender) {
          lastSender = sender;
          lastAllowed = allowList.check(sender, sender.includes(':') ? 'ipv6' : 'ipv4');
        }
        if (!lastAllowed) {
          out.denied++;
          continue;
        }
      }
      decodeDatagram(out, session, sender, now, round.bytes(i));
    }
    reply(finishDecoded(out, rows));
  };
  return udp.fds.map(
    (fd) =>
      new UdpBatchReader(fd, buffers, onRound, (err) => {
        // the worker fails: the main thread logs it and restarts the worker, which reads again
        throw err;
      }),
  );
}

parentPort?.on('message', (message: DatagramBatch | StopReceiving | ReturnedRows) => {
  if ('stop' in message) {
    for (const r of readers) r.close();
    // after every batch already posted: the main thread knows nothing more will come from the sockets
    parentPort!.postMessage({ stopped: true });
    return;
  }
  if (rows && message.spareRows) for (const b of message.spareRows) rows.recycle(b);
  if (!('data' in message)) return;
  reply(decodeBatch(message, session, rows), message.data);
});
