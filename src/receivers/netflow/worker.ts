/**
 * A decoding worker: takes datagram batches from the receive loop, decodes them with its own
 * template state (each exporter is routed to one worker, so its templates live here), and sends
 * the records back: packed into one transferred buffer, or as objects when logs need them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDecoderSession } from './session.js';
import { decodeBatch, packDecoded, type DatagramBatch, type WorkerSetup } from './batch.js';
import { RowWriter } from '../../evidence/memory/rows.js';

const setup = workerData as WorkerSetup;
// NetFlow/IPFIX on the evidence path decode straight into store rows (no FlowRecord objects);
// sFlow records are packed from objects.
const rows = setup.packed && setup.scheme === 'netflow' && !setup.keepAllFields ? new RowWriter() : undefined;
const session = createDecoderSession(setup.scheme, setup.keepAllFields, rows);

parentPort?.on('message', (batch: DatagramBatch) => {
  if (rows && batch.spareRows) for (const b of batch.spareRows) rows.recycle(b);
  const decoded = decodeBatch(batch, session, rows);
  // the datagram buffer goes back to the receive loop for its next batch
  if (rows) {
    decoded.spentData = batch.data;
    parentPort!.postMessage(decoded, [decoded.packed!.data, batch.data]);
  } else if (setup.packed) {
    const packed = packDecoded(decoded);
    packed.spentData = batch.data;
    parentPort!.postMessage(packed, [packed.packed.data, batch.data]);
  } else {
    decoded.spentData = batch.data;
    parentPort!.postMessage(decoded, [batch.data]);
  }
});
