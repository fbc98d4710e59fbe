import { attributedClock } from '../collect/cpu-attributed.js'
import { offClock, windowClock, type CpuClock } from '../collect/cpu-clock.js'
import type { Collector } from '../collect/collector.js'
import { takeProcessRecord } from '../collect/process-collector.js'
import { createRouteNamer } from '../collect/route-namer.js'
import type { ResolvedOptions } from '../options.js'
import { defaultSink } from '../sinks/default.js'
import { warningHandler, type ErrorHandler } from '../util/warn.js'
import { createBatcher } from './batcher.js'
import { register } from './registry.js'
import { recordBuilder } from './to-record.js'

/**
 * One wrapper's pipeline, built once from its options: the CPU clock its collectors read, the namer and
 * record builder that run at flush, and the batcher that carries closed collectors to the sink (the given
 * one, else the process' default sink), registered so `metrics.flush()`/`close()` reach it.
 */
export interface Meter {
  /** The clock every collector of this wrapper reads CpuTime from. */
  readonly clock: CpuClock
  /** The wrapper's `onError`, or the default warning hook. */
  readonly onError: ErrorHandler
  /** Hands over a closed collector: an array push on the request path, everything else at flush. */
  record(c: Collector): void
}

/**
 * The one place where the pipeline is wired: adapters call this once per wrapper and `record` per request.
 *
 * @example
 * const meter = createMeter(resolveOptions({ sink: memorySink() }))
 * // when a response ends:
 * meter.record(collector)
 */
export function createMeter(options: ResolvedOptions): Meter {
  const clock = options.cpu === 'attributed' ? attributedClock() : options.cpu === 'window' ? windowClock : offClock
  const onError = options.onError ?? warningHandler('RM_SINK_FAILED', 'a sink failed; the batch was dropped and counted: ')
  let isPrimary: () => boolean = () => false
  const batcher = createBatcher({
    sink: options.sink ?? defaultSink(),
    toRecord: recordBuilder({ prefix: options.prefix, namer: createRouteNamer(options) }),
    flushInterval: options.flushInterval,
    batchSize: options.batchSize,
    maxBuffer: options.maxBuffer,
    onError,
    processRecords: { due: () => isPrimary(), take: takeProcessRecord },
  })
  isPrimary = register(batcher)
  // The batcher's own push (a closure, no `this`): no extra call on the request path.
  return { clock, onError, record: batcher.push }
}
