import { clone, type DescMessage } from '@bufbuild/protobuf';
import { CapacityError } from './errors.js';
import type { Consumer } from './component.js';
import type { Signal, SignalData } from '../model/otlp.js';
import { REQUEST_SCHEMA } from '../wire/otlp/codec.js';

/**
 * Sends each batch to several consumers. Every branch is asked first, so a refusal refuses the
 * whole batch and the sender's retry never duplicates data in the branches that took it. All
 * branches but the last get a copy, since processors may change what they receive.
 */
export class FanoutConsumer<S extends Signal> implements Consumer<S> {
  constructor(
    private readonly signal: S,
    private readonly branches: readonly Consumer<S>[],
  ) {}

  canAccept(): boolean {
    return this.branches.every((b) => b.canAccept());
  }

  async consume(data: SignalData[S]): Promise<void> {
    if (!this.canAccept()) throw new CapacityError('fanout', 'a downstream consumer is full');
    const last = this.branches.length - 1;
    await Promise.all(
      this.branches.map((b, i) =>
        b.consume(i === last ? data : (clone(REQUEST_SCHEMA[this.signal] as DescMessage, data as never) as SignalData[S])),
      ),
    );
  }
}

export function fanout<S extends Signal>(signal: S, consumers: Consumer<S>[]): Consumer<S> {
  return consumers.length === 1 ? consumers[0]! : new FanoutConsumer(signal, consumers);
}
