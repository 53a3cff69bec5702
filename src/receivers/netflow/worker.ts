/**
 * A decoding worker: takes datagram batches from the receive loop, decodes them with its own
 * template state (each exporter is routed to one worker, so its templates live here), and sends
 * the records back: packed into one transferred buffer, or as objects when logs need them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDecoderSession } from './session.js';
import { decodeBatch, packDecoded, type DatagramBatch, type WorkerSetup } from './batch.js';

const setup = workerData as WorkerSetup;
const session = createDecoderSession(setup.scheme, setup.keepAllFields);

parentPort?.on('message', (batch: DatagramBatch) => {
  const decoded = decodeBatch(batch, session);
  if (setup.packed) {
    const packed = packDecoded(decoded);
    parentPort!.postMessage(packed, [packed.packed.data]);
  } else parentPort!.postMessage(decoded);
});
