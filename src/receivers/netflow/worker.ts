/**
 * A decoding worker: takes datagram batches from the receive loop, decodes them with its own
 * template state (each exporter is routed to one worker, so its templates live here), and sends
 * the records back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDecoderSession } from './session.js';
import { decodeBatch, type DatagramBatch, type WorkerSetup } from './batch.js';

const setup = workerData as WorkerSetup;
const session = createDecoderSession(setup.scheme, setup.keepAllFields);

parentPort?.on('message', (batch: DatagramBatch) => {
  parentPort!.postMessage(decodeBatch(batch, session));
});
